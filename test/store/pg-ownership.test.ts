/**
 * PostgreSQL ownership, node against node on a real database, with each node's
 * monotonic clock in the test's hands: a holder is dead only when another node
 * watched its heartbeat counter stand still for a TTL — whatever the timestamps
 * in its row say, so a clock step on the database never moves a live holder's
 * sessions and never strands a crashed one's. Also: an acquire never waits long
 * for a row lock, a node that is not alive cannot acquire, a renew that hangs is
 * abandoned, long-dead node rows are pruned, and the LISTEN connection comes back.
 */
import { Writable } from 'node:stream';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { createLogger } from '../../src/logging/logger.js';
import { Cluster } from '../../src/service/cluster.js';
import { PgOwnership, leaseChannel } from '../../src/store/postgres/pg-ownership.js';
import { PostgresSessionStore } from '../../src/store/postgres/pg-session-store.js';
import type { SessionKey } from '../../src/store/session-key.js';
import { testDatabase, type TestDatabase } from '../support/postgres.js';
import { waitUntil } from '../../fixtures/wait.js';

const ttlMs = 3_000;
const renewMs = 1_000;
let db: TestDatabase;
const cleanup: Array<() => Promise<unknown>> = [];

beforeAll(async () => (db = await testDatabase()), 120_000);
afterEach(async () => {
  for (const undo of cleanup.splice(0).reverse()) await undo().catch(() => undefined);
  await db.pool.query('TRUNCATE wa_vigil_sessions CASCADE');
  await db.pool.query('DELETE FROM wa_vigil_nodes');
});
afterAll(() => db?.drop());

/** A node: its ownership on the test database, and its own monotonic clock. */
function node(holder: string, options: { renewTimeoutMs?: number; logger?: ReturnType<typeof createLogger> } = {}) {
  const clock = { ms: 1_000_000 };
  const ownership = new PgOwnership({ pool: db.pool, holder, ttlMs, now: () => clock.ms, ...options });
  return { ownership, clock };
}

async function session(userId: string): Promise<SessionKey> {
  const key = { userId, sessionId: 'main' };
  await new PostgresSessionStore({ pool: db.pool, ownership: {} as never }).create(key);
  return key;
}

/** `ms` pass on every clock in `clocks`; the nodes in `live` renew once at the end of each renew interval. */
async function pass(ms: number, clocks: Array<{ ms: number }>, live: PgOwnership[]): Promise<void> {
  for (let done = 0; done < ms; done += renewMs) {
    for (const clock of clocks) clock.ms += Math.min(renewMs, ms - done);
    for (const ownership of live) await ownership.renew([]);
  }
}

function capturedLogger() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: createLogger({ format: 'json', level: 'info', destination }), lines };
}

it('a live holder keeps its session while the database clock jumps an hour either way', async () => {
  const a = node('node-a');
  const b = node('node-b');
  await a.ownership.start();
  await b.ownership.start();
  const key = await session('clock-step');
  const held = await a.ownership.acquire(key);
  expect(held.acquired).toBe(true);

  for (const step of ['-1 hour', '+1 hour', '-1 hour']) {
    // A's row as a database whose clock stepped would leave it: renewed and expiring an hour away from now().
    await a.ownership.renew([]);
    await db.pool.query(`UPDATE wa_vigil_nodes SET renewed_at = now() + interval '${step}', expires_at = now() + interval '${step}' WHERE holder = 'node-a'`);
    await pass(renewMs, [a.clock, b.clock], [b.ownership]);
    expect(await b.ownership.liveOwner(key), step).toBe('node-a');
    expect(await b.ownership.acquire(key), step).toEqual({ acquired: false, owner: 'node-a' });
    expect((await b.ownership.liveHolders()).map((h) => h.holder)).toEqual(['node-a', 'node-b']);
  }
  const { rows } = await db.pool.query('SELECT holder, epoch FROM wa_vigil_leases WHERE user_id = $1', [key.userId]);
  expect(rows).toEqual([{ holder: 'node-a', epoch: '1' }]);
});

it('a crashed holder is taken over after a TTL of silence as observed, even when its row claims to live for another hour', async () => {
  const a = node('node-a');
  const b = node('node-b');
  await a.ownership.start();
  await b.ownership.start();
  const key = await session('crashed');
  expect((await a.ownership.acquire(key)).acquired).toBe(true);
  await pass(renewMs, [a.clock, b.clock], [a.ownership, b.ownership]);
  // A crashes (renews no more) while the database's clock is an hour behind: its row "expires" in an hour.
  await db.pool.query("UPDATE wa_vigil_nodes SET expires_at = now() + interval '1 hour' WHERE holder = 'node-a'");
  await b.ownership.liveOwners([key]);
  await pass(ttlMs - renewMs, [b.clock], [b.ownership]);
  expect(await b.ownership.acquire(key)).toEqual({ acquired: false, owner: 'node-a' });
  await pass(renewMs, [b.clock], [b.ownership]);
  expect(await b.ownership.liveOwner(key)).toBeNull();
  const taken = await b.ownership.acquire(key);
  expect(taken).toMatchObject({ acquired: true, lease: { holder: 'node-b', epoch: 2 } });
});

it('a holder that beats at the last moment keeps its session: the takeover needs the very counter value watched for a TTL', async () => {
  const a = node('node-a');
  const b = node('node-b');
  await a.ownership.start();
  await b.ownership.start();
  const key = await session('last-moment');
  expect((await a.ownership.acquire(key)).acquired).toBe(true);
  await b.ownership.liveOwners([key]);
  await pass(ttlMs, [b.clock], [b.ownership]);
  expect(b.ownership.silenceOf('node-a')).toBeGreaterThanOrEqual(ttlMs);
  // A beats once between B's last look and B's acquire.
  a.clock.ms += ttlMs;
  await a.ownership.renew([]);
  expect(await b.ownership.acquire(key)).toEqual({ acquired: false, owner: 'node-a' });
  expect(await b.ownership.liveOwner(key)).toBe('node-a');
});

it('a node whose own row is gone, or that has not beaten for most of a TTL, cannot acquire', async () => {
  const a = node('node-a');
  await a.ownership.start();
  const key = await session('self-check');
  // Its row pruned by others (or deleted): the leases it would take would look free to everyone.
  await db.pool.query("DELETE FROM wa_vigil_nodes WHERE holder = 'node-a'");
  await expect(a.ownership.acquire(key)).rejects.toMatchObject({ code: 'ERR_HOLDER_NOT_ALIVE' });
  await a.ownership.renew([]);
  a.clock.ms += ttlMs;
  await expect(a.ownership.acquire(key)).rejects.toMatchObject({ code: 'ERR_HOLDER_NOT_ALIVE' });
  const { rows } = await db.pool.query('SELECT holder, epoch FROM wa_vigil_leases WHERE user_id = $1', [key.userId]);
  expect(rows).toEqual([{ holder: null, epoch: '0' }]);
  await a.ownership.renew([]);
  expect((await a.ownership.acquire(key)).acquired).toBe(true);
});

it('an acquire gives up a lease row locked by a transaction that never ends, at once, and says so once', async () => {
  const { logger, lines } = capturedLogger();
  const b = node('node-b', { logger });
  await b.ownership.start();
  const keys = [await session('locked-1'), await session('locked-2')];
  // A dead host (no node row) held both, and a client of it still has them FOR SHARE, idle in its transaction.
  await db.pool.query("UPDATE wa_vigil_leases SET holder = 'dead-host', epoch = 1");
  const locker = new pg.Client({ connectionString: db.url });
  await locker.connect();
  cleanup.push(() => locker.end());
  await locker.query("BEGIN; SELECT 1 FROM wa_vigil_leases WHERE holder = 'dead-host' FOR SHARE");

  for (let round = 0; round < 3; round++) {
    for (const key of keys) {
      const started = performance.now();
      expect(await b.ownership.acquire(key)).toEqual({ acquired: false, owner: 'dead-host' });
      expect(performance.now() - started).toBeLessThan(2_000);
    }
  }
  expect(lines.filter((line) => line.includes('locked by a database transaction'))).toHaveLength(2);
  await locker.query('ROLLBACK');
  for (const key of keys) expect(await b.ownership.acquire(key)).toMatchObject({ acquired: true, lease: { holder: 'node-b', epoch: 2 } });
});

it('a renew that hangs is abandoned within its timeout and fails', async () => {
  const a = node('node-a', { renewTimeoutMs: 300 });
  await a.ownership.start();
  // Something holds A's own node row: its heartbeat cannot land.
  const locker = new pg.Client({ connectionString: db.url });
  await locker.connect();
  cleanup.push(() => locker.end());
  await locker.query("BEGIN; SELECT 1 FROM wa_vigil_nodes WHERE holder = 'node-a' FOR UPDATE");
  const started = performance.now();
  await expect(a.ownership.renew([])).rejects.toMatchObject({ code: 'ERR_RENEW_TIMEOUT' });
  expect(performance.now() - started).toBeLessThan(2_000);
  await locker.query('ROLLBACK');
  await expect(a.ownership.renew([])).resolves.toEqual([]);
});

it('the row of a node silent for ten TTLs (as observed) is removed; a live node’s row stays', async () => {
  const a = node('node-a');
  const b = node('node-b');
  await a.ownership.start();
  await b.ownership.start();
  await b.ownership.renew([]);
  const nodes = async () => (await db.pool.query<{ holder: string }>('SELECT holder FROM wa_vigil_nodes ORDER BY holder')).rows.map((r) => r.holder);
  // A's row claims to be fresh for a day: only its counter's silence counts.
  await db.pool.query("UPDATE wa_vigil_nodes SET expires_at = now() + interval '1 day' WHERE holder = 'node-a'");
  await pass(9 * ttlMs, [b.clock], [b.ownership]);
  expect(await nodes()).toEqual(['node-a', 'node-b']);
  await pass(ttlMs + renewMs, [b.clock], [b.ownership]);
  await waitUntil(async () => (await nodes()).length === 1, 5_000);
  expect(await nodes()).toEqual(['node-b']);
});

it('the LISTEN connection is opened again after it is killed, outside the pool, and closed on stop', async () => {
  const ownership = new PgOwnership({ pool: db.pool, holder: 'node-l', ttlMs });
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  pool.on('error', () => undefined);
  cleanup.push(() => pool.end());
  let released = 0;
  const cluster = new Cluster({
    pool,
    ownership,
    logger: createLogger({ format: 'json', level: 'silent' }),
    newClient: () => new pg.Client({ connectionString: db.url, application_name: 'wa-vigil listen test' }),
    onReleased: () => (released += 1),
    renewStats: () => ({ lastMs: null, at: null }),
  } as ConstructorParameters<typeof Cluster>[0]);
  cleanup.push(() => cluster.stop());
  const listeners = async () =>
    (await db.pool.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN%'")).rows.map((r) => r.pid);
  await cluster.start();
  expect(await listeners()).toHaveLength(1);
  // The pool lent nothing for it: both its connections can be taken at once.
  const lent = await Promise.all([pool.connect(), pool.connect()]);
  lent.forEach((client) => client.release());

  await db.pool.query(`SELECT pg_notify('${leaseChannel}', 'node-x')`);
  await waitUntil(() => released >= 1, 5_000);
  for (let kill = 0; kill < 2; kill++) {
    const [pid] = await listeners();
    await db.pool.query('SELECT pg_terminate_backend($1)', [pid]);
    await waitUntil(async () => {
      const now = await listeners();
      return now.length === 1 && now[0] !== pid;
    }, 10_000);
  }
  const before = released;
  await db.pool.query(`SELECT pg_notify('${leaseChannel}', 'node-x')`);
  await waitUntil(() => released > before, 5_000);
  await cluster.stop();
  await waitUntil(async () => (await listeners()).length === 0, 5_000);
});
