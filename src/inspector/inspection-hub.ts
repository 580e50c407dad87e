/**
 * Turns each session actor's XState inspection events into a secret-free log
 * for the inspector, one entry per event the session handled:
 *
 *   transition  the state, the attempt, the last disconnect or the account
 *               changed; kept with the context as it was then (time-travel)
 *   tick        a timer or an event that changed none of that (keep-alive
 *               ticks, a refreshed QR); kept in a separate, shorter list so a
 *               day of ticks never pushes the last real disconnect out
 *
 * Only the root actor's `@xstate.snapshot` events are read: each carries the
 * event that caused it, so one entry says what happened and where it led.
 * QR text never enters an entry. A removed session's history is freed by forget().
 */
import { EventEmitter } from 'node:events';
import type { InspectionEvent } from 'xstate';
import { keyString, type SessionKey } from '../store/session-key.js';
import { statePath } from '../session/session-view.js';
import { eventName, type NamingContext } from './event-names.js';

export interface InspectionHubOptions {
  /** Real transitions kept per session. Default 100. */
  transitionsPerSession?: number;
  /** Timer ticks and no-change events kept per session. Default 30. */
  ticksPerSession?: number;
}

/** The machine context as the inspector shows it: no QR text, no policy (it never changes). */
export type RedactedContext = Record<string, unknown>;

export interface InspectorEntry {
  seq: number;
  /** ISO time, UTC. */
  at: string;
  kind: 'transition' | 'tick';
  /** The event's type as the machine knows it. */
  event: string;
  /** What happened, for people: "after 3 s backoff", "connection closed 428 (refused)". */
  label: string;
  /** Full state path before (null for a session's first actor) and after. */
  from: string | null;
  to: string;
  statusCode?: number;
  message?: string;
  /** Transitions only: the context right after it. */
  context?: RedactedContext;
}

interface SessionRecord {
  status: string | null;
  context: Record<string, unknown> | null;
  transitions: InspectorEntry[];
  ticks: InspectorEntry[];
}

export function redactContext(context: Record<string, unknown>): RedactedContext {
  const { policy: _policy, ...rest } = context;
  return { ...rest, qr: rest.qr ? '[redacted]' : null };
}

function changedSomething(before: Record<string, unknown> | null, after: Record<string, unknown>): boolean {
  if (!before) return true;
  return (['lastDisconnect', 'attempt', 'me', 'terminatedReason'] as const).some((field) => before[field] !== after[field]);
}

function pushBounded(list: InspectorEntry[], entry: InspectorEntry, max: number): void {
  list.push(entry);
  if (list.length > max) list.splice(0, list.length - max);
}

export class InspectionHub extends EventEmitter {
  private readonly sessions = new Map<string, SessionRecord>();
  private readonly transitionsPerSession: number;
  private readonly ticksPerSession: number;
  private seq = 0;

  constructor(options: InspectionHubOptions = {}) {
    super();
    this.transitionsPerSession = options.transitionsPerSession ?? 100;
    this.ticksPerSession = options.ticksPerSession ?? 30;
    // One listener per open session page; a busy console may watch many.
    this.setMaxListeners(0);
  }

  /** The `inspect` callback given to each session actor. Runs for every event of every session: it returns early. */
  readonly inspect = (key: SessionKey, event: InspectionEvent): void => {
    if (event.type !== '@xstate.snapshot' || event.actorRef.sessionId !== event.rootId) return;
    const snapshot = event.snapshot as { value?: unknown; context?: Record<string, unknown> };
    if (snapshot.value === undefined || !snapshot.context) return;
    const id = keyString(key);
    let record = this.sessions.get(id);
    if (!record) {
      record = { status: null, context: null, transitions: [], ticks: [] };
      this.sessions.set(id, record);
    }
    const to = statePath(snapshot.value);
    const cause = event.event as { type: string; statusCode?: unknown; message?: unknown };
    const detail = {
      ...(typeof cause.statusCode === 'number' ? { statusCode: cause.statusCode } : {}),
      ...(typeof cause.message === 'string' ? { message: cause.message } : {}),
    };
    const real = cause.type === 'xstate.init' || record.status !== to || changedSomething(record.context, snapshot.context);
    const entry: InspectorEntry = {
      seq: ++this.seq,
      at: new Date().toISOString(),
      kind: real ? 'transition' : 'tick',
      event: cause.type,
      label: eventName(cause.type, (record.context ?? snapshot.context) as NamingContext, detail),
      from: record.status,
      to,
      ...detail,
      ...(real ? { context: redactContext(snapshot.context) } : {}),
    };
    if (real) pushBounded(record.transitions, entry, this.transitionsPerSession);
    else pushBounded(record.ticks, entry, this.ticksPerSession);
    record.status = to;
    record.context = snapshot.context;
    if (this.listenerCount(id) > 0) this.emit(id, entry);
  };

  /** Kept transitions and ticks, oldest first, interleaved by sequence. */
  recent(key: SessionKey): InspectorEntry[] {
    const record = this.sessions.get(keyString(key));
    if (!record) return [];
    return [...record.transitions, ...record.ticks].sort((a, b) => a.seq - b.seq);
  }

  /** The session's context now (redacted), or null before its first actor ran. */
  context(key: SessionKey): RedactedContext | null {
    const context = this.sessions.get(keyString(key))?.context;
    return context ? redactContext(context) : null;
  }

  /** Sessions with a history; for tests and the memory check. */
  get size(): number {
    return this.sessions.size;
  }

  /** A removed session's history goes with it. */
  forget(key: SessionKey): void {
    this.sessions.delete(keyString(key));
  }
}
