/**
 * The outbox in PostgreSQL: one table of events for the whole cluster, so an
 * event outlives the node that emitted it, and every node reads (and streams
 * on GET /events) the same sequence.
 *
 * Order. An event's id is its `seq` (sequence-id.ts). An append takes a
 * transaction-scoped advisory lock before the INSERT draws its numbers, so
 * appends commit one after another in seq order: a reader that saw seq N never
 * later finds a smaller one committed. The lock is held only for the INSERT
 * and the commit, once per batch.
 *
 * Group commit. Appends that arrive while a batch is being written go
 * together into the next one: one multi-row INSERT, one commit, one NOTIFY.
 *
 * Fence. In the same transaction, before the lock, the batch's lease rows are
 * read FOR SHARE: an event is written only while its `node` holds the
 * session's lease (a takeover waits for the transaction, and one that came
 * first leaves the row to the new holder). A `session.removed` is written when
 * the session has no lease row left (it is gone). Refused events are not
 * written and their append rejects with ERR_OUTBOX_FENCED.
 *
 * Live. Each commit notifies `wa_vigil_events` with its last seq. Every node
 * LISTENs (lease-listener.ts: its own connection, reconnected) and reads from
 * the last seq it handed its listeners up to the one announced, so onAppended
 * sees the cluster's events in seq order, each once. A node's own batch is
 * handed on from memory when nothing came between. A lost LISTEN connection
 * is followed by a read to the end, and prune (every minute) reads too.
 *
 * Faults, retention, limit: as on files (file-outbox.ts). A batch the
 * database refuses stays in memory, in order, and is retried with backoff;
 * past maxUnstoredEvents the oldest are rejected. prune() deletes the prefix of
 * events that every cursor (of every scope) passed and that is older than the
 * retention, in bounded steps. Past maxBytes (checked when prune runs) events
 * every cursor passed go first, then the slowest subscription is let go: its
 * node is told (onBacklog) at once when it is this one, else at that node's
 * next prune.
 *
 * Not kept in memory: events (reads are queries). Kept: this scope's cursors,
 * the newest seq handed on, the oldest and pruned-through seqs, byte totals.
 * depth() is the distance in seq from the slowest cursor, so numbers left
 * unused by a failed write count in it.
 */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { pino } from 'pino';
import type { Logger } from '../../logging/logger.js';
import { LeaseListener } from '../../store/postgres/lease-listener.js';
import { AppendQueue, type AppendRetryOptions, type PendingAppend } from '../append-queue.js';
import type { FleetEvent } from '../fleet-event.js';
import { defaultOutboxMaxBytes, defaultRetentionMs, type Outbox, type OutboxBacklog, type OutboxStats, type SessionEventsQuery } from '../outbox.js';
import type { SessionKey } from '../../store/session-key.js';
import { idToSeq, seqToId } from './sequence-id.js';

export const eventsChannel = 'wa_vigil_events';
/** Serialises appends cluster-wide (the migration lock's id, plus one). */
export const appendLockId = 0x77617669676c + 1;
/** Rows per read when catching up, and per DELETE when pruning: each statement stays short. */
const readPageSize = 1_000;
const deletePageSize = 10_000;
const maxSeq = (1n << 63n) - 1n;

/** Events refused because their node does not hold their session's lease. */
export class OutboxFencedError extends Error {
  readonly code = 'ERR_OUTBOX_FENCED';
}

export interface PgOutboxOptions extends AppendRetryOptions {
  pool: pg.Pool;
  /** A new, unconnected client for LISTEN. Without it only this instance's appends reach onAppended live. */
  newClient?: () => pg.Client;
  /** Whose cursors these are: `cluster` for the cluster's subscriptions (tests use scopes of their own). */
  cursorScope: string | (() => Promise<string>);
  /**
   * The scope's cursors are written by others too (the cluster's subscriptions: each node
   * delivers some, under leases, writing their cursors itself): every refresh (prune, each
   * minute) takes the table's cursors of the scope as they are, for depth() and backlog.
   */
  sharedCursors?: boolean;
  retentionMs?: number;
  maxBytes?: number;
  logger?: Logger;
}

interface EventRow {
  seq: string;
  type: FleetEvent['type'];
  user_id: string;
  session_id: string;
  node: string;
  time: Date;
  payload: Record<string, unknown>;
  bytes: number;
}

interface Stored {
  seq: bigint;
  event: FleetEvent;
  bytes: number;
}

const selectEvents = `SELECT seq, type, user_id, session_id, node, time, payload, bytes FROM wa_vigil_events`;

export class PgOutbox implements Outbox {
  private readonly pool: pg.Pool;
  private readonly retentionMs: number;
  private readonly maxBytes: number;
  private readonly logger: Logger | null;
  private scope = '';
  private listener: LeaseListener | null = null;
  /** Highest seq handed to listeners: newestId(), and where the next catch-up reads from. */
  private delivered = 0n;
  /** Highest seq known committed (own commits, notifications). */
  private known = 0n;
  /** Requests to read to the end (a notification may have been missed), and the last one a read served. */
  private readAllAsked = 0;
  private readAllDone = 0;
  private draining: Promise<void> | null = null;
  /** Own committed batches by first seq, handed on without a read when nothing came before them. */
  private readonly own = new Map<bigint, Stored[]>();
  private oldest: bigint | null = null;
  private pruned: bigint | null = null;
  private storedBytes = 0;
  private storedEvents = 0;
  private cursors = new Map<string, bigint | null>();
  private readonly released = new Map<string, bigint | null>();
  private cursorWrites: Promise<void> = Promise.resolve();
  private readonly appends: AppendQueue<Array<Stored | null>>;
  private readonly listeners = new Set<(events: readonly FleetEvent[]) => void>();
  private readonly backlogListeners = new Set<(backlog: OutboxBacklog) => void>();
  private readonly counters = { releasedSubscriptions: 0, earlyPrunedEvents: 0 };

  constructor(private readonly options: PgOutboxOptions) {
    this.pool = options.pool;
    this.retentionMs = options.retentionMs ?? defaultRetentionMs;
    this.maxBytes = options.maxBytes ?? defaultOutboxMaxBytes;
    this.logger = options.logger ?? null;
    // The options' retry settings (maxUnstoredEvents, retryFirstMs, retryMaxMs, the failure hooks) go to the queue as they are.
    this.appends = new AppendQueue({ ...options, write: (events) => this.writeEvents(events), written: (batch, written) => this.stored(batch, written), medium: 'database', logger: this.logger });
  }

  async open(): Promise<void> {
    this.scope = typeof this.options.cursorScope === 'string' ? this.options.cursorScope : await this.options.cursorScope();
    await this.refresh();
    // Listeners see what is committed from now on; GET /events replays older events by reading.
    this.delivered = this.known;
    if (this.options.newClient) {
      this.listener = new LeaseListener({
        newClient: this.options.newClient,
        channel: eventsChannel,
        logger: this.logger ?? pino({ level: 'silent' }),
        lostMessage: 'Event notifications lost; listening again after a pause (events are read from the table when it is back)',
        onNotified: (payload) => void this.catchUp(payload === null || !/^\d+$/.test(payload) ? null : BigInt(payload)),
      });
      await this.listener.start();
      // Commits between the read above and the LISTEN were announced to nobody.
      await this.catchUp(null);
    }
  }

  append(events: readonly FleetEvent[]): Promise<void> {
    return this.appends.append(events);
  }

  async read(afterId: string | null, limit: number): Promise<FleetEvent[]> {
    const after = afterId === null ? 0n : idToSeq(afterId);
    if (after === null) return [];
    const { rows } = await this.pool.query<EventRow>(`${selectEvents} WHERE seq > $1 ORDER BY seq LIMIT $2`, [after.toString(), limit]);
    return rows.map((row) => toStored(row).event);
  }

  /**
   * One indexed scan (wa_vigil_events_by_session, migration 007) backwards from `beforeId`:
   * rows of other sessions are never visited; rows of filtered-out types of this one are.
   */
  async sessionEvents(key: SessionKey, query: SessionEventsQuery): Promise<FleetEvent[]> {
    const before = query.beforeId === undefined ? maxSeq : idToSeq(query.beforeId);
    if (before === null) return [];
    const { rows } = await this.pool.query<EventRow>(
      `${selectEvents} WHERE user_id = $1 AND session_id = $2 AND seq < $3 AND ($4::text[] IS NULL OR type = ANY($4)) ORDER BY seq DESC LIMIT $5`,
      [key.userId, key.sessionId, before.toString(), query.types ? [...query.types] : null, query.limit],
    );
    return rows.map((row) => toStored(row).event);
  }

  newestId(): string | null {
    return this.delivered === 0n ? null : seqToId(this.delivered);
  }

  oldestId(): string | null {
    return this.oldest === null ? null : seqToId(this.oldest);
  }

  prunedThrough(): string | null {
    return this.pruned === null ? null : seqToId(this.pruned);
  }

  /** Brings newestId() and prunedThrough() up to what the other nodes did (GET /events, before it compares a Last-Event-ID). */
  async sync(): Promise<void> {
    const { rows } = await this.pool.query<{ pruned_through: string | null }>('SELECT pruned_through FROM wa_vigil_event_state');
    this.notePruned(rows[0]?.pruned_through ?? null);
    await this.catchUp(null);
  }

  cursor(subscriptionId: string): string | null | undefined {
    if (!this.cursors.has(subscriptionId)) return undefined;
    const seq = this.cursors.get(subscriptionId)!;
    return seq === null ? null : seqToId(seq);
  }

  ack(subscriptionId: string, eventId: string | null): Promise<void> {
    const seq = eventId === null ? null : (idToSeq(eventId) ?? this.delivered);
    // Delivering again after a backlog release: its cursor holds events again.
    if (this.released.has(subscriptionId) && this.released.get(subscriptionId) !== seq) this.released.delete(subscriptionId);
    this.cursors.set(subscriptionId, seq);
    const released = this.released.has(subscriptionId);
    return this.cursorWrite(() =>
      this.pool.query(
        `INSERT INTO wa_vigil_event_cursors (subscription_id, scope, cursor, released) VALUES ($1, $2, $3, $4)
         ON CONFLICT (scope, subscription_id) DO UPDATE SET cursor = excluded.cursor, released = excluded.released`,
        [subscriptionId, this.scope, seq?.toString() ?? null, released],
      ),
    );
  }

  dropCursor(subscriptionId: string): Promise<void> {
    this.cursors.delete(subscriptionId);
    this.released.delete(subscriptionId);
    return this.cursorWrite(() => this.pool.query('DELETE FROM wa_vigil_event_cursors WHERE subscription_id = $1 AND scope = $2', [subscriptionId, this.scope]));
  }

  cursorIds(): string[] {
    return [...this.cursors.keys()];
  }

  depth(): number {
    let slowest: bigint | undefined;
    for (const cursor of this.cursors.values()) {
      const at = cursor ?? 0n;
      if (slowest === undefined || at < slowest) slowest = at;
    }
    if (slowest === undefined) return 0;
    const from = this.oldest !== null && this.oldest - 1n > slowest ? this.oldest - 1n : slowest;
    return this.delivered > from ? Number(this.delivered - from) : 0;
  }

  stats(): OutboxStats {
    return {
      bytes: this.storedBytes,
      maxBytes: this.maxBytes,
      files: 0,
      events: this.storedEvents,
      unstoredEvents: this.appends.unstoredEvents,
      writeFailures: new Map(this.appends.writeFailures),
      droppedEvents: this.appends.droppedEvents,
      earlyPrunedEvents: this.counters.earlyPrunedEvents,
      releasedSubscriptions: this.counters.releasedSubscriptions,
    };
  }

  onAppended(listener: (events: readonly FleetEvent[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onBacklog(listener: (backlog: OutboxBacklog) => void): () => void {
    this.backlogListeners.add(listener);
    return () => this.backlogListeners.delete(listener);
  }

  async prune(now: number): Promise<number> {
    const { rows } = await this.pool.query<{ slowest: string | null; cursors: string; young: string | null }>(
      `SELECT (SELECT min(coalesce(cursor, 0)) FROM wa_vigil_event_cursors WHERE NOT released) AS slowest,
              (SELECT count(*) FROM wa_vigil_event_cursors WHERE NOT released) AS cursors,
              (SELECT min(seq) FROM wa_vigil_events WHERE time >= $1) AS young`,
      [new Date(now - this.retentionMs)],
    );
    const { slowest, cursors, young } = rows[0]!;
    // The prefix every cursor passed, up to the first event still inside the retention.
    let through = Number(cursors) === 0 ? maxSeq : BigInt(slowest ?? '0');
    if (young !== null && BigInt(young) - 1n < through) through = BigInt(young) - 1n;
    const count = through > 0n ? await this.deleteThrough(through) : 0;
    await this.refresh();
    if (this.storedBytes > this.maxBytes) await this.enforceLimit();
    await this.catchUp(null);
    return count;
  }

  async close(): Promise<void> {
    // A write failing for good would otherwise hold shutdown forever: one last try, then give up.
    await this.appends.close();
    await this.cursorWrites;
    await this.draining;
    await this.listener?.stop();
    this.listener = null;
  }

  /** Deletes events up to `through` in bounded steps; records the highest gone. Returns how many went. */
  private async deleteThrough(through: bigint): Promise<number> {
    let count = 0;
    for (;;) {
      const { rows } = await this.pool.query<{ gone: string; last: string | null }>(
        `WITH gone AS (
           DELETE FROM wa_vigil_events WHERE seq IN (SELECT seq FROM wa_vigil_events WHERE seq <= $1 ORDER BY seq LIMIT $2) RETURNING seq
         ), noted AS (
           UPDATE wa_vigil_event_state SET pruned_through = GREATEST(coalesce(pruned_through, 0), (SELECT max(seq) FROM gone))
           WHERE EXISTS (SELECT 1 FROM gone) RETURNING pruned_through
         )
         SELECT (SELECT count(*) FROM gone) AS gone, (SELECT pruned_through FROM noted) AS last`,
        [through.toString(), deletePageSize],
      );
      const gone = Number(rows[0]!.gone);
      count += gone;
      this.notePruned(rows[0]!.last);
      if (gone < deletePageSize) return count;
    }
  }

  /** Past maxBytes: events every cursor passed first, then the slowest subscriptions are let go one by one. */
  private async enforceLimit(): Promise<void> {
    while (this.storedBytes > this.maxBytes) {
      const over = this.storedBytes - this.maxBytes;
      const { rows } = await this.pool.query<{ through: string | null }>(
        `SELECT max(seq) AS through FROM (
           SELECT seq, sum(bytes) OVER (ORDER BY seq) - bytes AS before FROM wa_vigil_events
           WHERE seq <= coalesce((SELECT min(coalesce(cursor, 0)) FROM wa_vigil_event_cursors WHERE NOT released), $2)
         ) passed WHERE before < $1`,
        [over, this.known.toString()],
      );
      const through = rows[0]?.through ?? null;
      const pruned = through === null ? 0 : await this.deleteThrough(BigInt(through));
      this.counters.earlyPrunedEvents += pruned;
      if (pruned > 0) this.logger?.warn({ events: pruned, maxBytes: this.maxBytes }, 'Outbox at OUTBOX_MAX_BYTES: delivered events pruned before their retention (a GET /events resume from before them gets a gap)');
      await this.refresh();
      if (this.storedBytes <= this.maxBytes) return;
      const let_go = await this.pool.query<{ subscription_id: string; scope: string; cursor: string | null }>(
        `UPDATE wa_vigil_event_cursors SET released = true WHERE (scope, subscription_id) = (
           SELECT scope, subscription_id FROM wa_vigil_event_cursors WHERE NOT released ORDER BY coalesce(cursor, 0), scope, subscription_id LIMIT 1
         ) RETURNING subscription_id, scope, cursor`,
      );
      const row = let_go.rows[0];
      if (!row) return;
      this.counters.releasedSubscriptions += 1;
      if (row.scope === this.scope) this.announceRelease(row.subscription_id, row.cursor === null ? null : BigInt(row.cursor));
    }
  }

  private announceRelease(subscriptionId: string, cursor: bigint | null): void {
    if (this.released.has(subscriptionId)) return;
    this.released.set(subscriptionId, cursor);
    const pendingEvents = Math.max(0, Number(this.delivered - (cursor ?? 0n)));
    const backlog: OutboxBacklog = { subscriptionId, cursor: cursor === null ? null : seqToId(cursor), bytes: this.storedBytes, maxBytes: this.maxBytes, pendingEvents };
    for (const listener of this.backlogListeners) listener(backlog);
  }

  /** Totals, bounds and this scope's cursors as the database has them now. */
  private async refresh(): Promise<void> {
    const [totals, state, cursors] = await Promise.all([
      this.pool.query<{ events: string; bytes: string; oldest: string | null; newest: string | null }>(
        // Totals of what listeners had: later events are added as they are handed on.
        'SELECT count(*) FILTER (WHERE seq <= $1) AS events, coalesce(sum(bytes) FILTER (WHERE seq <= $1), 0) AS bytes, min(seq) AS oldest, max(seq) AS newest FROM wa_vigil_events',
        [this.delivered.toString()],
      ),
      this.pool.query<{ pruned_through: string | null }>('SELECT pruned_through FROM wa_vigil_event_state'),
      this.pool.query<{ subscription_id: string; cursor: string | null; released: boolean }>('SELECT subscription_id, cursor, released FROM wa_vigil_event_cursors WHERE scope = $1', [this.scope]),
    ]);
    const row = totals.rows[0]!;
    this.storedEvents = Number(row.events);
    this.storedBytes = Number(row.bytes);
    this.oldest = row.oldest === null ? null : BigInt(row.oldest);
    if (row.newest !== null && BigInt(row.newest) > this.known) this.known = BigInt(row.newest);
    this.notePruned(state.rows[0]?.pruned_through ?? null);
    if (this.options.sharedCursors) this.cursors = new Map(cursors.rows.map((cursor) => [cursor.subscription_id, cursor.cursor === null ? null : BigInt(cursor.cursor)]));
    // Acks in flight are newer than what the table holds: the table adds only cursors not known here.
    for (const cursor of cursors.rows) {
      const seq = cursor.cursor === null ? null : BigInt(cursor.cursor);
      if (!this.cursors.has(cursor.subscription_id)) this.cursors.set(cursor.subscription_id, seq);
      // Let go by another node's prune: this node pauses it now.
      if (cursor.released) this.announceRelease(cursor.subscription_id, seq);
    }
  }

  private notePruned(value: string | null): void {
    if (value === null) return;
    const seq = BigInt(value);
    if (this.pruned === null || seq > this.pruned) this.pruned = seq;
    if (this.oldest !== null && this.oldest <= seq) this.oldest = seq + 1n;
  }

  /** One cursor write at a time, in call order (an older ack never lands after a newer one). */
  private cursorWrite(write: () => Promise<unknown>): Promise<void> {
    const next = this.cursorWrites.catch(() => undefined).then(async () => {
      await write();
    });
    this.cursorWrites = next.catch(() => undefined);
    return next;
  }

  /**
   * Hands listeners every committed event up to `target` (null: to the end)
   * that they have not had, in seq order. One catch-up runs at a time; a
   * target that arrives meanwhile is reached by the same run.
   */
  private catchUp(target: bigint | null): Promise<void> {
    if (target === null) this.readAllAsked += 1;
    else if (target > this.known) this.known = target;
    this.draining ??= this.drain().finally(() => {
      this.draining = null;
    });
    return this.draining;
  }

  private async drain(): Promise<void> {
    try {
      for (;;) {
        const own = this.own.get(this.delivered + 1n);
        if (own) {
          this.own.delete(this.delivered + 1n);
          this.deliver(own);
          continue;
        }
        if (this.delivered >= this.known && this.readAllAsked === this.readAllDone) break;
        // A request to read to the end that arrives while this read runs is served by the next one.
        const asked = this.readAllAsked;
        const { rows } = await this.pool.query<EventRow>(`${selectEvents} WHERE seq > $1 ORDER BY seq LIMIT $2`, [this.delivered.toString(), readPageSize]);
        if (rows.length < readPageSize) this.readAllDone = asked;
        if (rows.length === 0) {
          if (this.delivered < this.known) break; // announced but not visible yet: the next notification reads again
          continue;
        }
        this.deliver(rows.map(toStored));
      }
    } catch (error) {
      // Committed events are not lost: the next notification, append or prune reads from here again.
      this.logger?.warn({ err: error instanceof Error ? error.message : String(error) }, 'Outbox: reading new events failed; retried at the next one');
    } finally {
      for (const first of this.own.keys()) if (first <= this.delivered) this.own.delete(first);
    }
  }

  private deliver(batch: readonly Stored[]): void {
    const fresh = batch.filter((stored) => stored.seq > this.delivered);
    if (fresh.length === 0) return;
    this.delivered = fresh.at(-1)!.seq;
    if (this.delivered > this.known) this.known = this.delivered;
    this.oldest ??= fresh[0]!.seq;
    this.storedEvents += fresh.length;
    this.storedBytes += fresh.reduce((sum, stored) => sum + stored.bytes, 0);
    const events = fresh.map((stored) => stored.event);
    for (const listener of this.listeners) listener(events);
  }

  /** A batch is committed: its events handed on in order, each append settled (refused where the fence refused). */
  private async stored(batch: readonly PendingAppend[], written: Array<Stored | null>): Promise<void> {
    const stored = written.filter((each): each is Stored => each !== null);
    if (stored.length > 0) {
      this.own.set(stored[0]!.seq, stored);
      // Readable and handed to listeners before the append resolves, as on files.
      await this.catchUp(stored.at(-1)!.seq);
    }
    let offset = 0;
    for (const pending of batch) {
      const refused = written.slice(offset, offset + pending.events.length).filter((each) => each === null).length;
      offset += pending.events.length;
      if (refused === 0) pending.resolve();
      else pending.reject(new OutboxFencedError(`${refused} of ${pending.events.length} events refused: their node does not hold the session's lease`));
    }
  }

  /**
   * One transaction: the fence, the cluster-wide lock, one INSERT, the NOTIFY.
   * Returns each event as stored (with its id), or null where the fence refused it.
   */
  private async writeEvents(events: readonly FleetEvent[]): Promise<Array<Stored | null>> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      try {
        await client.query('BEGIN');
        const keys = [...new Map(events.map((event) => [`${event.userId}\u0000${event.sessionId}`, event])).values()];
        const leases = await client.query<{ user_id: string; session_id: string; holder: string | null }>(
          `SELECT l.user_id, l.session_id, l.holder FROM wa_vigil_leases l
           JOIN unnest($1::text[], $2::text[]) AS k(user_id, session_id) ON l.user_id = k.user_id AND l.session_id = k.session_id
           FOR SHARE OF l`,
          [keys.map((event) => event.userId), keys.map((event) => event.sessionId)],
        );
        const holders = new Map(leases.rows.map((row) => [`${row.user_id}\u0000${row.session_id}`, row.holder]));
        const allowed = events.map((event) => {
          const key = `${event.userId}\u0000${event.sessionId}`;
          return holders.has(key) ? holders.get(key) === event.node : event.type === 'session.removed';
        });
        const accepted = events.filter((_, index) => allowed[index]);
        let seqs: bigint[] = [];
        if (accepted.length > 0) {
          const lines = accepted.map((event) => JSON.stringify(event));
          await client.query('SELECT pg_advisory_xact_lock($1)', [appendLockId]);
          const inserted = await client.query<{ seq: string }>(
            `INSERT INTO wa_vigil_events (type, user_id, session_id, node, time, payload, bytes)
             SELECT type, user_id, session_id, node, time::timestamptz, payload::json, bytes
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[]) WITH ORDINALITY
               AS e(type, user_id, session_id, node, time, payload, bytes, ord)
             ORDER BY ord
             RETURNING seq`,
            [
              accepted.map((event) => event.type),
              accepted.map((event) => event.userId),
              accepted.map((event) => event.sessionId),
              accepted.map((event) => event.node),
              accepted.map((event) => event.time),
              accepted.map((event) => JSON.stringify(event.payload)),
              lines.map((line) => Buffer.byteLength(line) + 1),
            ],
          );
          // Drawn in row order under the lock: sorted, they are the events' numbers in order.
          seqs = inserted.rows.map((row) => BigInt(row.seq)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
          await client.query('SELECT pg_notify($1, $2)', [eventsChannel, seqs.at(-1)!.toString()]);
        }
        await client.query('COMMIT');
        let next = 0;
        return events.map((event, index) => {
          if (!allowed[index]) return null;
          const seq = seqs[next]!;
          next += 1;
          const stored = { ...event, id: seqToId(seq) };
          return { seq, event: stored, bytes: Buffer.byteLength(JSON.stringify(stored)) + 1 };
        });
      } catch (error) {
        // A connection that cannot even roll back is dropped, not given back to the pool.
        await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
        throw error;
      }
    } finally {
      client.release(broken);
    }
  }
}

function toStored(row: EventRow): Stored {
  const seq = BigInt(row.seq);
  const event: FleetEvent = { id: seqToId(seq), type: row.type, userId: row.user_id, sessionId: row.session_id, node: row.node, time: row.time.toISOString(), payload: row.payload };
  return { seq, event, bytes: row.bytes };
}

/** A made-up scope, for tests and tools that keep no subscriptions. */
export function transientCursorScope(): string {
  return `transient-${randomBytes(6).toString('hex')}`;
}

