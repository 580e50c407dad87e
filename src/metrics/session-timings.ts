/**
 * What the metrics learn from a stream of session views (the manager's
 * 'transition' events): how long a connection attempt took to open, how long
 * a session was down between a close and the next open, which sessions
 * reconnected and why one ended. It keeps a few numbers per session and
 * nothing once the session is gone (forgetAllBut).
 */
import type { SessionView } from '../service/session-view.js';

export interface TransitionFacts {
  /** Attempt start → open, in seconds; not measured when a person was scanning a QR meanwhile. */
  connectSeconds?: number;
  /** First close (or drop) → next open, in seconds. */
  recoverySeconds?: number;
  /** A new connection attempt after the session had been connected or backing off. */
  reconnected?: boolean;
  /** The session just ended, for this reason. */
  terminatedReason?: string;
}

interface Track {
  state: string;
  status: string;
  lastCloseAt: string | null;
  connectingSinceMs: number | null;
  /** A QR was shown during this attempt: its duration is a person's, not the network's. */
  pairing: boolean;
  downSinceMs: number | null;
}

const connected = new Set(['open', 'degraded']);

export class SessionTimings {
  private readonly tracks = new Map<string, Track>();

  /** Feed every view in order; `nowMs` is when it happened (a monotonic clock). */
  observe(view: SessionView, nowMs: number): TransitionFacts {
    const key = `${view.userId}/${view.sessionId}`;
    const previous = this.tracks.get(key);
    const track: Track = previous
      ? { ...previous }
      : { state: 'terminated', status: 'terminated', lastCloseAt: null, connectingSinceMs: null, pairing: false, downSinceMs: null };
    const facts: TransitionFacts = {};
    const wasState = previous?.state;

    const closeAt = view.lastDisconnect?.at ?? null;
    const newClose = view.lastDisconnect !== null && closeAt !== track.lastCloseAt;
    const dropped = wasState !== undefined && connected.has(wasState) && !connected.has(view.state);
    if ((newClose || dropped) && view.state !== 'terminated') track.downSinceMs ??= nowMs;

    if (view.state === 'connecting') {
      const afterPairing = track.status === 'connecting.awaitingQr' && view.status !== 'connecting.awaitingQr';
      if (wasState !== 'connecting' || afterPairing) {
        if (wasState !== undefined && wasState !== 'terminated' && wasState !== 'connecting') facts.reconnected = true;
        track.connectingSinceMs = nowMs;
        track.pairing = false;
      }
      if (view.status === 'connecting.awaitingQr') track.pairing = true;
    }

    if (view.state === 'open' && !connected.has(wasState ?? '')) {
      if (track.connectingSinceMs !== null && !track.pairing) facts.connectSeconds = (nowMs - track.connectingSinceMs) / 1000;
      if (track.downSinceMs !== null) facts.recoverySeconds = (nowMs - track.downSinceMs) / 1000;
      track.connectingSinceMs = null;
      track.downSinceMs = null;
    }

    // Only a session seen alive can end: a first view that says terminated is a stale one (a start reported
    // before the new actor was in place), not a termination.
    if (view.state === 'terminated' && wasState !== undefined && wasState !== 'terminated') {
      facts.terminatedReason = view.terminatedReason ?? 'unknown';
      track.connectingSinceMs = null;
      track.downSinceMs = null;
    }

    track.state = view.state;
    track.status = view.status;
    track.lastCloseAt = closeAt;
    this.tracks.set(key, track);
    return facts;
  }

  /** Drops every session not in `keys` (deleted ones). */
  forgetAllBut(keys: ReadonlySet<string>): void {
    for (const key of this.tracks.keys()) if (!keys.has(key)) this.tracks.delete(key);
  }

  get size(): number {
    return this.tracks.size;
  }
}
