/**
 * What a session's view needs beyond its machine snapshot: wall-clock facts
 * (when it opened, when it retries, when it last closed) and the counters behind
 * /metrics, derived from one snapshot change at a time.
 */
import type { SnapshotFrom } from 'xstate';
import type { SessionMachine } from '../../machines/session.machine.js';
import { statePath } from './session-view.js';

type Snapshot = SnapshotFrom<SessionMachine>;

/** Counters behind /metrics, shared by every session of the process. */
export interface FleetCounters {
  reconnectAttempts: number;
  closesByStatusCode: Map<string, number>;
}

export class SessionFacts {
  /** When the current connected period began. */
  openSince: Date | null = null;
  nextRetryAt: Date | null = null;
  lastDisconnectAt: Date | null = null;
  /** Reconnects of earlier actors of this session (this process). */
  earlierReconnects = 0;

  constructor(private readonly counters: FleetCounters) {}

  /** Records one snapshot change; true when it is news for the fleet's outage watch (a new state or a new disconnect). */
  observe(previous: Snapshot | null, snapshot: Snapshot): boolean {
    const now = new Date();
    const { context } = snapshot;
    if (context.connected && !previous?.context.connected) this.openSince = now;
    if (!context.connected) this.openSince = null;
    const newDisconnect = context.lastDisconnect !== null && context.lastDisconnect !== previous?.context.lastDisconnect;
    if (newDisconnect) {
      this.lastDisconnectAt = now;
      const code = String(context.lastDisconnect?.statusCode ?? 'none');
      this.counters.closesByStatusCode.set(code, (this.counters.closesByStatusCode.get(code) ?? 0) + 1);
    }
    if (!snapshot.matches('backingOff')) this.nextRetryAt = null;
    else if (!previous?.matches('backingOff')) {
      this.counters.reconnectAttempts += 1;
      this.nextRetryAt = new Date(now.getTime() + (context.retryDelayMs ?? 0));
    }
    // Timer ticks change the snapshot every few minutes per session; only a new
    // state or a new disconnect tells the fleet anything about WhatsApp's reach.
    return !previous || newDisconnect || statePath(snapshot.value) !== statePath(previous.value);
  }

  /** A new actor replaces an ended one: its reconnects are remembered. */
  carryOver(ended: Snapshot): void {
    this.earlierReconnects += Math.max(0, ended.context.connectionCount - 1);
  }
}
