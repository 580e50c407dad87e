/**
 * The outbox survives a crash: the service (a real process, real Baileys
 * against the simulator) emits events while its webhook receiver is down, is
 * SIGKILLed, and the receiver comes up. The next start delivers every event
 * the dead process had stored, signed, in order.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { WaSimulator } from '../../src/sim/wa-simulator.js';
import { writeBaileysAuthFolder } from '../../fixtures/baileys-folder.js';
import { removeDir, tempSessionsDir } from '../support/service-harness.js';
import { spawnService, type ServiceProcess } from '../../fixtures/service-process.js';
import { waitUntil } from '../../fixtures/wait.js';
import { Receiver, verifiedByReadmeRecipe } from './support/receiver.js';
import { outboxEvents, webhookSecret } from './support/webhook-service.js';

let sim: WaSimulator;
let dir: string;
const receiver = new Receiver();
const running: ServiceProcess[] = [];

beforeAll(async () => {
  sim = await new WaSimulator().start();
  dir = await tempSessionsDir();
  for (const name of ['a', 'b']) await writeBaileysAuthFolder(dir, 'crash', name, `1555000770${name.charCodeAt(0) - 97}`, 2);
  await receiver.start();
  await receiver.down(); // its port, resetting every connection for now
});
afterAll(async () => {
  for (const p of running) p.child.kill('SIGKILL');
  await receiver.stop();
  await sim.stop();
  await removeDir(dir);
});

function boot(): ServiceProcess {
  const service = spawnService({
    sessionsDir: dir,
    waUrl: sim.url,
    env: { WEBHOOK_URL: `${receiver.url}/hook`, WEBHOOK_SECRET: webhookSecret, WEBHOOK_RETRY_FIRST_MS: '50', WEBHOOK_RETRY_MAX_MS: '200' },
  });
  running.push(service);
  return service;
}

it('SIGKILL with undelivered events in the outbox: the next start delivers every one, in order', async () => {
  const first = boot();
  await first.url;
  const restoredBoth = async () => (await outboxEvents(dir)).filter((e) => e.type === 'session.restored').length === 2;
  await waitUntil(restoredBoth, 15_000);
  const stored = (await outboxEvents(dir)).map((e) => e.id);
  expect(stored.length).toBeGreaterThanOrEqual(4);

  first.child.kill('SIGKILL');
  await first.exited;
  expect(receiver.received).toEqual([]);

  await receiver.start(receiver.port);
  const second = boot();
  await second.url;
  await waitUntil(() => stored.every((id) => receiver.unique().some((r) => r.event.id === id)), 15_000);
  const arrived = receiver.unique().map((r) => r.event.id).filter((id) => stored.includes(id));
  expect(arrived).toEqual(stored);
  for (const r of receiver.received) expect(verifiedByReadmeRecipe(webhookSecret, r)).toBe(true);
  // The dead process's events name it, not the one that delivered them.
  const firstHolder = await first.holder;
  expect(receiver.unique().filter((r) => stored.includes(r.event.id)).every((r) => r.event.node === firstHolder)).toBe(true);
});
