/**
 * A cluster as operators run it: real node processes on one PostgreSQL, real
 * Baileys against the simulator, 90 paired sessions. Each session is owned by
 * exactly one node; any node answers for any session; a node that dies, freezes
 * or stops hands its sessions over within the lease TTL (or at once, when it
 * stops cleanly); a node that joins receives its share a few at a time. The
 * simulator counts every login and every replacement (a login while another
 * login of the same account was live), and each case says how many it allows.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { WaSimulator } from '../../src/sim/wa-simulator.js';
import { PgOwnership } from '../../src/store/postgres/pg-ownership.js';
import { PostgresSessionStore } from '../../src/store/postgres/pg-session-store.js';
import { registeredCreds } from '../support/memory-auth.js';
import { testDatabase, type TestDatabase } from '../support/postgres.js';
import { removeDir } from '../support/service-harness.js';
import { spawnService, type ServiceProcess } from '../support/service-process.js';
import { waitUntil } from '../support/wait.js';

const sessionCount = 90;
const ttlMs = 3_000;
let sim: WaSimulator;
let db: TestDatabase;
let dir: string;
const nodes: ServiceProcess[] = [];

interface View {
  userId: string;
  sessionId: string;
  state: string;
  owner: string | null;
}

beforeAll(async () => {
  sim = await new WaSimulator().start();
  db = await testDatabase();
  dir = await mkdtemp(join(tmpdir(), 'wa-vigil-cluster-'));
  // Paired sessions, as `npm run migrate-sessions` would leave them.
  const seeder = new PgOwnership({ pool: db.pool, holder: 'seeder', ttlMs: 60_000 });
  const store = new PostgresSessionStore({ pool: db.pool, ownership: seeder });
  for (let i = 0; i < sessionCount; i++) {
    const key = { userId: `crm${i % 9}`, sessionId: `s${i}` };
    await store.create(key);
    const taken = await seeder.acquire(key);
    if (!taken.acquired) throw new Error('seeding: lease not acquired');
    const auth = await store.openAuthState(taken.lease);
    auth.state.creds.me = registeredCreds(`1555200${String(i).padStart(4, '0')}`, 1).me;
    await auth.saveCreds();
    await auth.flush();
    await store.writeMeta(taken.lease, { ...key, createdAt: new Date().toISOString(), shouldRun: true, terminatedReason: null });
    await seeder.release(taken.lease);
  }
}, 120_000);

afterAll(async () => {
  for (const node of nodes) {
    node.child.kill('SIGCONT');
    node.child.kill('SIGKILL');
  }
  await Promise.all(nodes.map((node) => node.exited));
  await sim.stop();
  await db.drop();
  await removeDir(dir);
}, 30_000);

function boot(): ServiceProcess {
  const node = spawnService({
    sessionsDir: dir,
    waUrl: sim.url,
    env: { DATABASE_URL: db.url, LEASE_TTL_MS: String(ttlMs), LEASE_RENEW_MS: '500', MAX_CONCURRENT_CONNECTS: '16' },
  });
  nodes.push(node);
  return node;
}

async function listing(node: ServiceProcess): Promise<View[]> {
  return (await node.call('/sessions')).body as unknown as View[];
}

/** Every session open, each owned by one of `holders`, as seen through `node`. */
async function settledOn(node: ServiceProcess, holders: string[]): Promise<boolean> {
  const views = await listing(node);
  return views.length === sessionCount && views.every((v) => v.state === 'open' && v.owner !== null && holders.includes(v.owner));
}

const live: { node: ServiceProcess; holder: string }[] = [];
const holdersOf = () => live.map((l) => l.holder);

it('three nodes booted together share 90 sessions: each owned once, logged in once, no replacement', async () => {
  const booted = [boot(), boot(), boot()];
  for (const node of booted) live.push({ node, holder: await node.holder });
  await waitUntil(() => settledOn(live[0]!.node, holdersOf()), 40_000);
  expect(sim.counters.logins).toBe(sessionCount);
  expect(sim.counters.replacements).toBe(0);
  expect(sim.counters.maxConcurrentLoginsPerDevice).toBe(1);
  const cluster = (await live[0]!.node.call('/cluster')).body as unknown as { nodes: { holder: string; sessions: number }[] };
  expect(cluster.nodes.map((n) => n.holder).sort()).toEqual(holdersOf().sort());
  for (const member of cluster.nodes) expect(member.sessions, member.holder).toBeGreaterThan(10);
  expect(cluster.nodes.reduce((sum, n) => sum + n.sessions, 0)).toBe(sessionCount);
}, 60_000);

it('any node answers for any session: an operation on another node’s session is carried out by its owner', async () => {
  const [asked, owning] = [live[0]!, live[1]!];
  const target = (await listing(asked.node)).find((v) => v.owner === owning.holder)!;
  const path = `/sessions/${target.userId}/${target.sessionId}`;
  const restarted = await asked.node.call(`${path}/restart`, 'POST');
  expect(restarted.status).toBe(202);
  expect(restarted.body.owner).toBe(owning.holder);
  await waitUntil(async () => (await asked.node.call(path)).body.state === 'open', 10_000);
  expect(sim.counters.replacements).toBe(0);
}, 30_000);

it('(a) SIGKILL a node: its sessions are open on the others within the TTL plus a reconnect, never logged in twice', async () => {
  const victim = live.shift()!;
  const replacementsBefore = sim.counters.replacements;
  const killedAt = Date.now();
  victim.node.child.kill('SIGKILL');
  await victim.node.exited;
  await waitUntil(() => settledOn(live[0]!.node, holdersOf()), 20_000);
  expect(Date.now() - killedAt).toBeLessThan(ttlMs + 8_000);
  expect(sim.counters.replacements).toBe(replacementsBefore);
  expect(sim.loggedIn()).toHaveLength(sessionCount);
}, 40_000);

it('(b) SIGSTOP a node past the TTL, then SIGCONT: it stops what it lost and never logs those sessions in again', async () => {
  const frozen = live.shift()!;
  const survivor = live[0]!;
  const owned = (await listing(survivor.node)).filter((v) => v.owner === frozen.holder).length;
  expect(owned).toBeGreaterThan(0);
  frozen.node.child.kill('SIGSTOP');
  await waitUntil(() => settledOn(survivor.node, [survivor.holder]), 20_000);
  // The frozen node's sockets were still connected: WhatsApp replaced each of them once.
  expect(sim.counters.replacements).toBe(owned);
  const loginsBefore = sim.counters.logins;

  frozen.node.child.kill('SIGCONT');
  await waitUntil(() => frozen.node.lines.some((line) => line.includes('Ownership not renewed in time')), 5_000);
  // It rejoins as a live node, so it may receive sessions again — with new leases, handed over cleanly.
  live.push(frozen);
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  expect(sim.counters.replacements).toBe(owned);
  const handedBack = sim.counters.logins - loginsBefore;
  const nowOwned = (await listing(survivor.node)).filter((v) => v.owner === frozen.holder && v.state === 'open').length;
  expect(handedBack).toBeLessThanOrEqual(nowOwned + 2);
}, 40_000);

it('(c) SIGTERM a node: it exits 0 and its sessions are open elsewhere within 2 s plus a reconnect, without a replacement', async () => {
  const leaving = live.shift()!;
  const staying = live[0]!;
  await waitUntil(async () => (await listing(staying.node)).some((v) => v.owner === leaving.holder), 15_000);
  const replacementsBefore = sim.counters.replacements;
  const stoppedAt = Date.now();
  leaving.node.child.kill('SIGTERM');
  expect(await leaving.node.exited).toBe(0);
  await waitUntil(() => settledOn(staying.node, [staying.holder]), 10_000);
  expect(Date.now() - stoppedAt).toBeLessThan(5_000);
  expect(sim.counters.replacements).toBe(replacementsBefore);
}, 40_000);

it('(d) a node that joins receives its share gradually, each session handed over cleanly', async () => {
  const joining = boot();
  const holder = await joining.holder;
  live.push({ node: joining, holder });
  const replacementsBefore = sim.counters.replacements;
  await waitUntil(async () => (await listing(live[0]!.node)).filter((v) => v.owner === holder && v.state === 'open').length >= 20, 30_000);
  await waitUntil(() => settledOn(joining, holdersOf()), 20_000);
  expect(sim.counters.replacements).toBe(replacementsBefore);
  expect(sim.loggedIn()).toHaveLength(sessionCount);
}, 60_000);
