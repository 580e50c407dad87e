/**
 * What only the PostgreSQL outbox does: the fence (a node that lost a
 * session's lease cannot emit for it), one order for every node on the
 * database, live on each through LISTEN, and a database that refuses writes
 * for a while loses nothing.
 */
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import type { FleetEvent } from '../../src/outbox/fleet-event.js';
import { PgOutbox, type PgOutboxOptions } from '../../src/outbox/postgres/pg-outbox.js';
import { testDatabase, type TestDatabase } from '../support/postgres.js';
import { waitUntil as waitFor } from '../../fixtures/wait.js';
import { holdLease, resetEvents } from './outbox-harnesses.js';

let db: TestDatabase;
const opened: PgOutbox[] = [];
beforeAll(async () => (db = await testDatabase()), 120_000);
afterAll(() => db?.drop());
beforeEach(() => resetEvents(db));
afterEach(async () => {
  await Promise.all(opened.splice(0).map((outbox) => outbox.close()));
});

async function outbox(scope: string, options: Partial<PgOutboxOptions> = {}): Promise<PgOutbox> {
  const made = new PgOutbox({ pool: db.pool, newClient: () => new pg.Client({ connectionString: db.url }), cursorScope: scope, ...options });
  await made.open();
  opened.push(made);
  return made;
}

let made = 0;
function event(node: string, sessionId: string, type: FleetEvent['type'] = 'session.status'): FleetEvent {
  return { id: '00000000000000000000000000', type, userId: 'u', sessionId, node, time: new Date().toISOString(), payload: { n: (made += 1) } };
}

it('an event is written only by the node that holds its session lease: after a takeover the old holder cannot emit for it', async () => {
  await holdLease(db, { userId: 'u', sessionId: 's' }, 'node-a');
  await holdLease(db, { userId: 'u', sessionId: 't' }, 'node-a');
  const a = await outbox('scope-a');
  await a.append([event('node-a', 's')]);
  await holdLease(db, { userId: 'u', sessionId: 's' }, 'node-b');
  const lost = event('node-a', 's');
  const kept = event('node-a', 't');
  await expect(a.append([lost, kept])).rejects.toMatchObject({ code: 'ERR_OUTBOX_FENCED' });
  await expect(a.append([event('node-a', 'nobody')])).rejects.toMatchObject({ code: 'ERR_OUTBOX_FENCED' });
  // A removed session has no lease row left: its removal is still told.
  const removed = event('node-a', 'gone', 'session.removed');
  await a.append([removed]);
  await a.append([event('node-b', 's')]);
  const stored = await a.read(null, 10);
  expect(stored.map((e) => [e.sessionId, e.node])).toEqual([
    ['s', 'node-a'],
    ['t', 'node-a'],
    ['gone', 'node-a'],
    ['s', 'node-b'],
  ]);
  expect(stored.some((e) => e.payload.n === lost.payload.n)).toBe(false);
});

it('two nodes on one database: one order, the same on both, each seeing the other live, however their appends interleave', async () => {
  await holdLease(db, { userId: 'u', sessionId: 'a' }, 'node-a');
  await holdLease(db, { userId: 'u', sessionId: 'b' }, 'node-b');
  const a = await outbox('scope-a');
  const b = await outbox('scope-b');
  const seenA: FleetEvent[] = [];
  const seenB: FleetEvent[] = [];
  a.onAppended((events) => seenA.push(...events));
  b.onAppended((events) => seenB.push(...events));
  const appends: Promise<void>[] = [];
  for (let round = 0; round < 40; round += 1) {
    appends.push(a.append([event('node-a', 'a'), event('node-a', 'a')]));
    appends.push(b.append([event('node-b', 'b')]));
    if (round % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await Promise.all(appends);
  const stored = await a.read(null, 1000);
  expect(stored).toHaveLength(120);
  const ids = stored.map((e) => e.id);
  expect([...ids].sort()).toEqual(ids);
  await waitFor(() => seenA.length === 120 && seenB.length === 120, 5_000);
  expect(seenA).toEqual(stored);
  expect(seenB).toEqual(stored);
  expect(await b.read(null, 1000)).toEqual(stored);
  // Each node's own events keep their relative order.
  const order = (node: string) => stored.filter((e) => e.node === node).map((e) => e.payload.n as number);
  expect(order('node-a')).toEqual([...order('node-a')].sort((x, y) => x - y));
  expect(order('node-b')).toEqual([...order('node-b')].sort((x, y) => x - y));
  expect(a.newestId()).toBe(ids.at(-1));
  expect(b.newestId()).toBe(ids.at(-1));
  // Cursors are per scope: each node sees only its own subscriptions'.
  await a.ack('hook-a', ids[10]!);
  await b.ack('hook-b', ids[20]!);
  const a2 = await outbox('scope-a');
  expect(a2.cursorIds()).toEqual(['hook-a']);
  // …but prune respects every scope's.
  expect(await a2.prune(Date.now() + 24 * 3600_000)).toBe(11);
});

it('a database that refuses the writes: events wait, in order, are stored once it takes them again, and storage health hears of both', async () => {
  await holdLease(db, { userId: 'u', sessionId: 's' }, 'node-a');
  await db.pool.query(`CREATE OR REPLACE FUNCTION wa_vigil_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$`);
  await db.pool.query('CREATE TRIGGER wa_vigil_test_refuse BEFORE INSERT ON wa_vigil_events FOR EACH ROW EXECUTE FUNCTION wa_vigil_test_refuse()');
  const failures: unknown[] = [];
  let recovered = 0;
  const a = await outbox('scope-a', { retryFirstMs: 20, retryMaxMs: 50, onWriteFailure: (error) => failures.push(error), onWriteRecovered: () => (recovered += 1) });
  const first = [event('node-a', 's'), event('node-a', 's')];
  const appended = [a.append(first.slice(0, 1)), a.append(first.slice(1))];
  await waitFor(() => failures.length >= 2, 5_000);
  expect(a.stats().unstoredEvents).toBe(2);
  expect(a.stats().writeFailures.get('P0001')).toBeGreaterThanOrEqual(2);
  await db.pool.query('DROP TRIGGER wa_vigil_test_refuse ON wa_vigil_events');
  await Promise.all(appended);
  expect(recovered).toBe(1);
  expect((await a.read(null, 10)).map((e) => e.payload.n)).toEqual(first.map((e) => e.payload.n));
});
