/**
 * The outbox: an event is emitted once it is appended here, durably. Delivery
 * (webhooks) and GET /events read from it, so a crash or restart loses
 * nothing that was emitted. The files/ implementation is a folder (one
 * process); postgres/ is a table the cluster's nodes share, one sequence.
 *
 * Contract:
 * - append() resolves once the events survive a crash, and they become
 *   readable (and `onAppended` fires) in id order: a reader that has seen id X
 *   never later finds a new event with an id below X.
 * - Each subscription has a cursor: the id of the last event it is done with.
 *   Delivery is at least once: a crash between a delivery and its ack repeats
 *   that one event (receivers deduplicate by id).
 * - prune() removes events every cursor has passed and that are older than the
 *   retention (kept that long for GET /events resume); never one a cursor still needs,
 *   except past the size limit, where the slowest subscription is let go (onBacklog).
 * - append() never blocks on the limit, and an event the disk cannot take now
 *   waits in memory (bounded) and is written again; one given up is rejected, never lost unseen.
 */
import type { SessionKey } from '../store/session-key.js';
import type { EventType, FleetEvent } from './fleet-event.js';

/** Events every subscription is done with are kept this long for GET /events resume, by default (EVENTS_RETENTION_MS). */
export const defaultRetentionMs = 60 * 60 * 1000;
/** Bytes of stored events before delivered ones are pruned early and the slowest subscription let go, by default (OUTBOX_MAX_BYTES). */
export const defaultOutboxMaxBytes = 128 * 1024 * 1024;

/** A subscription whose cursor no longer holds events: the outbox reached its size limit. */
export interface OutboxBacklog {
  subscriptionId: string;
  /** Its cursor when it was let go: events after it may be pruned before it receives them. */
  cursor: string | null;
  /** Events after that cursor still stored then. */
  pendingEvents: number;
  bytes: number;
  maxBytes: number;
}

export interface OutboxStats {
  /** Bytes of stored events, and the limit. */
  bytes: number;
  maxBytes: number;
  /** Segment files. */
  files: number;
  /** Events stored. */
  events: number;
  /** Events waiting in memory to be stored (the disk failed them). */
  unstoredEvents: number;
  /** Failed writes by error code (ENOSPC, EIO…), since start. */
  writeFailures: ReadonlyMap<string, number>;
  /** Events given up because too many waited for the disk, since start. */
  droppedEvents: number;
  /** Delivered events pruned before their retention to stay under maxBytes, since start. */
  earlyPrunedEvents: number;
  /** Subscriptions let go for backlog, since start. */
  releasedSubscriptions: number;
}

/** What sessionEvents() reads: one session's newest events, a page at a time. */
export interface SessionEventsQuery {
  /** Only events with an id below this one (the oldest of the page before); absent: from the newest. */
  beforeId?: string;
  /** At most this many events. */
  limit: number;
  /** Only these types; absent: every type. */
  types?: readonly EventType[];
}

export interface Outbox {
  /** Loads what is stored (call once, before anything else). */
  open(): Promise<void>;
  append(events: readonly FleetEvent[]): Promise<void>;
  /** Up to `limit` events with ids above `afterId` (null: from the oldest retained), in id order. */
  read(afterId: string | null, limit: number): Promise<FleetEvent[]>;
  /**
   * One session's newest `limit` events (older than `beforeId` when given), NEWEST FIRST,
   * among those retained (EVENTS_RETENTION_MS): the console's log from before this process.
   */
  sessionEvents(key: SessionKey, query: SessionEventsQuery): Promise<FleetEvent[]>;
  /** The newest id, or null when empty. */
  newestId(): string | null;
  /** The oldest retained id, or null when empty. */
  oldestId(): string | null;
  /**
   * Catches newestId() and prunedThrough() up with what other writers did
   * (a shared outbox: other nodes append and prune). Absent: nothing to catch up.
   */
  sync?(): Promise<void>;
  /** The highest id ever pruned (a resume from below it has a gap). */
  prunedThrough(): string | null;
  /** The subscription's cursor; undefined when it has none. */
  cursor(subscriptionId: string): string | null | undefined;
  /** The subscription is done with every event up to `eventId`. */
  ack(subscriptionId: string, eventId: string | null): Promise<void>;
  /** Forget a deleted subscription's cursor. */
  dropCursor(subscriptionId: string): Promise<void>;
  /** The subscriptions that have a cursor (a deleted one's may outlive it after a crash). */
  cursorIds(): string[];
  /** Events some subscription has not passed yet. */
  depth(): number;
  prune(now: number): Promise<number>;
  /** Waits for appends and cursor writes in flight. */
  close(): Promise<void>;
  onAppended(listener: (events: readonly FleetEvent[]) => void): () => void;
  /** A subscription was let go because the outbox reached its size limit (the caller pauses it). */
  onBacklog(listener: (backlog: OutboxBacklog) => void): () => void;
  stats(): OutboxStats;
}
