/**
 * Migrations and the PostgreSQL-only promises: nodes booting together migrate
 * once, a failing migration leaves nothing behind, and a read that fails is an
 * error rather than a missing key.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { migrate, readMigrations } from '../../src/store/postgres/migrate.js';
import { PostgresSessionStore } from '../../src/store/postgres/pg-session-store.js';
import type { Ownership } from '../../src/store/ownership.js';
import { testDatabase, type TestDatabase } from '../support/postgres.js';
import { takeLease } from './store-harnesses.js';

let db: TestDatabase;
beforeAll(async () => (db = await testDatabase({ migrate: false })), 120_000);
afterAll(() => db?.drop());

async function tables(): Promise<string[]> {
  const { rows } = await db.pool.query<{ tablename: string }>("SELECT tablename FROM pg_tables WHERE tablename LIKE 'wa_vigil_%' ORDER BY tablename");
  return rows.map((r) => r.tablename);
}

it('five nodes booting together apply each migration exactly once', async () => {
  const pools = Array.from({ length: 5 }, () => new pg.Pool({ connectionString: db.url, max: 1 }));
  try {
    const applied = await Promise.all(pools.map((pool) => migrate(pool)));
    expect(applied.flat().sort()).toEqual(['001_sessions.sql', '002_leases.sql', '003_heartbeat_counter.sql', '004_messages.sql', '005_events.sql', '006_subscriptions.sql', '007_events_by_session.sql']);
    expect(applied.filter((names) => names.length > 0)).toHaveLength(1);
  } finally {
    await Promise.all(pools.map((pool) => pool.end()));
  }
  expect(await tables()).toEqual([
    'wa_vigil_creds',
    'wa_vigil_event_cursors',
    'wa_vigil_event_origins',
    'wa_vigil_event_state',
    'wa_vigil_events',
    'wa_vigil_keys',
    'wa_vigil_leases',
    'wa_vigil_messages',
    'wa_vigil_migrations',
    'wa_vigil_nodes',
    'wa_vigil_sessions',
    'wa_vigil_webhook_leases',
    'wa_vigil_webhooks',
  ]);
  const { rows } = await db.pool.query('SELECT version, name FROM wa_vigil_migrations ORDER BY version');
  expect(rows).toEqual([
    { version: 1, name: '001_sessions.sql' },
    { version: 2, name: '002_leases.sql' },
    { version: 3, name: '003_heartbeat_counter.sql' },
    { version: 4, name: '004_messages.sql' },
    { version: 5, name: '005_events.sql' },
    { version: 6, name: '006_subscriptions.sql' },
    { version: 7, name: '007_events_by_session.sql' },
  ]);
  // 007 adds no table: the console's per-session read of the outbox needs this index.
  const { rows: indexes } = await db.pool.query<{ indexdef: string }>("SELECT indexdef FROM pg_indexes WHERE indexname = 'wa_vigil_events_by_session'");
  expect(indexes.map((index) => index.indexdef)).toEqual([expect.stringContaining('(user_id, session_id, seq)')]);
  expect(await migrate(db.pool)).toEqual([]);
});

it('a migration that fails rolls back every migration of its run', async () => {
  const known = await readMigrations();
  const broken = [...known, { version: 90, name: '090_good.sql', sql: 'CREATE TABLE wa_vigil_extra (a int)' }, { version: 91, name: '091_bad.sql', sql: 'SELECT no_such_column FROM wa_vigil_sessions' }];
  await expect(migrate(db.pool, broken)).rejects.toThrow(/no_such_column/);
  expect(await tables()).not.toContain('wa_vigil_extra');
  const { rows } = await db.pool.query<{ version: number }>('SELECT version FROM wa_vigil_migrations ORDER BY version');
  expect(rows.map((r) => r.version)).toEqual(known.map((m) => m.version));
});

it('a session gets its free lease row when created, and loses it with the session', async () => {
  const store = new PostgresSessionStore({ pool: db.pool, ownership: {} as Ownership });
  const key = { userId: 'lea', sessionId: 'default' };
  await store.create(key);
  const lease = await db.pool.query('SELECT holder, epoch FROM wa_vigil_leases WHERE user_id = $1', [key.userId]);
  expect(lease.rows).toEqual([{ holder: null, epoch: '0' }]);
  await store.remove(await takeLease(db, key, 'node-a'));
  expect((await db.pool.query('SELECT 1 FROM wa_vigil_leases WHERE user_id = $1', [key.userId])).rowCount).toBe(0);
});

it('a read the database cannot answer is an error, never "no such key" or "no credentials"', async () => {
  const store = new PostgresSessionStore({ pool: db.pool, ownership: {} as Ownership });
  const key = { userId: 'rita', sessionId: 'default' };
  await store.create(key);
  const auth = await store.openAuthState(await takeLease(db, key, 'node-a'));
  await auth.state.keys.set({ session: { peer: Buffer.from('signal session') } });
  await db.pool.query('ALTER TABLE wa_vigil_keys RENAME TO wa_vigil_keys_away');
  await db.pool.query('ALTER TABLE wa_vigil_creds RENAME TO wa_vigil_creds_away');
  try {
    await expect(auth.state.keys.get('session', ['peer'])).rejects.toThrow(/wa_vigil_keys/);
    await expect(store.hasCredentials(key)).rejects.toThrow(/wa_vigil_creds/);
    await expect(store.openAuthState(await takeLease(db, key, 'node-a'))).rejects.toThrow(/wa_vigil_creds/);
  } finally {
    await db.pool.query('ALTER TABLE wa_vigil_keys_away RENAME TO wa_vigil_keys');
    await db.pool.query('ALTER TABLE wa_vigil_creds_away RENAME TO wa_vigil_creds');
  }
  expect((await auth.state.keys.get('session', ['peer'])).peer).toEqual(Buffer.from('signal session'));
});

it('location names the database without its password', () => {
  const pool = new pg.Pool({ connectionString: 'postgres://app:s3cret-pass@db.internal:5433/wa' });
  const store = new PostgresSessionStore({ pool, ownership: {} as Ownership });
  expect(store.location).toBe('postgres://app@db.internal:5433/wa');
  void pool.end();
});

it('the fence checks the epoch, not only the holder: the same node with an older epoch is refused', async () => {
  const store = new PostgresSessionStore({ pool: db.pool, ownership: {} as Ownership });
  const key = { userId: 'epo', sessionId: 'default' };
  await store.create(key);
  const old = await takeLease(db, key, 'node-a');
  const auth = await store.openAuthState(old);
  await auth.state.keys.set({ 'pre-key': { '1': { public: Buffer.from('a'), private: Buffer.from('b') } } });
  const renewed = await takeLease(db, key, 'node-a');
  expect(renewed.epoch).toBe(old.epoch + 1);
  await expect(auth.state.keys.set({ 'pre-key': { '1': null } })).rejects.toMatchObject({ code: 'ERR_LEASE_LOST' });
  expect(Object.keys(await auth.state.keys.get('pre-key', ['1']))).toEqual(['1']);
  await (await store.openAuthState(renewed)).state.keys.set({ 'pre-key': { '1': null } });
  expect(await auth.state.keys.get('pre-key', ['1'])).toEqual({});
});
