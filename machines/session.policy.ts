/**
 * The timing policy of one session: how it reconnects, probes and reports.
 *
 * Every number is in milliseconds and is read by the session machine's named
 * delays, so every timer runs on the actor's clock (a SimulatedClock in tests).
 */
export interface SessionPolicy {
  /** Wait before reconnect attempt N is `reconnectDelaysMs[min(N-1, last)]`. */
  reconnectDelaysMs: readonly number[];
  /**
   * The give-up budget: exactly this many consecutive reconnection attempts that
   * reached WhatsApp but never reached `open`, then the session ends as
   * `maxAttempts` (the first connect or the drop that began the run is not one).
   * Attempts that never reached WhatsApp (an outage) and flaps do not spend it.
   * 0: never give up.
   */
  maxReconnectAttempts: number;
  /** Our own end-to-end probe (a `w:p` ping iq) while connected. */
  keepAliveIntervalMs: number;
  /** How often a connected session logs "Session health check". */
  healthCheckIntervalMs: number;
  /** Uptime between two "Session milestone" lines (one hour). */
  milestoneIntervalMs: number;
  /** An `open` that lasts this long resets the attempt counter; a shorter one is a flap. */
  stableAfterMs: number;
  /**
   * How long the connection waits for a probe's answer before reporting PING.FAILED.
   * 12 s, as the link watch's probe: an answer up to 10 s late still counts (at 10 s,
   * every probe of a slow-but-alive server failed and degraded led to backingOff).
   */
  probeTimeoutMs: number;
  /** While degraded, probe this often to learn whether the link came back. */
  degradedProbeIntervalMs: number;
  /** Degraded this long without a good probe: the link is dead, back off. */
  degradedTimeoutMs: number;
  /**
   * A connect that produces neither QR, open nor close by then is abandoned.
   * Baileys can hang forever (HTTP 403 at the upgrade; a login that never comes).
   */
  connectDeadlineMs: number;
  /** Each reconnect delay is stretched by up to this fraction; never shortened. */
  jitterRatio: number;
}

export const defaultSessionPolicy: Readonly<SessionPolicy> = Object.freeze({
  reconnectDelaysMs: Object.freeze([3_000, 10_000, 30_000, 60_000, 120_000]),
  maxReconnectAttempts: 10,
  keepAliveIntervalMs: 300_000,
  healthCheckIntervalMs: 300_000,
  milestoneIntervalMs: 3_600_000,
  stableAfterMs: 60_000,
  probeTimeoutMs: 12_000,
  degradedProbeIntervalMs: 10_000,
  degradedTimeoutMs: 30_000,
  connectDeadlineMs: 75_000,
  jitterRatio: 0,
});

export class PolicyError extends Error {
  readonly code = 'ERR_INVALID_POLICY';
  constructor(
    readonly field: keyof SessionPolicy,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'PolicyError';
  }
}

const durationFields = [
  'keepAliveIntervalMs',
  'healthCheckIntervalMs',
  'milestoneIntervalMs',
  'stableAfterMs',
  'probeTimeoutMs',
  'degradedProbeIntervalMs',
  'degradedTimeoutMs',
  'connectDeadlineMs',
] as const;

/** Defaults overlaid with `overrides`; throws a PolicyError naming the first bad field. */
export function resolvePolicy(overrides: Partial<SessionPolicy> = {}): SessionPolicy {
  const policy: SessionPolicy = { ...defaultSessionPolicy, ...dropUndefined(overrides) };
  for (const field of durationFields) {
    const value = policy[field];
    if (!Number.isFinite(value) || value <= 0) {
      throw new PolicyError(field, `must be a positive number of milliseconds, got ${String(value)}`);
    }
  }
  const delays = policy.reconnectDelaysMs;
  if (!Array.isArray(delays) || delays.length === 0 || delays.some((d) => !Number.isFinite(d) || d < 0)) {
    throw new PolicyError('reconnectDelaysMs', 'must be a non-empty list of non-negative milliseconds');
  }
  if (!Number.isInteger(policy.maxReconnectAttempts) || policy.maxReconnectAttempts < 0) {
    throw new PolicyError('maxReconnectAttempts', 'must be a whole number >= 0');
  }
  if (!Number.isFinite(policy.jitterRatio) || policy.jitterRatio < 0 || policy.jitterRatio > 1) {
    throw new PolicyError('jitterRatio', 'must be between 0 and 1');
  }
  return { ...policy, reconnectDelaysMs: [...delays] };
}

/** The base wait before reconnect attempt `attempt` (1-based); the last entry repeats. */
export function baseReconnectDelayMs(policy: SessionPolicy, attempt: number): number {
  const delays = policy.reconnectDelaysMs;
  const index = Math.min(Math.max(attempt, 1) - 1, delays.length - 1);
  return delays[index] ?? 0;
}

/**
 * The wait before attempt `attempt`, stretched by jitter. `random` is a number in
 * [0, 1); jitter only ever lengthens the wait so a storm spreads out, never
 * hammers the server sooner than the schedule says.
 */
export function reconnectDelayMs(policy: SessionPolicy, attempt: number, random: number): number {
  const base = baseReconnectDelayMs(policy, attempt);
  return Math.round(base * (1 + policy.jitterRatio * random));
}

function dropUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
