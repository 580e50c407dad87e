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
import { seedPairedSessions } from '../../fixtures/pg-seed.js';
import { testDatabase, type TestDatabase } from '../support/postgres.js';
import { removeDir, testApiKey } from '../support/service-harness.js';
import { spawnService, type ServiceProcess } from '../../fixtures/service-process.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { waitUntil } from '../../fixtures/wait.js';

const sessionCount = 90;
const ttlMs = 6_000;
let sim: WaSimulator;
let db: TestDatabase;
/** The nodes reach the database through this proxy, so a test can take the database away. */
let proxy: TcpProxy;
let nodeDatabaseUrl: string;
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
  const dbUrl = new URL(db.url);
  proxy = await startTcpProxy({ host: dbUrl.hostname, port: Number(dbUrl.port || 5432) });
  dbUrl.hostname = '127.0.0.1';
  dbUrl.port = String(proxy.port);
  nodeDatabaseUrl = dbUrl.toString();
  dir = await mkdtemp(join(tmpdir(), 'wa-vigil-cluster-'));
  await seedPairedSessions(db.pool, sessionCount, '1555200');
}, 120_000);

afterAll(async () => {
  for (const node of nodes) {
    node.child.kill('SIGCONT');
    node.child.kill('SIGKILL');
  }
  await Promise.all(nodes.map((node) => node.exited));
  await sim.stop();
  await proxy.close();
  await db.drop();
  await removeDir(dir);
}, 30_000);

function boot(): ServiceProcess {
  const node = spawnService({
    sessionsDir: dir,
    waUrl: sim.url,
    env: { DATABASE_URL: nodeDatabaseUrl, LEASE_TTL_MS: String(ttlMs), LEASE_RENEW_MS: '1000', MAX_CONCURRENT_CONNECTS: '16' },
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

it('three nodes booted together share 90 sessions: each owned once, never two logins at once', async () => {
  const booted = [boot(), boot(), boot()];
  for (const node of booted) live.push({ node, holder: await node.holder });
  await waitUntil(() => settledOn(live[0]!.node, holdersOf()), 40_000);
  // A node that announced itself a moment after the others receives its share by clean hand-overs: some extra
  // logins (how many depends on how far apart the nodes started), never a session passed round and round.
  expect(sim.counters.logins).toBeLessThan(sessionCount * 2);
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
  // The survivors say what happened, in their metrics.
  const metrics = await Promise.all(live.map(async (l) => (await fetch(`${await l.node.url}/metrics`, { headers: { 'x-api-key': testApiKey } })).text()));
  const takeovers = metrics.map((text) => Number(/^wa_vigil_takeovers_total (\d+)/m.exec(text)?.[1] ?? 0));
  expect(takeovers.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  expect(metrics.every((text) => /^wa_vigil_owned_sessions \d+/m.test(text))).toBe(true);
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
  // Its first acts on waking: stop every socket it cannot prove, or learn the leases are lost.
  await waitUntil(() => frozen.node.lines.some((line) => /Ownership not renewed in time|Session lease lost/.test(line)), 5_000);
  // It rejoins as a live node, so it may receive sessions again — with new leases, handed over cleanly.
  live.push(frozen);
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  expect(sim.counters.replacements).toBe(owned);
  const handedBack = sim.counters.logins - loginsBefore;
  const nowOwned = (await listing(survivor.node)).filter((v) => v.owner === frozen.holder && v.state === 'open').length;
  expect(handedBack).toBeLessThanOrEqual(nowOwned + 2);
}, 40_000);

it('(c) SIGTERM a node: it exits 0 having released every lease (nobody waits for a TTL), and its sessions open elsewhere without a replacement', async () => {
  const leaving = live.shift()!;
  const staying = live[0]!;
  await waitUntil(async () => (await listing(staying.node)).some((v) => v.owner === leaving.holder), 15_000);
  const replacementsBefore = sim.counters.replacements;
  leaving.node.child.kill('SIGTERM');
  expect(await leaving.node.exited).toBe(0);
  // Released, not left to expire: at its exit no lease names the node (how soon the others then log in is P6's figure).
  const stillNamed = await db.pool.query('SELECT count(*)::int AS n FROM wa_vigil_leases WHERE holder = $1', [leaving.holder]);
  expect(stillNamed.rows[0].n).toBe(0);
  await waitUntil(() => settledOn(staying.node, [staying.holder]), 20_000);
  expect(sim.counters.replacements).toBe(replacementsBefore);
}, 60_000);

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

it('(e) the database goes away for a while: nodes say so on /health, stop what they cannot prove, and every session comes back', async () => {
  const holders = holdersOf();
  const replacementsBefore = sim.counters.replacements;
  proxy.cut();
  await waitUntil(async () => (await live[0]!.node.call('/health')).status === 503, 10_000);
  expect((await live[0]!.node.call('/health')).body).toMatchObject({ error: 'unavailable' });
  // Past the TTL no node can prove a lease: every socket is stopped before anyone could take it over.
  await waitUntil(() => sim.loggedIn().length === 0, 10_000);
  proxy.restore();
  await waitUntil(async () => (await live[0]!.node.call('/health')).status === 200, 15_000);
  await waitUntil(() => settledOn(live[0]!.node, holders), 30_000);
  expect(sim.loggedIn()).toHaveLength(sessionCount);
  expect(sim.counters.replacements).toBe(replacementsBefore);
}, 60_000);
