/**
 * Who delivers a cluster subscription: exactly one node at a time, on a lease
 * of its own (`wa_vigil_webhook_leases`: holder, epoch, expires_at), renewed
 * like the session leases (pg-ownership.ts).
 *
 * Every renew tick (LEASE_RENEW_MS) a node
 * 1. reads the subscriptions again (other nodes add, delete, pause, resume:
 *    polled at the tick rather than NOTIFYed, see EventService),
 * 2. renews every lease it holds in one statement: one missing from the answer,
 *    or back with another epoch, is lost and its delivery stopped at once,
 * 3. takes the free ones (never held, released by a clean stop, expired, or
 *    its own that its fence dropped) in one statement that bumps each one's
 *    epoch, then reads its cursor (after the epoch is committed, so every write
 *    of the former holder that can still land is in it) and starts delivering
 *    from there.
 *
 * Spread: with `liveHolders`, each subscription has a preferred node among
 * the live ones (rendezvous hashing, as sessions are placed): a node takes a
 * free lease at once when it is the preferred one, any other node after seeing
 * it free for `takeFreeAfterTicks` of its own ticks (so none is stranded if its
 * preferred node does not take it); a node holding a lease another live node
 * is preferred for hands it over, a few per tick: delivery stopped, its cursor
 * writes settled, then the row freed for that node's next tick.
 *
 * The fence is a timer, not a tick: each renew that succeeds arms it at its
 * start + TTL − renew interval (local monotonic clock); when it fires, every
 * lease this node could not renew since is dropped, its delivery stopped,
 * before the database can let another node take it. Expiry is judged by the
 * database alone (`expires_at` against its own `now()`): no machine's clock is
 * compared with another's.
 *
 * The cursor write is fenced (writeCursorFenced): it locks the lease row FOR
 * SHARE and lands only while the row names this holder and this epoch. A
 * takeover (which bumps the epoch) waits for a write in flight, and a write
 * after it is refused: the next holder continues from a cursor no stale writer
 * can move. At least once, never a skip: a delivery whose cursor did not land
 * is repeated by the next holder (duplicates only at the cut).
 *
 * A clean stop releases every lease it holds (holder null), after its
 * deliveries stopped: another node takes them at its next tick.
 */
import type pg from 'pg';
import type { Logger } from '../../logging/logger.js';
import { idToSeq, seqToId } from '../../outbox/postgres/sequence-id.js';
import { preferredHolder } from '../../service/rendezvous.js';
import type { DeliveryClaim } from '../dispatcher.js';
import { clusterCursorScope } from './pg-subscriptions.js';

export interface DeliveryLeasesOptions {
  pool: pg.Pool;
  /** This node's holder id (the session leases' too). */
  holder: string;
  ttlMs: number;
  renewIntervalMs: number;
  logger: Logger;
  /** Reads the subscriptions again; resolves with the ids of those there are now. */
  refresh(): Promise<string[]>;
  /** This node delivers the subscription from now on, under `claim`. */
  granted(id: string, claim: DeliveryClaim): void;
  /** This node must stop delivering it (resolves once stopped). */
  lost(id: string, options?: { graceful?: boolean }): Promise<void>;
  /** The live nodes' holder ids (spread the subscriptions over them); absent: whoever looks first takes a free one. */
  liveHolders?: () => Promise<string[]>;
}

/** A free lease another node is preferred for is taken after this many ticks of seeing it free. */
export const takeFreeAfterTicks = 3;
/** Leases handed over to their preferred node per tick (each is a cut where a few events may repeat). */
export const handOversPerTick = 2;

/**
 * Sets the subscription's cursor to `eventId` only while `holder` holds its
 * delivery lease at `epoch`. False: refused (the lease moved on, or the
 * subscription is gone), nothing written.
 */
export async function writeCursorFenced(
  pool: pg.Pool | pg.PoolClient,
  write: { subscriptionId: string; holder: string; epoch: string; eventId: string | null },
): Promise<boolean> {
  const seq = write.eventId === null ? null : idToSeq(write.eventId);
  if (write.eventId !== null && seq === null) throw new Error(`not an event id of the cluster's outbox: ${write.eventId}`);
  // FOR SHARE: a takeover's UPDATE waits for this statement, and this one, coming after it, sees the
  // new epoch (read committed re-checks a locked row's latest version) and writes nothing.
  const { rowCount } = await pool.query(
    `WITH fence AS (
       SELECT subscription_id FROM wa_vigil_webhook_leases WHERE subscription_id = $1 AND holder = $2 AND epoch = $3 FOR SHARE
     )
     INSERT INTO wa_vigil_event_cursors (scope, subscription_id, cursor)
     SELECT $4, subscription_id, $5::bigint FROM fence
     ON CONFLICT (scope, subscription_id) DO UPDATE
       SET cursor = excluded.cursor,
           released = wa_vigil_event_cursors.released AND wa_vigil_event_cursors.cursor IS NOT DISTINCT FROM excluded.cursor`,
    [write.subscriptionId, write.holder, write.epoch, clusterCursorScope, seq?.toString() ?? null],
  );
  return rowCount === 1;
}

/** The subscription's cluster cursor: the id of the last event it is done with (null: none), undefined when it has no cursor row. */
export async function readClusterCursor(pool: pg.Pool, subscriptionId: string): Promise<string | null | undefined> {
  const { rows } = await pool.query<{ cursor: string | null }>('SELECT cursor FROM wa_vigil_event_cursors WHERE scope = $1 AND subscription_id = $2', [clusterCursorScope, subscriptionId]);
  if (rows.length === 0) return undefined;
  return rows[0]!.cursor === null ? null : seqToId(BigInt(rows[0]!.cursor));
}

interface Held {
  epoch: string;
  claim: FencedClaim;
}

export class DeliveryLeases {
  private readonly held = new Map<string, Held>();
  private timer: NodeJS.Timeout | null = null;
  private fence: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private stopped = false;
  private failing = false;
  /** Free leases another node is preferred for: ticks this node has seen each free. */
  private readonly freeTicks = new Map<string, number>();

  constructor(private readonly options: DeliveryLeasesOptions) {}

  /** The subscriptions this node delivers now. */
  heldIds(): string[] {
    return [...this.held.keys()];
  }

  start(): void {
    void this.tick();
    this.timer = setInterval(() => void this.tick(), this.options.renewIntervalMs);
    this.timer.unref();
  }

  /** Renews and takes what is free now (also right after a subscription is created). One tick at a time. */
  tick(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.ticking ??= this.run().finally(() => {
      this.ticking = null;
    });
    return this.ticking;
  }

  /** Call after the deliveries stopped: frees every lease held, so another node takes them at its next tick. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.ticking;
    if (this.fence) clearTimeout(this.fence);
    const ids = this.heldIds();
    // Deliveries stopped and their last cursor writes landed, then the rows freed.
    for (const id of ids) await this.lose(id);
    if (ids.length === 0) return;
    await this.options.pool
      .query(`UPDATE wa_vigil_webhook_leases SET holder = NULL, expires_at = now() WHERE holder = $1 AND subscription_id = ANY($2::text[])`, [this.options.holder, ids])
      .catch((error: unknown) => this.options.logger.warn({ err: message(error) }, 'Webhook delivery leases not released; other nodes take them when they expire'));
  }

  private async run(): Promise<void> {
    const startedAt = performance.now();
    const { pool, holder, ttlMs } = this.options;
    try {
      const ids = await this.options.refresh();
      const present = new Set(ids);
      for (const id of this.heldIds()) if (!present.has(id)) await this.lose(id);
      if (this.held.size > 0) {
        const renewed = await pool.query<{ subscription_id: string; epoch: string }>(
          `UPDATE wa_vigil_webhook_leases SET expires_at = now() + $3 * interval '1 millisecond'
           WHERE holder = $1 AND subscription_id = ANY($2::text[]) RETURNING subscription_id, epoch`,
          [holder, this.heldIds(), ttlMs],
        );
        const epochs = new Map(renewed.rows.map((row) => [row.subscription_id, row.epoch]));
        for (const [id, lease] of this.held) {
          if (epochs.get(id) === lease.epoch) continue;
          this.options.logger.warn({ subscription: id }, 'Webhook delivery lease lost; another node delivers this subscription');
          await this.lose(id);
        }
      }
      this.armFence(startedAt);
      const holders = this.options.liveHolders ? await this.options.liveHolders() : null;
      const preferred = (id: string): string | null => {
        if (holders === null) return holder;
        // The subscription id in a session key's place: every node ranks the same way.
        return preferredHolder(holders.includes(holder) ? holders : [...holders, holder], { userId: '.webhook', sessionId: id });
      };
      await this.handOver(preferred, holders ?? []);
      const free = ids.filter((id) => !this.held.has(id));
      if (free.length > 0 && !this.stopped) {
        const open = await pool.query<{ subscription_id: string }>(
          `SELECT subscription_id FROM wa_vigil_webhook_leases WHERE subscription_id = ANY($2::text[]) AND (holder IS NULL OR holder = $1 OR expires_at <= now())`,
          [holder, free],
        );
        const openIds = new Set(open.rows.map((row) => row.subscription_id));
        for (const id of this.freeTicks.keys()) if (!openIds.has(id)) this.freeTicks.delete(id);
        const wanted = [...openIds].filter((id) => {
          if (preferred(id) === holder) return true;
          const seen = (this.freeTicks.get(id) ?? 0) + 1;
          this.freeTicks.set(id, seen);
          return seen >= takeFreeAfterTicks;
        });
        if (wanted.length > 0) {
          const taken = await pool.query<{ subscription_id: string; epoch: string }>(
            `UPDATE wa_vigil_webhook_leases SET holder = $1, epoch = epoch + 1, expires_at = now() + $3 * interval '1 millisecond'
             WHERE subscription_id = ANY($2::text[]) AND (holder IS NULL OR holder = $1 OR expires_at <= now()) RETURNING subscription_id, epoch`,
            [holder, wanted, ttlMs],
          );
          for (const row of taken.rows) {
            this.freeTicks.delete(row.subscription_id);
            await this.take(row.subscription_id, row.epoch);
          }
        }
      }
      if (this.failing) this.options.logger.info('Webhook delivery leases renewed again');
      this.failing = false;
    } catch (error) {
      // The fence armed by the last successful renew stops the deliveries in time; said once per outage.
      if (!this.failing) this.options.logger.warn({ err: message(error) }, 'Webhook delivery leases could not be renewed; their deliveries stop before the leases expire');
      this.failing = true;
    }
  }

  private async take(id: string, epoch: string): Promise<void> {
    const { pool, holder } = this.options;
    let cursor = await readClusterCursor(pool, id);
    if (cursor === undefined) {
      // Created without one (a row written by hand, say): it starts at the newest event now.
      await pool.query(
        `INSERT INTO wa_vigil_event_cursors (scope, subscription_id, cursor) SELECT $1, $2, (SELECT max(seq) FROM wa_vigil_events) ON CONFLICT DO NOTHING`,
        [clusterCursorScope, id],
      );
      cursor = (await readClusterCursor(pool, id)) ?? null;
    }
    if (this.stopped) {
      // Stopping: given back at once rather than left for others to wait a TTL on.
      await pool.query('UPDATE wa_vigil_webhook_leases SET holder = NULL, expires_at = now() WHERE subscription_id = $1 AND holder = $2 AND epoch = $3', [id, holder, epoch]);
      return;
    }
    const claim = new FencedClaim(pool, id, holder, epoch, cursor);
    this.held.set(id, { epoch, claim });
    this.options.logger.info({ subscription: id, epoch, cursor }, 'Delivering webhook subscription for the cluster');
    this.options.granted(id, claim);
  }

  /** Stops delivering `id` here; resolves once its delivery stopped and its cursor writes settled. */
  private async lose(id: string, options: { graceful?: boolean } = {}): Promise<void> {
    const lease = this.held.get(id);
    if (!lease) return;
    this.held.delete(id);
    await this.options.lost(id, options);
    await lease.claim.settled();
  }

  /** Gives a few leases to the live node each is preferred for: delivery stopped here first, then the row freed. */
  private async handOver(preferred: (id: string) => string | null, holders: readonly string[]): Promise<void> {
    let handed = 0;
    for (const [id, lease] of [...this.held]) {
      if (handed >= handOversPerTick || this.stopped) return;
      const to = preferred(id);
      if (to === null || to === this.options.holder || !holders.includes(to)) continue;
      handed += 1;
      // Still ours until the row is freed: the delivery in flight finishes and its cursor lands first.
      await this.lose(id, { graceful: true });
      await this.options.pool.query(`UPDATE wa_vigil_webhook_leases SET holder = NULL, expires_at = now() WHERE subscription_id = $1 AND holder = $2 AND epoch = $3`, [
        id,
        this.options.holder,
        lease.epoch,
      ]);
      this.options.logger.info({ subscription: id, to }, 'Webhook subscription handed over to the node it belongs to');
    }
  }

  /** Every lease still held when this fires was not renewed for TTL − renew interval: stop them all before they can expire. */
  private armFence(startedAt: number): void {
    if (this.fence) clearTimeout(this.fence);
    const delay = Math.max(0, startedAt + this.options.ttlMs - this.options.renewIntervalMs - performance.now());
    this.fence = setTimeout(() => {
      const ids = this.heldIds();
      if (ids.length > 0) this.options.logger.warn({ subscriptions: ids.length }, 'Webhook delivery leases not renewed in time; their deliveries stop before the leases expire');
      for (const id of ids) void this.lose(id);
    }, delay);
    this.fence.unref();
  }
}

/**
 * The claim a delivery runs under: its fenced cursor writes, one at a time and
 * coalesced (while one is in flight, only the latest position waits).
 */
class FencedClaim implements DeliveryClaim {
  private writing: Promise<boolean> | null = null;
  private next: { eventId: string | null; waiters: Array<(ok: boolean) => void> } | null = null;

  constructor(
    private readonly pool: pg.Pool,
    private readonly id: string,
    private readonly holder: string,
    private readonly epoch: string,
    readonly cursor: string | null,
  ) {}

  /** Resolves once no cursor write of this claim is in flight or waiting. */
  async settled(): Promise<void> {
    while (this.writing) await this.writing.catch(() => false);
  }

  save(eventId: string | null): Promise<boolean> {
    if (!this.writing) return (this.writing = this.write(eventId));
    return new Promise((resolve) => {
      this.next ??= { eventId, waiters: [] };
      this.next.eventId = eventId;
      this.next.waiters.push(resolve);
    });
  }

  private async write(eventId: string | null): Promise<boolean> {
    let ok: boolean;
    try {
      ok = await writeCursorFenced(this.pool, { subscriptionId: this.id, holder: this.holder, epoch: this.epoch, eventId });
    } finally {
      const next = this.next;
      this.next = null;
      if (next) {
        const writing = this.write(next.eventId);
        this.writing = writing;
        void writing.then(
          (result) => next.waiters.forEach((resolve) => resolve(result)),
          () => next.waiters.forEach((resolve) => resolve(false)),
        );
      } else {
        this.writing = null;
      }
    }
    return ok;
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
