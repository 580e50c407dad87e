/**
 * Everything that can happen to a session, as events, and the contract of the
 * `connection` actor that does the I/O for one connection attempt.
 */
import type { StopReason } from './close-rules.js';
import type { SessionPolicy } from './session.policy.js';

/** Who the connected account is, as Baileys reports it (`sock.user`). */
export interface AccountIdentity {
  id: string;
  name?: string;
}

// ---- sent by the `connection` actor to its parent session ----
export type ConnectionEvent =
  // Once per attempt: the attempt holds its admission slot (at once when there is
  // no admission control). The connect deadline starts here, not while queued.
  | { type: 'CONNECTION.ADMITTED' }
  // Once per attempt: the first frame from the server arrived (the Noise
  // handshake's server hello). An attempt that closes without it never reached
  // WhatsApp: an outage, which does not spend the give-up budget.
  | { type: 'CONNECTION.REACHED' }
  | { type: 'CONNECTION.QR'; qr: string }
  | { type: 'CONNECTION.OPEN'; me?: AccountIdentity }
  // `outage`: the server answered but never proved it is WhatsApp (its certificate chain
  // was refused): an outage like one that never answered, whatever frames arrived.
  | { type: 'CONNECTION.CLOSED'; statusCode?: number; message?: string; outage?: boolean }
  // Probe results, reported the way whatsmeow's keepalive does: every failure,
  // but an answer only when it ends a run of failures. A healthy link's answers
  // change nothing, so they are not worth an event each.
  | { type: 'PING.FAILED'; error: string }
  | { type: 'PING.RESTORED' };

// ---- sent by the session to its `connection` actor ----
export type ConnectionCommand = { type: 'PING' } | { type: 'LOGOUT' };

/** What the session gives each `connection` actor it starts. */
export interface ConnectionInput {
  userId: string;
  sessionId: string;
  /** 1 for the first connect; grows with every reconnect. */
  connectionNumber: number;
  /** The connection must answer a PING within this, or report PING.FAILED. */
  probeTimeoutMs: number;
}

// ---- sent by operators (the session manager) ----
export type OperatorEvent =
  | { type: 'STOP'; reason?: StopReason } // terminate, keep credentials; reason defaults to 'stopped' (an operator's)
  | { type: 'LOGOUT' } // unlink the device, wipe credentials
  | { type: 'RECONNECT' } // from backingOff: connect now, counters reset
  | { type: 'WAKE' } // from backingOff: connect now, counters kept (WhatsApp is reachable again)
  | { type: 'LINK.SUSPECT' }; // from open: a message written to the socket was not acknowledged; probe the link now

// ---- raised by the session itself on its own clock ----
// `tick` counts the interval's firings in the current connected period (the
// first is 1), so uptime is tick × interval without a counter in the context.
export type TimerEvent =
  | { type: 'TIMER.KEEP_ALIVE' }
  | { type: 'TIMER.HEALTH_CHECK'; tick: number }
  | { type: 'TIMER.MILESTONE'; tick: number };

export type SessionEvent = ConnectionEvent | OperatorEvent | TimerEvent;

export interface SessionInput {
  userId: string;
  sessionId: string;
  policy?: Partial<SessionPolicy>;
}
