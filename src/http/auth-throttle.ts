/**
 * Failed authentications, counted per client address in fixed windows. What
 * is throttled is the failure, not the address: past maxFailures in a window,
 * a wrong key from that address gets 429 until the window ends, while the
 * right key always passes — one guessing client behind a NAT or a proxy
 * cannot lock out everyone else there. (API_KEY's 16+ characters are what make
 * guessing hopeless; the throttle bounds the work and the log a guesser causes.)
 *
 * Logging: at most one line per address per window, and at most
 * maxLoggedPerWindow such lines in all per window however many addresses a
 * spray comes from; the failures not logged are summed up in one summary line
 * per window (`summary`, from the first failure after the window, or flush()).
 *
 * Defaults: 10 failures per 60 s window; 10 lines per window; at most 10 000
 * addresses tracked (the oldest forgotten first), so a spread-out attack cannot grow memory.
 */
export interface AuthThrottleOptions {
  /** Default 10. */
  maxFailures?: number;
  /** Default 60 000. */
  windowMs?: number;
  /** Default 10 000. */
  maxTrackedAddresses?: number;
  /** Per-address lines logged per window across all addresses. Default 10. */
  maxLoggedPerWindow?: number;
  /** Default Date.now. */
  now?: () => number;
}

interface Window {
  startedAt: number;
  failures: number;
}

/** The failures of one past window that were counted but not logged one by one. */
export interface FailureSummary {
  failures: number;
  addresses: number;
  windowMs: number;
}

export type FailureVerdict = {
  /** Log this failure (the address's first in its window, while the window's line budget lasts). */
  log: boolean;
  failuresInWindow: number;
  /** Log this first: the previous window's unlogged failures. */
  summary: FailureSummary | null;
};

export class AuthThrottle {
  readonly maxFailures: number;
  readonly windowMs: number;
  private readonly maxTrackedAddresses: number;
  private readonly maxLoggedPerWindow: number;
  private readonly now: () => number;
  private readonly windows = new Map<string, Window>();
  /** The log budget's own window, shared by all addresses. */
  private logWindow = { startedAt: -Infinity, logged: 0, unlogged: 0, unloggedAddresses: new Set<string>() };

  constructor(options: AuthThrottleOptions = {}) {
    this.maxFailures = options.maxFailures ?? 10;
    this.windowMs = options.windowMs ?? 60_000;
    this.maxTrackedAddresses = options.maxTrackedAddresses ?? 10_000;
    this.maxLoggedPerWindow = options.maxLoggedPerWindow ?? 10;
    this.now = options.now ?? Date.now;
  }

  /** Milliseconds until a wrong key from `address` is answered 401 again, or 0 when it is not blocked. */
  blockedForMs(address: string): number {
    const window = this.current(address);
    if (!window || window.failures < this.maxFailures) return 0;
    return window.startedAt + this.windowMs - this.now();
  }

  /** Counts a failure (a blocked one too). */
  recordFailure(address: string): FailureVerdict {
    const summary = this.rollLogWindow();
    let window = this.current(address);
    if (!window) {
      window = { startedAt: this.now(), failures: 0 };
      if (this.windows.size >= this.maxTrackedAddresses) this.windows.delete(this.windows.keys().next().value!);
      this.windows.set(address, window);
    }
    window.failures += 1;
    let log = false;
    if (window.failures === 1 && this.logWindow.logged < this.maxLoggedPerWindow) {
      this.logWindow.logged += 1;
      log = true;
    } else {
      this.logWindow.unlogged += 1;
      // Bounded like the windows: past the cap, the count of addresses is a lower bound.
      if (this.logWindow.unloggedAddresses.size < this.maxTrackedAddresses) this.logWindow.unloggedAddresses.add(address);
    }
    return { log, failuresInWindow: window.failures, summary };
  }

  /** The summary of a finished window not reported yet (a timer calls this so a spray that stopped is still summed up). */
  flush(): FailureSummary | null {
    return this.rollLogWindow();
  }

  get trackedAddresses(): number {
    return this.windows.size;
  }

  private rollLogWindow(): FailureSummary | null {
    const now = this.now();
    if (now - this.logWindow.startedAt < this.windowMs) return null;
    const { unlogged, unloggedAddresses } = this.logWindow;
    this.logWindow = { startedAt: now, logged: 0, unlogged: 0, unloggedAddresses: new Set() };
    return unlogged > 0 ? { failures: unlogged, addresses: unloggedAddresses.size, windowMs: this.windowMs } : null;
  }

  private current(address: string): Window | null {
    const window = this.windows.get(address);
    if (!window) return null;
    if (this.now() - window.startedAt < this.windowMs) return window;
    this.windows.delete(address);
    return null;
  }
}
