/**
 * On PostgreSQL the queue is the cluster's: a message accepted by one node
 * while WhatsApp cannot be reached stays in the database when that node is
 * SIGKILLed, and the node that takes the session over sends it — once.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { routeConsoleToLogger } from '../../src/logging/console-guard.js';
import { WaSimulator } from '../../src/sim/wa-simulator.js';
import { seedPairedSessions } from '../../fixtures/pg-seed.js';
import { testDatabase, type TestDatabase } from '../support/postgres.js';
import { removeDir, tempSessionsDir, testApiKey } from '../support/service-harness.js';
import { spawnService, type ServiceProcess } from '../../fixtures/service-process.js';
import { waitUntil } from '../../fixtures/wait.js';

let sim: WaSimulator;
let db: TestDatabase;
let dir: string;
const nodes: ServiceProcess[] = [];
let restoreConsole: () => void;

beforeAll(async () => {
  restoreConsole = routeConsoleToLogger(pino({ level: 'silent' }));
  sim = await new WaSimulator().start();
  db = await testDatabase();
  dir = await tempSessionsDir();
  await seedPairedSessions(db.pool, 1, '1555600');
}, 120_000);
afterAll(async () => {
  for (const node of nodes) node.child.kill('SIGKILL');
  await Promise.all(nodes.map((node) => node.exited));
  await sim.stop();
  await db.drop();
  await removeDir(dir);
  restoreConsole();
});

function node(): ServiceProcess {
  const started = spawnService({ sessionsDir: dir, waUrl: sim.url, env: { DATABASE_URL: db.url, LEASE_TTL_MS: '3000', LEASE_RENEW_MS: '1000' } });
  nodes.push(started);
  return started;
}

async function ownerOf(from: ServiceProcess): Promise<string | null> {
  return ((await from.call('/sessions/crm0/s0')).body.owner as string | null) ?? null;
}

it('the owner SIGKILLed with a queued message: the next owner delivers it once', async () => {
  const contact = sim.addContact({ phone: '15551111111', receipts: 'delivered' });
  sim.rejectUpgrades = true;
  const a = node();
  const b = node();
  const [holderA, holderB] = await Promise.all([a.holder, b.holder]);
  await waitUntil(async () => [holderA, holderB].includes((await ownerOf(a)) ?? ''), 30_000);
  const owner = (await ownerOf(a)) === holderA ? a : b;
  const other = owner === a ? b : a;

  // Accepted through the node that does not own it: forwarded to the owner, stored in the shared queue.
  const res = await fetch(`${await other.url}/sessions/crm0/s0/messages`, {
    method: 'POST',
    headers: { 'x-api-key': testApiKey, 'content-type': 'application/json' },
    body: JSON.stringify({ to: '15551111111', text: 'survives the node' }),
  });
  expect(res.status).toBe(202);
  const { id } = (await res.json()) as { id: string };

  owner.child.kill('SIGKILL');
  await owner.exited;
  sim.rejectUpgrades = false;
  await waitUntil(async () => String((await other.call(`/sessions/crm0/s0/messages/${id}`)).body.status) === 'delivered', 45_000);
  expect(contact.inbox.map((m) => [m.id, m.text])).toEqual([[id, 'survives the node']]);
  expect(await ownerOf(other)).toBe(await other.holder);
}, 120_000);
