/**
 * What the API, the SSE stream and the inspector say about a session: its
 * machine snapshot plus the wall-clock facts its owner keeps beside it.
 */
import type { SnapshotFrom } from 'xstate';
import type { SessionMachine } from '../../machines/session.machine.js';
import type { SessionState } from '../../machines/session.states.js';
import type { SessionKey } from '../store/session-key.js';
import type { SessionMeta } from '../store/session-store.js';
import type { SessionFacts } from './session-facts.js';
import type { SessionFault, SessionView } from './session-view-schema.js';

export type { SessionFault, SessionView } from './session-view-schema.js';

export interface ViewSource {
  key: SessionKey;
  meta: SessionMeta;
  /** `meta` is the stored metadata, not the default of a session just listed. */
  metaKnown?: boolean;
  facts: SessionFacts;
  /** The owning holder, when known. */
  owner: string | null;
  /** Another live process owns the session: this one knows only its metadata. */
  ownedElsewhere: boolean;
  /** Damaged stored state, when found. */
  fault?: SessionFault | null;
  /** Owned elsewhere: what its owner last announced of it (the cluster's session.status events). */
  remote?: RemoteStatus | null;
}

/** A session's state as the node running it announced it (a session.status event's payload). */
export interface RemoteStatus {
  state: SessionState;
  status: string;
  attempt: number;
  nextRetryAt: string | null;
  lastDisconnect: SessionView['lastDisconnect'];
  terminatedReason: string | null;
}

/** Meant to run and whole, with no actor here: waiting for an owner, or (held here) about to start. */
function meantToRun(source: ViewSource): boolean {
  return Boolean(source.metaKnown) && !source.ownedElsewhere && !source.fault && source.meta.shouldRun && !source.meta.terminatedReason;
}

/** "connecting.awaitingQr" from { connecting: 'awaitingQr' }. */
export function statePath(value: unknown): string {
  if (typeof value === 'string') return value;
  const [[parent, child]] = Object.entries(value as Record<string, unknown>) as [[string, unknown]];
  return `${parent}.${statePath(child)}`;
}

/**
 * The status of a session that should run and that no process runs at the moment (a
 * cluster booting, a node gone and not yet taken over, a start that failed and is
 * retried): it is on its way to connecting, not ended — a monitor must not read it as dead.
 */
export const awaitingOwnerStatus = 'connecting.awaitingOwner';

/** A session this process has just taken and is starting (its actor's first state). */
const startingStatus = 'connecting.queued';

export function toSessionView(source: ViewSource, snapshot: SnapshotFrom<SessionMachine> | null): SessionView {
  const iso = (date: Date | null) => (date ? date.toISOString() : null);
  if (!snapshot) {
    // No actor: nothing runs here, so only the stored facts speak.
    const idle = {
      ...source.key,
      attempt: 0,
      nextRetryAt: null,
      openSince: null,
      createdAt: source.meta.createdAt,
      reconnects: source.facts.earlierReconnects,
      lastDisconnect: null,
      me: null,
    };
    if (source.ownedElsewhere && source.remote) {
      // Run by another node: shown as that node last announced it, never as ended here.
      const { state, status, attempt, nextRetryAt, lastDisconnect, terminatedReason } = source.remote;
      return { ...idle, state, status, attempt, nextRetryAt, lastDisconnect, terminatedReason, owner: source.owner };
    }
    if (meantToRun(source)) {
      // Held here between taking the lease and starting its actor: its start is under way, as the machine's first state says.
      const status = source.owner === null ? awaitingOwnerStatus : startingStatus;
      return { ...idle, state: 'connecting', status, terminatedReason: null, owner: source.owner };
    }
    return {
      ...idle,
      state: 'terminated',
      status: 'terminated',
      // Damage is never shown as an operator's stop: the reason names it.
      terminatedReason: source.ownedElsewhere ? 'ownedElsewhere' : (source.fault?.code ?? source.meta.terminatedReason ?? 'stopped'),
      owner: source.owner,
      ...(source.fault && !source.ownedElsewhere ? { error: { ...source.fault } } : {}),
    };
  }
  const { context } = snapshot;
  if (context.terminatedReason === 'handedOver') {
    // Ended here, not ended: the session waits for the node it was handed to (the lease is
    // still this one's while its last events are stored).
    return { ...toSessionView(source, null), state: 'connecting', status: awaitingOwnerStatus, terminatedReason: null, owner: source.owner };
  }
  const { facts } = source;
  const status = statePath(snapshot.value);
  return {
    ...source.key,
    // The path's first name is a top-level state of the machine (test/machine/session-states.test.ts).
    state: status.split('.')[0] as SessionState,
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
