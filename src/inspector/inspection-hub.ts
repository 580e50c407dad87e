/**
 * Collects each session actor's XState inspection events (`@xstate.event`,
 * `@xstate.snapshot`) as small, secret-free log entries, keeps the latest
 * per session, and hands new ones to live listeners (the inspector feed).
 * A QR event keeps its name and loses its text.
 */
import { EventEmitter } from 'node:events';
import type { InspectionEvent } from 'xstate';
import { keyString, type SessionKey } from '../store/session-key.js';
import { statePath } from '../service/session-view.js';

/** Entries kept per session for a page that opens late. */
export const historyPerSession = 200;

export interface InspectorEntry {
  seq: number;
  at: string;
  kind: 'event' | 'transition';
  /** Which actor received the event: the session, or its connection. */
  actor: 'session' | 'connection';
  type: string;
  /** Full state path after a transition. */
  status?: string;
  statusCode?: number;
  message?: string;
}

const safeFields = ['statusCode', 'message', 'error'] as const;

export class InspectionHub extends EventEmitter {
  private readonly history = new Map<string, InspectorEntry[]>();
  private seq = 0;

  /** The `inspect` callback given to each session actor. */
  readonly inspect = (key: SessionKey, event: InspectionEvent): void => {
    const entry = this.toEntry(event);
    if (!entry) return;
    const id = keyString(key);
    const list = this.history.get(id) ?? [];
    list.push(entry);
    if (list.length > historyPerSession) list.splice(0, list.length - historyPerSession);
    this.history.set(id, list);
    this.emit(id, entry);
  };

  recent(key: SessionKey): InspectorEntry[] {
    return [...(this.history.get(keyString(key)) ?? [])];
  }

  /** Drops a deleted session's history: a new session with the same ids starts clean, and nothing is kept for ever. */
  forget(key: SessionKey): void {
    this.history.delete(keyString(key));
  }

  /**
   * Only snapshots and events become entries; every other inspection event
   * (actions, microsteps, actor creation) is dropped before anything is built:
   * this runs for every event of every session.
   */
  private toEntry(event: InspectionEvent): InspectorEntry | null {
    const isRoot = event.actorRef.sessionId === event.rootId;
    if (event.type === '@xstate.snapshot') {
      if (!isRoot) return null;
      const snapshot = event.snapshot as { value?: unknown };
      if (snapshot.value === undefined) return null;
      return { ...this.stamp(isRoot), kind: 'transition', type: event.event.type, status: statePath(snapshot.value) };
    }
    if (event.type === '@xstate.event') {
      const source = event.event as Record<string, unknown> & { type: string };
      if (source.type.startsWith('xstate.') && !source.type.startsWith('xstate.after') && !source.type.startsWith('xstate.error')) return null;
      const entry: InspectorEntry = { ...this.stamp(isRoot), kind: 'event', type: source.type };
      for (const field of safeFields) {
        const value = source[field];
        if (field === 'statusCode' && typeof value === 'number') entry.statusCode = value;
        if (field !== 'statusCode' && typeof value === 'string') entry.message = value;
      }
      return entry;
    }
    return null;
  }

  private stamp(isRoot: boolean) {
    return { seq: ++this.seq, at: new Date().toISOString(), actor: isRoot ? 'session' : 'connection' } as const;
  }
}
