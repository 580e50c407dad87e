/**
 * What the API, the SSE stream and the inspector say about a session: its
 * machine snapshot plus the wall-clock facts the manager keeps beside it.
 */
import type { SnapshotFrom } from 'xstate';
import type { SessionMachine } from '../../machines/session.machine.js';
import type { SessionKey } from '../store/session-key.js';
import type { SessionMeta } from '../store/session-store.js';
import type { SessionFacts } from './session-facts.js';

export interface SessionView {
  userId: string;
  sessionId: string;
  /** One of connecting, open, degraded, backingOff, terminated. */
  state: string;
  /** The full state path, e.g. connecting.awaitingQr. */
  status: string;
  attempt: number;
  nextRetryAt: string | null;
  openSince: string | null;
  createdAt: string;
  reconnects: number;
  lastDisconnect: { statusCode: number | null; message: string | null; at: string | null } | null;
  terminatedReason: string | null;
  me: { id: string } | null;
  /** The holder (process) that owns the session, this one's or another's; null when nobody does. */
  owner: string | null;
}

export interface ViewSource {
  key: SessionKey;
  meta: SessionMeta;
  facts: SessionFacts;
  /** The owning holder, when known. */
  owner: string | null;
  /** Another live process owns the session: this one knows only its metadata. */
  ownedElsewhere: boolean;
}

/** "connecting.awaitingQr" from { connecting: 'awaitingQr' }. */
export function statePath(value: unknown): string {
  if (typeof value === 'string') return value;
  const [[parent, child]] = Object.entries(value as Record<string, unknown>) as [[string, unknown]];
  return `${parent}.${statePath(child)}`;
}

export function toSessionView(source: ViewSource, snapshot: SnapshotFrom<SessionMachine> | null): SessionView {
  const iso = (date: Date | null) => (date ? date.toISOString() : null);
  if (!snapshot) {
    return {
      ...source.key,
      state: 'terminated',
      status: 'terminated',
      attempt: 0,
      nextRetryAt: null,
      openSince: null,
      createdAt: source.meta.createdAt,
      reconnects: source.facts.earlierReconnects,
      lastDisconnect: null,
      terminatedReason: source.ownedElsewhere ? 'ownedElsewhere' : (source.meta.terminatedReason ?? 'stopped'),
      me: null,
      owner: source.owner,
    };
  }
  const { context } = snapshot;
  const { facts } = source;
  const status = statePath(snapshot.value);
  return {
    ...source.key,
    state: status.split('.')[0]!,
    status,
    attempt: context.attempt,
    nextRetryAt: iso(facts.nextRetryAt),
    openSince: iso(facts.openSince),
    createdAt: source.meta.createdAt,
    reconnects: facts.earlierReconnects + Math.max(0, context.connectionCount - 1),
    lastDisconnect: context.lastDisconnect
      ? { statusCode: context.lastDisconnect.statusCode ?? null, message: context.lastDisconnect.message ?? null, at: iso(facts.lastDisconnectAt) }
      : null,
    terminatedReason: context.terminatedReason,
    me: context.me ? { id: context.me.id } : null,
    owner: source.owner,
  };
}
