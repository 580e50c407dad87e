/**
 * Readable names for what moved a session: "after 3 s backoff" instead of
 * `xstate.after.reconnectDelay.session.backingOff`, "connection closed 428"
 * instead of a bare event type. Used by the inspector's log only.
 */

/** The context fields a name may need (the one before the event was handled). */
export interface NamingContext {
  retryDelayMs?: number | null;
  policy?: Partial<Record<'connectDeadlineMs' | 'stableAfterMs' | 'degradedProbeIntervalMs' | 'degradedTimeoutMs', number>>;
}

/** "3 s", "1.5 s", "2 min", "250 ms". */
export function duration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${Number((ms / 1_000).toFixed(1))} s`;
  return `${Number((ms / 60_000).toFixed(1))} min`;
}

/** What each named delay of the machine means; its length is read from the context. */
const delayMeanings: Record<string, { words: string; ms: (context: NamingContext) => number | null | undefined }> = {
  reconnectDelay: { words: 'backoff', ms: (c) => c.retryDelayMs },
  connectDeadline: { words: 'connect deadline', ms: (c) => c.policy?.connectDeadlineMs },
  stableAfter: { words: 'stable', ms: (c) => c.policy?.stableAfterMs },
  degradedProbeInterval: { words: 're-probe', ms: (c) => c.policy?.degradedProbeIntervalMs },
  degradedTimeout: { words: 'no probe answered', ms: (c) => c.policy?.degradedTimeoutMs },
};

const fixedNames: Record<string, string> = {
  'xstate.init': 'started',
  'CONNECTION.ADMITTED': 'admitted to connect',
  'CONNECTION.REACHED': 'WhatsApp answered',
  'CONNECTION.OPEN': 'logged in',
  WAKE: 'woken: WhatsApp is back',
  'CONNECTION.QR': 'QR shown',
  'PING.FAILED': 'probe failed',
  'PING.RESTORED': 'probe answered',
  'TIMER.KEEP_ALIVE': 'keep-alive timer',
  'TIMER.HEALTH_CHECK': 'health-check timer',
  'TIMER.MILESTONE': 'milestone timer',
  'xstate.error.actor.connection': 'connection crashed',
};

/** A delay's event type, `xstate.after.<delay>.<state id>`, or a delay name alone: the delay's name. */
export function delayName(eventType: string): string | null {
  const match = /^xstate\.after\.([^.]+)/.exec(eventType);
  return match ? match[1]! : null;
}

/** "after 3 s backoff" with a context, "after backoff" without one. */
export function delayLabel(delay: string, context?: NamingContext): string {
  const meaning = delayMeanings[delay];
  if (!meaning) return `after ${delay}`;
  const ms = context ? meaning.ms(context) : null;
  return typeof ms === 'number' ? `after ${duration(ms)} ${meaning.words}` : `after ${meaning.words}`;
}

export function eventName(eventType: string, context?: NamingContext, detail: { statusCode?: number; message?: string } = {}): string {
  const delay = delayName(eventType);
  if (delay) return delayLabel(delay, context);
  if (eventType === 'CONNECTION.CLOSED') {
    const code = detail.statusCode === undefined ? 'without a code' : String(detail.statusCode);
    return `connection closed ${code}${detail.message ? ` (${detail.message})` : ''}`;
  }
  return fixedNames[eventType] ?? eventType;
}

/** Timers that fire on their own and, when they change nothing, are noise in a log. */
export function isTimerEvent(eventType: string): boolean {
  return eventType.startsWith('TIMER.') || eventType.startsWith('xstate.after.');
}
