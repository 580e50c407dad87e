/**
 * The cluster's subscriptions on PostgreSQL (src/webhooks/postgres/): how one
 * is created and removed, and the delivery lease that lets exactly one node
 * deliver it — above all the fenced cursor write: a writer whose epoch is not
 * the lease's is refused, so the node that takes a subscription over continues
 * from a cursor no stale writer can move. Time is stood in for by expiring a
 * lease row by hand, and ticks are called by the test: no timer decides.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import type { DeliveryClaim } from '../../src/webhooks/dispatcher.js';
import { DeliveryLeases, handOversPerTick, readClusterCursor, takeFreeAfterTicks, writeCursorFenced } from '../../src/webhooks/postgres/delivery-leases.js';
import { clusterCursorScope, pgSubscriptionFiles } from '../../src/webhooks/postgres/pg-subscriptions.js';
import { seqToId } from '../../src/outbox/postgres/sequence-id.js';
import { testDatabase, type TestDatabase } from '../support/postgres.js';
import { waitUntil } from '../../fixtures/wait.js';

let db: TestDatabase;
beforeAll(async () => (db = await testDatabase()), 120_000);
afterAll(() => db?.drop());
beforeEach(async () => {
  await db.pool.query('DELETE FROM wa_vigil_webhooks');
  await db.pool.query('DELETE FROM wa_vigil_event_cursors');
  await db.pool.query('TRUNCATE wa_vigil_events');
});

const silent = pino({ level: 'silent' });

/** Events written straight into the table (no session lease needed here); returns their ids. */
async function insertEvents(count: number): Promise<string[]> {
  const { rows } = await db.pool.query<{ seq: string }>(
    `INSERT INTO wa_vigil_events (type, user_id, session_id, node, time, payload, bytes)
     SELECT 'session.status', 'u', 's', 'n', now(), '{}'::json, 10 FROM generate_series(1, $1) RETURNING seq`,
    [count],
  );
  return rows.map((row) => seqToId(BigInt(row.seq)));
}

async function createSubscription(id: string): Promise<void> {
  await pgSubscriptionFiles(db.pool).create(id, JSON.stringify({ id, url: 'http://127.0.0.1:1/', secret: 'x'.repeat(16) }));
}

/** A node's delivery leases, ticked by hand; records what it was granted and what it lost. */
function leasesOf(holder: string, ids: string[], live?: () => string[]) {
  const granted = new Map<string, DeliveryClaim>();
  const lost: string[] = [];
  /** Those stopped letting the delivery in flight finish (a hand-over), not aborting it. */
  const graceful: string[] = [];
  const leases = new DeliveryLeases({
    ...(live ? { liveHolders: async () => live() } : {}),
    pool: db.pool,
    holder,
    ttlMs: 60_000,
    renewIntervalMs: 10_000,
    logger: silent,
    refresh: async () => ids,
    granted: (id, claim) => granted.set(id, claim),
    lost: async (id, options) => {
      lost.push(id);
      if (options?.graceful) graceful.push(id);
    },
  });
  return { leases, granted, lost, graceful };
}

async function expire(id: string): Promise<void> {
  await db.pool.query(`UPDATE wa_vigil_webhook_leases SET expires_at = now() - interval '1 second' WHERE subscription_id = $1`, [id]);
}

async function leaseRow(id: string) {
  const { rows } = await db.pool.query<{ holder: string | null; epoch: string }>('SELECT holder, epoch FROM wa_vigil_webhook_leases WHERE subscription_id = $1', [id]);
  return rows[0];
}

it('a subscription is created with a free lease and a cursor after the newest event, and removed with both', async () => {
  const before = await insertEvents(3);
  await createSubscription('wh_a');
  expect(await leaseRow('wh_a')).toEqual({ holder: null, epoch: '0' });
  expect(await readClusterCursor(db.pool, 'wh_a')).toBe(before.at(-1));
  // Created again (two nodes starting with one WEBHOOK_URL): nothing moves.
  await insertEvents(2);
  await createSubscription('wh_a');
  expect(await readClusterCursor(db.pool, 'wh_a')).toBe(before.at(-1));
  await pgSubscriptionFiles(db.pool).remove('wh_a');
  expect(await leaseRow('wh_a')).toBeUndefined();
  expect(await readClusterCursor(db.pool, 'wh_a')).toBeUndefined();
  expect((await pgSubscriptionFiles(db.pool).readAll()).entries).toEqual([]);
});

it('write updates an existing subscription only: one deleted elsewhere is not brought back', async () => {
  const files = pgSubscriptionFiles(db.pool);
  await files.write('wh_gone', '{"id":"wh_gone"}');
  expect((await files.readAll()).entries).toEqual([]);
});

it('fenced cursor write: after a takeover the former holder’s writes are refused, and the new holder continues from the last one that landed', async () => {
  const [e1, e2, e3] = await insertEvents(3);
  await db.pool.query('DELETE FROM wa_vigil_events'); // the cursor starts at the empty table's end: no events yet
  await createSubscription('wh_f');
  const a = leasesOf('node-a', ['wh_f']);
  const b = leasesOf('node-b', ['wh_f']);

  await a.leases.tick();
  expect(a.granted.get('wh_f')?.cursor).toBeNull();
  expect(await leaseRow('wh_f')).toEqual({ holder: 'node-a', epoch: '1' });
  // B cannot take a lease that has not expired.
  await b.leases.tick();
  expect(b.granted.size).toBe(0);
  expect(await a.granted.get('wh_f')!.save(e1!)).toBe(true);

  // A stops renewing (frozen, cut off): its lease expires and B takes it, with a new epoch, from A's cursor.
  await expire('wh_f');
  await b.leases.tick();
  expect(await leaseRow('wh_f')).toEqual({ holder: 'node-b', epoch: '2' });
  expect(b.granted.get('wh_f')?.cursor).toBe(e1);

  // A, unaware, delivers one more and writes its cursor: refused, nothing moves.
  expect(await a.granted.get('wh_f')!.save(e2!)).toBe(false);
  expect(await writeCursorFenced(db.pool, { subscriptionId: 'wh_f', holder: 'node-a', epoch: '1', eventId: e3! })).toBe(false);
  // The right holder with a stale epoch is refused too (a lease taken, lost and taken again).
  expect(await writeCursorFenced(db.pool, { subscriptionId: 'wh_f', holder: 'node-b', epoch: '1', eventId: e3! })).toBe(false);
  expect(await readClusterCursor(db.pool, 'wh_f')).toBe(e1);

  // B's writes land; A learns at its next renew that the lease is gone and stops.
  expect(await b.granted.get('wh_f')!.save(e2!)).toBe(true);
  expect(await readClusterCursor(db.pool, 'wh_f')).toBe(e2);
  await a.leases.tick();
  expect(a.lost).toEqual(['wh_f']);
  expect(a.leases.heldIds()).toEqual([]);
  expect(b.leases.heldIds()).toEqual(['wh_f']);

  // A deleted subscription takes its lease with it: even its holder's write is refused.
  await pgSubscriptionFiles(db.pool).remove('wh_f');
  expect(await b.granted.get('wh_f')!.save(e3!)).toBe(false);
});

it('a takeover waits for a cursor write in flight, then continues from it (never from before it)', async () => {
  const [e1, e2] = await insertEvents(2);
  await db.pool.query('DELETE FROM wa_vigil_events');
  await createSubscription('wh_w');
  const a = leasesOf('node-a', ['wh_w']);
  await a.leases.tick();
  await a.granted.get('wh_w')!.save(e1!);
  await expire('wh_w');

  // A's write of e2 is in flight (its statement done, not yet committed) when B tries to take the lease.
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    expect(await writeCursorFenced(client, { subscriptionId: 'wh_w', holder: 'node-a', epoch: '1', eventId: e2! })).toBe(true);
    const b = leasesOf('node-b', ['wh_w']);
    const taking = b.leases.tick();
    await waitUntil(async () => {
      const { rows } = await db.pool.query(`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE wa_vigil_webhook_leases%'`);
      return rows.length > 0;
    }, 10_000);
    await client.query('COMMIT');
    await taking;
    expect(b.granted.get('wh_w')?.cursor).toBe(e2);
  } finally {
    client.release();
  }
});

it('a clean stop gives the leases up: another node takes them at once, without waiting for expiry', async () => {
  await createSubscription('wh_s');
  const a = leasesOf('node-a', ['wh_s']);
  await a.leases.tick();
  await a.leases.stop();
  expect(a.lost).toEqual(['wh_s']);
  expect(await leaseRow('wh_s')).toEqual({ holder: null, epoch: '1' });
  const b = leasesOf('node-b', ['wh_s']);
  await b.leases.tick();
  expect(await leaseRow('wh_s')).toEqual({ holder: 'node-b', epoch: '2' });
  expect(b.granted.has('wh_s')).toBe(true);
});

it(`cursors of the cluster's subscriptions are kept under the scope '${clusterCursorScope}'`, async () => {
  await createSubscription('wh_c');
  const { rows } = await db.pool.query<{ scope: string }>('SELECT scope FROM wa_vigil_event_cursors WHERE subscription_id = $1', ['wh_c']);
  expect(rows).toEqual([{ scope: 'cluster' }]);
});

it('a node that cannot renew stops delivering on its own, while the database still counts the lease as its own (before anyone can take it)', async () => {
  await createSubscription('wh_t');
  // No tick after the first: the renewals are what this node cannot do. The fence fires at TTL − renew
  // interval after the renew began (1 s here), the lease expires at TTL (3 s): a wide margin, not a measurement.
  const seenAtStop: Array<{ holder: string | null; live: boolean }> = [];
  const leases = new DeliveryLeases({
    pool: db.pool,
    holder: 'node-f',
    ttlMs: 3_000,
    renewIntervalMs: 2_000,
    logger: silent,
    refresh: async () => ['wh_t'],
    granted: () => undefined,
    lost: async () => {
      const { rows } = await db.pool.query<{ holder: string | null; live: boolean }>('SELECT holder, expires_at > now() AS live FROM wa_vigil_webhook_leases WHERE subscription_id = $1', ['wh_t']);
      seenAtStop.push(rows[0]!);
    },
  });
  await leases.tick();
  expect(leases.heldIds()).toEqual(['wh_t']);
  await waitUntil(() => seenAtStop.length > 0, 10_000);
  expect(seenAtStop).toEqual([{ holder: 'node-f', live: true }]);
  expect(leases.heldIds()).toEqual([]);
  // Back, it takes its own lease again under a new epoch (its old claim's writes are refused).
  await leases.tick();
  expect(await leaseRow('wh_t')).toEqual({ holder: 'node-f', epoch: '2' });
  await leases.stop();
});

async function holders(ids: string[]): Promise<Map<string, string | null>> {
  const { rows } = await db.pool.query<{ subscription_id: string; holder: string | null }>('SELECT subscription_id, holder FROM wa_vigil_webhook_leases WHERE subscription_id = ANY($1::text[])', [ids]);
  return new Map(rows.map((row) => [row.subscription_id, row.holder]));
}

it('spread: each node takes the subscriptions it is preferred for; one that joins receives its share a few per tick, by clean hand-overs', async () => {
  const ids = Array.from({ length: 12 }, (_, i) => `wh_spread_${i}`);
  for (const id of ids) await createSubscription(id);
  let live = ['node-a'];
  const a = leasesOf('node-a', ids, () => live);
  const b = leasesOf('node-b', ids, () => live);
  // Alone, A takes them all.
  await a.leases.tick();
  expect(a.leases.heldIds().sort()).toEqual([...ids].sort());
  // B joins: at each of A's ticks a few go back to the pool, and B (preferred for them) takes them at its own.
  live = ['node-a', 'node-b'];
  await a.leases.tick();
  expect(a.lost.length).toBeGreaterThan(0);
  expect(a.lost.length).toBeLessThanOrEqual(handOversPerTick);
  expect([...(await holders(a.lost)).values()].every((holder) => holder === null)).toBe(true);
  for (let round = 0; round < ids.length; round += 1) {
    await a.leases.tick();
    await b.leases.tick();
  }
  const byHolder = await holders(ids);
  const ofB = ids.filter((id) => byHolder.get(id) === 'node-b');
  expect(ofB.length).toBeGreaterThan(0);
  expect(ofB.length).toBeLessThan(ids.length);
  expect(ids.every((id) => byHolder.get(id) === 'node-a' || byHolder.get(id) === 'node-b')).toBe(true);
  expect(b.leases.heldIds().sort()).toEqual([...ofB].sort());
  expect(a.leases.heldIds().sort()).toEqual(ids.filter((id) => !ofB.includes(id)).sort());
  // Handed over a few per tick, each stopped on A before B started it, its delivery in flight let finish (not aborted:
  // an event the receiver took without A's cursor moving would reach it again from B).
  expect(a.lost.sort()).toEqual([...ofB].sort());
  expect(a.graceful.sort()).toEqual([...ofB].sort());
  await a.leases.stop();
  await b.leases.stop();
});

it('spread: a free subscription whose preferred node does not take it is taken by another after a few ticks', async () => {
  const ids = Array.from({ length: 8 }, (_, i) => `wh_strand_${i}`);
  for (const id of ids) await createSubscription(id);
  // B believes A is alive, but A never ticks (frozen, or on an older version): nothing is stranded.
  const b = leasesOf('node-b', ids, () => ['node-a', 'node-b']);
  await b.leases.tick();
  const first = b.leases.heldIds().length;
  expect(first).toBeLessThan(ids.length);
  for (let tick = 1; tick < takeFreeAfterTicks; tick += 1) await b.leases.tick();
  expect(b.leases.heldIds().sort()).toEqual([...ids].sort());
  await b.leases.stop();
});
