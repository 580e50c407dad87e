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
import type { SessionChange } from '../session/session-change.js';
import type { SessionFeed } from '../session/session-feed.js';
import type { SessionView } from '../session/session-view.js';
import type { SessionKey } from '../store/session-key.js';
import type { EventIdFactory } from './event-id.js';
import type { EventType, FleetEvent } from './fleet-event.js';

/** The part of the registry events are made from. */
export interface EventSourceRegistry extends SessionFeed {
  list(): SessionView[];
  /** The QR text on offer; throws when none is. */
  pendingQr(userId: string, sessionId: string): string;
}

export class SessionEventSource {
  /**
   * A digest of the QR last announced per session (not the QR: nothing secret is
   * kept here). The QR is not part of a view, so its change is not in a SessionChange.
   */
  private readonly qrDigests = new Map<string, string>();
  private readonly onChange = (change: SessionChange) => this.changed(change);
  private readonly onRemoved = (key: SessionKey, lastOwner: string | null) => this.removed(key, lastOwner);

  constructor(
    private readonly registry: EventSourceRegistry,
    private readonly node: string,
    private readonly ids: EventIdFactory,
    private readonly emit: (events: FleetEvent[]) => void,
    private readonly now: () => Date = () => new Date(),
  ) {}

  attach(): void {
    this.registry.on('change', this.onChange);
    this.registry.on('removed', this.onRemoved);
  }

  detach(): void {
    this.registry.off('change', this.onChange);
    this.registry.off('removed', this.onRemoved);
  }

  /** Boot restores have run: one `session.restored` per session this node now runs. */
  announceRestored(): void {
    const views = this.registry.list().filter((view) => view.owner === this.node && view.state !== 'terminated');
    const events = views.map((view) => this.event('session.restored', view, { state: view.state, status: view.status }));
    if (events.length > 0) this.emit(events);
  }

  private changed(change: SessionChange): void {
    const { before, after: view, previousOwner } = change;
    const key = `${view.userId}/${view.sessionId}`;
    const ownedHere = view.owner === this.node;
    const wasOwnedHere = before?.owner === this.node;
    const disconnectAt = view.lastDisconnect?.at ?? null;
    const events: FleetEvent[] = [];
    if (ownedHere && previousOwner !== null && previousOwner !== this.node) {
      events.push(this.event('session.owner', view, { owner: view.owner, previousOwner }));
    }
    if (ownedHere) {
      // Taking a session that is down (a restore that does not start it) is not its ending:
      // a newly held session is news when it runs, or when its stored state is damaged.
      const gainedHere = !wasOwnedHere && (view.state !== 'terminated' || view.error !== undefined);
      const stateChanged = before?.state !== view.state || gainedHere;
      if (stateChanged || (disconnectAt !== null && disconnectAt !== (before?.lastDisconnect?.at ?? null))) {
        events.push(
          this.event('session.status', view, {
            state: view.state,
            status: view.status,
            previousState: wasOwnedHere ? before.state : null,
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
        if (qr !== null && digest !== null && digest !== this.qrDigests.get(key)) {
          this.qrDigests.set(key, digest);
          events.push(this.event('session.qr', view, { qr, attempt: view.attempt }));
        }
      } else {
        this.qrDigests.delete(key);
      }
    }
    if (events.length > 0) this.emit(events);
  }

  private removed(key: SessionKey, lastOwner: string | null): void {
    this.qrDigests.delete(`${key.userId}/${key.sessionId}`);
    if (lastOwner === this.node) this.emit([this.event('session.removed', key, {})]);
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
