/**
 * A counting semaphore: at most `limit` deliveries starting at once across
 * subscriptions. Waiters are served first come, first served; a waiter whose
 * signal fires (its subscription deleted, or shutdown) leaves the line at once
 * instead of waiting for its turn.
 */
export class Slots {
  private used = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {
    if (!(limit >= 1)) throw new RangeError('limit: must be at least 1');
  }

  get inFlight(): number {
    return this.used;
  }

  /** Resolves with a release function (idempotent) once a slot is free; null when `signal` fired first. */
  async acquire(signal?: AbortSignal): Promise<(() => void) | null> {
    if (signal?.aborted) return null;
    if (this.used >= this.limit) {
      const granted = await new Promise<boolean>((resolve) => {
        const take = () => {
          signal?.removeEventListener('abort', leave);
          resolve(true);
        };
        const leave = () => {
          const index = this.waiting.indexOf(take);
          if (index >= 0) this.waiting.splice(index, 1);
          resolve(false);
        };
        this.waiting.push(take);
        signal?.addEventListener('abort', leave, { once: true });
      });
      if (!granted) return null;
    } else this.used += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      // The slot passes straight to the next in line, so a newcomer cannot overtake it.
      if (next) next();
      else this.used -= 1;
    };
  }
}
