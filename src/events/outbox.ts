/**
 * The outbox: an event is emitted once it is appended here, durably. Delivery
 * (webhooks) and GET /events read from it, so a crash or restart loses
 * nothing that was emitted. The files/ implementation is a folder; a
 * PostgreSQL one would be a table keyed by id with a cursor table beside it.
 *
 * Contract:
 * - append() resolves once the events survive a crash, and they become
 *   readable (and `onAppended` fires) in id order: a reader that has seen id X
 *   never later finds a new event with an id below X.
 * - Each subscription has a cursor: the id of the last event it is done with.
 *   Delivery is at least once: a crash between a delivery and its ack repeats
 *   that one event (receivers deduplicate by id).
 * - prune() removes events every cursor has passed and that are older than the
 *   retention (kept that long for GET /events resume); never one a cursor still needs.
 */
import type { FleetEvent } from './fleet-event.js';

export interface Outbox {
  /** Loads what is stored (call once, before anything else). */
  open(): Promise<void>;
  append(events: readonly FleetEvent[]): Promise<void>;
  /** Up to `limit` events with ids above `afterId` (null: from the oldest retained), in id order. */
  read(afterId: string | null, limit: number): Promise<FleetEvent[]>;
  /** The newest id, or null when empty. */
  newestId(): string | null;
  /** The oldest retained id, or null when empty. */
  oldestId(): string | null;
  /** The highest id ever pruned (a resume from below it has a gap). */
  prunedThrough(): string | null;
  /** The subscription's cursor; undefined when it has none. */
  cursor(subscriptionId: string): string | null | undefined;
  /** The subscription is done with every event up to `eventId`. */
  ack(subscriptionId: string, eventId: string | null): Promise<void>;
  /** Forget a deleted subscription's cursor. */
  dropCursor(subscriptionId: string): Promise<void>;
  /** Events some subscription has not passed yet. */
  depth(): number;
  prune(now: number): Promise<number>;
  /** Waits for appends and cursor writes in flight. */
  close(): Promise<void>;
  onAppended(listener: (events: readonly FleetEvent[]) => void): () => void;
}
