/**
 * A database client that holds lease rows and never commits — the transaction
 * of a host that died without closing its connection, or an operator's psql
 * left in BEGIN — through a real node process on PostgreSQL.
 *
 * Twelve sessions belong to a dead host; ten connections hold those twelve
 * lease rows FOR SHARE, idle in their transactions. The healthy node, which
 * owns six other sessions, must go on renewing, keep its own sessions open and
 * its pool usable (an operation on its own session completes), and leave the
 * locked sessions alone, saying why. When those connections are the node's own
 * kind (wa-vigil's connection settings), the server ends them after the idle
 * timeout, and the node takes the twelve sessions over without a replacement.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { WaSimulator } from '../../src/sim/wa-simulator.js';
import { pgClientConfig, pgTimeouts } from '../../src/store/postgres/pool-config.js';
import type { SessionKey } from '../../src/store/session-key.js';
import { seedPairedSessions } from '../../fixtures/pg-seed.js';
import { testDatabase, type TestDatabase } from '../support/postgres.js';
import { removeDir, tempSessionsDir } from '../support/service-harness.js';
import { spawnService, type ServiceProcess } from '../../fixtures/service-process.js';
import { waitUntil } from '../../fixtures/wait.js';

const ttlMs = 3_000;
const heldCount = 12;
const ownCount = 6;
let sim: WaSimulator;
let db: TestDatabase;
let dir: string;
let node: ServiceProcess | null = null;
let deadHostKeys: SessionKey[] = [];
const lockers: pg.Client[] = [];
/** The first test's transactions, kept open until the second test's are in place. */
let foreign: pg.Client[] = [];
/** Resolves when the server (or anyone) ended the connection. */
const endedOf = new WeakMap<pg.Client, Promise<void>>();

interface View {
  userId: string;
  sessionId: string;
  state: string;
  owner: string | null;
}

beforeAll(async () => {
  sim = await new WaSimulator().start();
  db = await testDatabase();
  dir = await tempSessionsDir();
  const keys = await seedPairedSessions(db.pool, heldCount + ownCount, '1555400');
  deadHostKeys = keys.slice(0, heldCount);
  // A host that died: its node row stopped beating (and its timestamps say it expired a minute ago).
  await db.pool.query(
    "INSERT INTO wa_vigil_nodes (holder, url, beat, ttl_ms, expires_at) VALUES ('dead-host', NULL, 7, $1, now() - interval '1 minute')",
    [ttlMs],
  );
  await db.pool.query(
    `UPDATE wa_vigil_leases SET holder = 'dead-host', epoch = epoch + 1
      WHERE (user_id, session_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
    [deadHostKeys.map((k) => k.userId), deadHostKeys.map((k) => k.sessionId)],
  );
}, 120_000);

afterAll(async () => {
  if (node) {
    node.child.kill('SIGKILL');
    await node.exited;
  }
  await Promise.all(lockers.map((client) => client.end().catch(() => undefined)));
  await sim.stop();
  await db.drop();
  await removeDir(dir);
}, 30_000);

/** Ten connections, idle in transactions that hold all twelve of the dead host's lease rows FOR SHARE. */
async function holdLeaseRows(config: pg.ClientConfig): Promise<pg.Client[]> {
  const held: pg.Client[] = [];
  for (let i = 0; i < 10; i++) {
    const client = new pg.Client(config);
    client.on('error', () => undefined);
    endedOf.set(client, new Promise((resolve) => client.once('end', () => resolve())));
    await client.connect();
    const mine = deadHostKeys.filter((_, k) => k % 10 === i);
    await client.query('BEGIN');
    await client.query(
      `SELECT 1 FROM wa_vigil_leases WHERE (user_id, session_id) IN (SELECT * FROM unnest($1::text[], $2::text[])) FOR SHARE`,
      [mine.map((k) => k.userId), mine.map((k) => k.sessionId)],
    );
    held.push(client);
    lockers.push(client);
  }
  return held;
}

async function listing(): Promise<View[]> {
  const answer = await node!.call('/sessions');
  if (!Array.isArray(answer.body)) throw new Error(`GET /sessions: ${answer.status} ${JSON.stringify(answer.body)} ${node!.lines.slice(-8).join('\n')}`);
  return answer.body as unknown as View[];
}

const isDeadHosts = (v: View) => deadHostKeys.some((k) => k.userId === v.userId && k.sessionId === v.sessionId);

it('a healthy node keeps renewing and keeps its own sessions while a client holds lease rows and never commits', async () => {
  foreign = await holdLeaseRows({ connectionString: db.url, application_name: 'operator psql' });
  node = spawnService({
    sessionsDir: dir,
    waUrl: sim.url,
    env: { DATABASE_URL: db.url, LEASE_TTL_MS: String(ttlMs), LEASE_RENEW_MS: '1000' },
  });
  const holder = await node.holder;
  await waitUntil(async () => (await listing()).filter((v) => !isDeadHosts(v) && v.owner === holder && v.state === 'open').length === ownCount, 20_000);

  // Four TTLs: the dead host is judged dead after one, and every tick after it the node tries its sessions.
  const renewedAt = new Set<string>();
  const deadline = Date.now() + 4 * ttlMs;
  while (Date.now() < deadline) {
    const answer = await node.call('/cluster');
    const cluster = answer.body as { renew?: { at: string | null } };
    if (!cluster.renew) throw new Error(`GET /cluster: ${answer.status} ${JSON.stringify(answer.body)}`);
    if (cluster.renew.at) renewedAt.add(cluster.renew.at);
    const views = await listing();
    expect(views.filter((v) => !isDeadHosts(v) && v.owner === holder && v.state === 'open')).toHaveLength(ownCount);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  expect(node.lines.filter((line) => line.includes('Ownership not renewed in time'))).toEqual([]);
  // About one renew a second, none stuck behind the locked rows.
  expect(renewedAt.size).toBeGreaterThanOrEqual(8);
  expect(node.lines.some((line) => line.includes('locked by a database transaction'))).toBe(true);
  expect(sim.loggedIn()).toHaveLength(ownCount);

  // Its pool still serves its own sessions: a restart (metadata and credential writes) completes.
  const own = (await listing()).find((v) => !isDeadHosts(v))!;
  const path = `/sessions/${own.userId}/${own.sessionId}`;
  expect((await node.call(`${path}/restart`, 'POST')).status).toBe(202);
  await waitUntil(async () => (await node!.call(path)).body.state === 'open', 10_000);
  // No connection of the node waits on a lock for long.
  const { rows } = await db.pool.query<{ waiting: string }>(
    "SELECT count(*) AS waiting FROM pg_stat_activity WHERE application_name LIKE 'wa-vigil%' AND wait_event_type = 'Lock' AND now() - query_start > interval '1 second'",
  );
  expect(Number(rows[0]!.waiting)).toBe(0);
}, 60_000);

it('the same transactions opened with wa-vigil’s settings are ended by the server, and the dead host’s sessions are taken over', async () => {
  const holder = await node!.holder;
  const replacementsBefore = sim.counters.replacements;
  const heldAt = Date.now();
  const ours = await holdLeaseRows(pgClientConfig(db.url, pgTimeouts(ttlMs), 'wa-vigil dead-host'));
  const ended = ours.map((client) => endedOf.get(client)!);
  // Only now the outside client lets go: the rows stay held, by connections of wa-vigil's kind.
  for (const client of foreign) await client.query('ROLLBACK');
  await Promise.all(ended);
  // idle_in_transaction_session_timeout is a third of the TTL; allow for a loaded machine.
  expect(Date.now() - heldAt).toBeLessThan(ttlMs);
  await waitUntil(async () => {
    const views = await listing();
    return views.length === heldCount + ownCount && views.every((v) => v.owner === holder && v.state === 'open');
  }, 20_000);
  expect(sim.loggedIn()).toHaveLength(heldCount + ownCount);
  expect(sim.counters.replacements).toBe(replacementsBefore);
  expect(node!.lines.filter((line) => line.includes('Ownership not renewed in time'))).toEqual([]);
}, 60_000);
