/**
 * Turns what the registry reports into fleet events. It only listens: every
 * listener is synchronous and hands the events to `emit` without waiting, so
 * nothing here can hold up a session's state machine.
 *
 * A process speaks only for the sessions it owns (view.owner is this node):
 * two processes on one folder never announce the same transition twice. The
 * one exception is the move itself: `session.owner` is announced by the node
 * that took the session.
 */
import { createHash } from 'node:crypto';
import type { SessionView } from '../service/session-view.js';
import type { SessionKey } from '../store/session-key.js';
import type { EventIdFactory } from './event-id.js';
import type { EventType, FleetEvent } from './fleet-event.js';

/** The part of the registry events are made from. */
export interface EventSourceRegistry {
  on(event: 'transition', listener: (view: SessionView) => void): unknown;
  on(event: 'removed', listener: (key: SessionKey) => void): unknown;
  off(event: 'transition', listener: (view: SessionView) => void): unknown;
  off(event: 'removed', listener: (key: SessionKey) => void): unknown;
  list(): SessionView[];
  /** The QR text on offer; throws when none is. */
  pendingQr(userId: string, sessionId: string): string;
}

interface Seen {
  state: string | null;
  disconnectAt: string | null;
  /** The last non-null owner seen. */
  owner: string | null;
  /** A digest of the last QR announced, not the QR: nothing secret is kept here. */
  qrDigest: string | null;
  ownedHere: boolean;
}

export class SessionEventSource {
  private readonly seen = new Map<string, Seen>();
  private readonly onTransition = (view: SessionView) => this.transition(view);
  private readonly onRemoved = (key: SessionKey) => this.removed(key);

  constructor(
    private readonly registry: EventSourceRegistry,
    private readonly node: string,
    private readonly ids: EventIdFactory,
    private readonly emit: (events: FleetEvent[]) => void,
    private readonly now: () => Date = () => new Date(),
  ) {}

  attach(): void {
    this.registry.on('transition', this.onTransition);
    this.registry.on('removed', this.onRemoved);
  }

  detach(): void {
    this.registry.off('transition', this.onTransition);
    this.registry.off('removed', this.onRemoved);
  }

  /** Boot restores have run: one `session.restored` per session this node now runs. */
  announceRestored(): void {
    const views = this.registry.list().filter((view) => view.owner === this.node && view.state !== 'terminated');
    const events = views.map((view) => this.event('session.restored', view, { state: view.state, status: view.status }));
    if (events.length > 0) this.emit(events);
  }

  private transition(view: SessionView): void {
    const key = `${view.userId}/${view.sessionId}`;
    const before = this.seen.get(key);
    const ownedHere = view.owner === this.node;
    const disconnectAt = view.lastDisconnect?.at ?? null;
    // The last owner known, kept through the moments a lease is between holders (null).
    const now: Seen = { state: view.state, disconnectAt, owner: view.owner ?? before?.owner ?? null, qrDigest: before?.qrDigest ?? null, ownedHere };
    const events: FleetEvent[] = [];
    if (ownedHere && before && before.owner !== null && before.owner !== this.node) {
      events.push(this.event('session.owner', view, { owner: view.owner, previousOwner: before.owner }));
    }
    if (ownedHere) {
      const stateChanged = before?.state !== view.state || !before.ownedHere;
      if (stateChanged || (disconnectAt !== null && disconnectAt !== before?.disconnectAt)) {
        events.push(
          this.event('session.status', view, {
            state: view.state,
            status: view.status,
            previousState: before?.ownedHere ? before.state : null,
            attempt: view.attempt,
            nextRetryAt: view.nextRetryAt,
            lastDisconnect: view.lastDisconnect,
            terminatedReason: view.terminatedReason,
          }),
        );
      }
      if (stateChanged && view.state === 'terminated') {
        events.push(this.event('session.terminated', view, { reason: view.terminatedReason, lastDisconnect: view.lastDisconnect }));
      }
      if (view.status === 'connecting.awaitingQr') {
        const qr = this.pendingQr(view);
        const digest = qr === null ? null : createHash('sha256').update(qr).digest('hex');
        if (qr !== null && digest !== before?.qrDigest) {
          now.qrDigest = digest;
          events.push(this.event('session.qr', view, { qr, attempt: view.attempt }));
        }
      } else {
        now.qrDigest = null;
      }
    }
    this.seen.set(key, now);
    if (events.length > 0) this.emit(events);
  }

  private removed(key: SessionKey): void {
    const name = `${key.userId}/${key.sessionId}`;
    const before = this.seen.get(name);
    this.seen.delete(name);
    if (before?.owner === this.node) this.emit([this.event('session.removed', key, {})]);
  }

  private pendingQr(view: SessionView): string | null {
    try {
      return this.registry.pendingQr(view.userId, view.sessionId);
    } catch {
      return null;
    }
  }

  private event(type: EventType, key: SessionKey, payload: Record<string, unknown>): FleetEvent {
    return { id: this.ids.next(), type, userId: key.userId, sessionId: key.sessionId, node: this.node, time: this.now().toISOString(), payload };
  }
}
