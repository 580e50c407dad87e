/**
 * What the metrics learn from the sessions' changes (the registry's 'change'
 * events): how long a connection attempt took to open, how long a session was
 * down between a close and the next open, which sessions reconnected and why
 * one ended. What changed is read from the change itself; only the clocks
 * (when an attempt or an outage began) are kept per session, and nothing once
 * the session is gone (forgetAllBut).
 */
import type { SessionChange } from '../session/session-change.js';

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

/** The clocks of one session: nothing a view says, only when things began. */
interface Track {
  connectingSinceMs: number | null;
  /** A QR was shown during this attempt: its duration is a person's, not the network's. */
  pairing: boolean;
  downSinceMs: number | null;
}

const connected = new Set(['open', 'degraded']);

export class SessionTimings {
  private readonly tracks = new Map<string, Track>();

  /** Feed every change in order; `nowMs` is when it happened (a monotonic clock). */
  observe(change: SessionChange, nowMs: number): TransitionFacts {
    const { before, after: view } = change;
    const key = `${view.userId}/${view.sessionId}`;
    const track: Track = this.tracks.get(key) ?? { connectingSinceMs: null, pairing: false, downSinceMs: null };
    const facts: TransitionFacts = {};
    const wasState = before?.state;
    const wasStatus = before?.status ?? 'terminated';

    const closeAt = view.lastDisconnect?.at ?? null;
    const newClose = view.lastDisconnect !== null && closeAt !== (before?.lastDisconnect?.at ?? null);
    const dropped = wasState !== undefined && connected.has(wasState) && !connected.has(view.state);
    if ((newClose || dropped) && view.state !== 'terminated') track.downSinceMs ??= nowMs;

    if (view.state === 'connecting') {
      const afterPairing = wasStatus === 'connecting.awaitingQr' && view.status !== 'connecting.awaitingQr';
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

    // Only a session seen alive can end: a first view that says terminated is not a termination.
    if (view.state === 'terminated' && wasState !== undefined && wasState !== 'terminated') {
      facts.terminatedReason = view.terminatedReason ?? 'unknown';
      track.connectingSinceMs = null;
      track.downSinceMs = null;
    }

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
