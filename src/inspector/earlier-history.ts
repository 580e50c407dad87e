/**
 * The session log from before this process: the outbox keeps every session's
 * events for EVENTS_RETENTION_MS, across restarts, while the inspection hub
 * holds only what this process saw. When a session's feed opens, its newest
 * status events from earlier processes become log entries the page already
 * renders (kind `transition`), marked `earlier` and without a context (the
 * outbox has only what the event says).
 *
 * Only `session.status` and `session.restored` are shown: `session.qr` carries
 * the QR text (never history), `session.terminated` repeats the status event
 * of the same change, messages are not the session's log. `session.removed`
 * is read to stop there: a session deleted and made again under the same ids
 * starts with a clean log, as the hub's does (forget()).
 *
 * The feed sends the first page with its history; the page asks for older ones
 * ("Load earlier entries") by the outbox id where the last page stopped.
 */
import type { FleetEvent, EventType } from '../outbox/fleet-event.js';
import type { Outbox } from '../outbox/outbox.js';
import type { SessionKey } from '../store/session-key.js';
import type { InspectorEntry } from './inspection-hub.js';

/** Entries read from the outbox per feed opened: one query, about the hub's own 100 transitions. */
export const earlierEntriesLimit = 100;

const historyTypes: readonly EventType[] = ['session.status', 'session.restored', 'session.removed'];

/** What the outbox says about a transition, shown when the operator picks an earlier entry. */
export interface EarlierFacts {
  attempt?: unknown;
  nextRetryAt?: unknown;
  lastDisconnect?: unknown;
  terminatedReason?: unknown;
}

export type EarlierEntry = InspectorEntry & { earlier: true; facts: EarlierFacts };

/** One page of the log from before this process, oldest first, and where the next older page starts. */
export interface EarlierPage {
  entries: EarlierEntry[];
  /** Pass as `beforeId` for the page before this one; null: the outbox holds nothing older for this session. */
  nextBeforeId: string | null;
}

export interface EarlierQuery {
  /** Only events before this time (the hub's first entry: what this process saw itself is in the hub). */
  before?: { at: string } | null;
  /** Only events older than this outbox id: the page after a previous one (its `nextBeforeId`). */
  beforeId?: string;
  /** The page's seqs end just below this one (a previous page's smallest seq); 0 by default. */
  seqBelow?: number;
}

/** Reads a session's log from before this process, a page at a time. */
export type EarlierHistory = (key: SessionKey, query: EarlierQuery) => Promise<EarlierPage>;

interface Disconnect {
  statusCode?: unknown;
  message?: unknown;
  at?: unknown;
}

const text = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);

/**
 * Events from before the hub's first entry, by another holder (an earlier start of this
 * service, or the node that ran the session before): this process's own are in the hub.
 */
export function outboxHistory(outbox: Pick<Outbox, 'sessionEvents'>, node: string, limit = earlierEntriesLimit): EarlierHistory {
  return async (key, { before = null, beforeId, seqBelow = 0 }) => {
    const newestFirst = await outbox.sessionEvents(key, { limit, types: historyTypes, ...(beforeId === undefined ? {} : { beforeId }) });
    const removed = newestFirst.findIndex((event) => event.type === 'session.removed');
    const events = removed === -1 ? newestFirst : newestFirst.slice(0, removed);
    const earlier = events.filter((event) => event.node !== node && (before === null || event.time < before.at));
    // A full page that met no removal may have older events behind it; the next page starts
    // below the oldest one READ (not shown): this process's own, filtered out, still count.
    const nextBeforeId = removed === -1 && newestFirst.length === limit ? newestFirst.at(-1)!.id : null;
    return { entries: toEntries(earlier.reverse(), seqBelow), nextBeforeId };
  };
}

/**
 * Oldest-first events as log entries. Their seqs are negative and end just below
 * `seqBelow` (-count … -1 for the first page, oldest most negative): never one of the
 * hub's (1, 2, …) nor of a newer page, and they sort before them.
 */
export function toEntries(events: readonly FleetEvent[], seqBelow = 0): EarlierEntry[] {
  let lastDisconnectAt: unknown = null;
  let status: string | null = null;
  return events.map((event, index) => {
    const payload = event.payload;
    const to = text(payload.status) ?? text(payload.state) ?? 'unknown';
    const toState = text(payload.state) ?? to.split('.')[0]!;
    const disconnect = (payload.lastDisconnect ?? null) as Disconnect | null;
    // A status event repeats the last disconnect until the next one: it is news only once.
    const newDisconnect = disconnect !== null && disconnect.at !== lastDisconnectAt ? disconnect : null;
    lastDisconnectAt = disconnect?.at ?? lastDisconnectAt;
    const from = event.type === 'session.restored' ? null : (status ?? text(payload.previousState));
    const fromState = from?.split('.')[0] ?? null;
    const parts = [event.type === 'session.restored' ? `restored as ${toState}` : fromState && fromState !== toState ? `${fromState} → ${toState}` : toState];
    if (newDisconnect) parts.push([typeof newDisconnect.statusCode === 'number' ? newDisconnect.statusCode : null, text(newDisconnect.message)].filter((part) => part !== null).join(' ') || 'disconnected');
    if (toState === 'terminated' && text(payload.terminatedReason)) parts.push(text(payload.terminatedReason)!);
    status = to;
    return {
      seq: seqBelow + index - events.length,
      at: event.time,
      kind: 'transition' as const,
      event: event.type,
      label: parts.join(' · '),
      from,
      to,
      ...(newDisconnect && typeof newDisconnect.statusCode === 'number' ? { statusCode: newDisconnect.statusCode } : {}),
      ...(newDisconnect && text(newDisconnect.message) ? { message: text(newDisconnect.message)! } : {}),
      earlier: true as const,
      facts: { attempt: payload.attempt, nextRetryAt: payload.nextRetryAt, lastDisconnect: payload.lastDisconnect, terminatedReason: payload.terminatedReason },
    };
  });
}
