/**
 * Failed authentications, counted per client address in fixed windows. Past
 * maxFailures in a window, the address gets 429 until the window ends, right
 * key or not: a guesser learns nothing more. The first failure of a window is
 * logged (with the address), the rest are only counted, so a flood of wrong
 * keys cannot flood the logs either.
 *
 * Defaults: 10 failures per 60 s window; at most 10 000 addresses tracked
 * (the oldest forgotten first), so a spread-out attack cannot grow memory.
 */
export interface AuthThrottleOptions {
  /** Default 10. */
  maxFailures?: number;
  /** Default 60 000. */
  windowMs?: number;
  /** Default 10 000. */
  maxTrackedAddresses?: number;
  /** Default Date.now. */
  now?: () => number;
}

interface Window {
  startedAt: number;
  failures: number;
}

export type FailureVerdict = { log: boolean; failuresInWindow: number };

export class AuthThrottle {
  readonly maxFailures: number;
  readonly windowMs: number;
  private readonly maxTrackedAddresses: number;
  private readonly now: () => number;
  private readonly windows = new Map<string, Window>();

  constructor(options: AuthThrottleOptions = {}) {
    this.maxFailures = options.maxFailures ?? 10;
    this.windowMs = options.windowMs ?? 60_000;
    this.maxTrackedAddresses = options.maxTrackedAddresses ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /** Milliseconds until `address` may try again, or 0 when it is not blocked. */
  blockedForMs(address: string): number {
    const window = this.current(address);
    if (!window || window.failures < this.maxFailures) return 0;
    return window.startedAt + this.windowMs - this.now();
  }

  /** Counts a failure; `log` is true for the first one of the window. */
  recordFailure(address: string): FailureVerdict {
    let window = this.current(address);
    if (!window) {
      window = { startedAt: this.now(), failures: 0 };
      if (this.windows.size >= this.maxTrackedAddresses) this.windows.delete(this.windows.keys().next().value!);
      this.windows.set(address, window);
    }
    window.failures += 1;
    return { log: window.failures === 1, failuresInWindow: window.failures };
  }

  get trackedAddresses(): number {
    return this.windows.size;
  }

  private current(address: string): Window | null {
    const window = this.windows.get(address);
    if (!window) return null;
    if (this.now() - window.startedAt < this.windowMs) return window;
    this.windows.delete(address);
    return null;
  }
}
