/**
 * XState's SimulatedClock, counted and stepped.
 *
 * - `pendingTimers` says how many timers are armed, so a test can prove that a
 *   stopped session leaves none behind;
 * - `advance(totalMs, stepMs)` moves time in steps no larger than `stepMs`,
 *   because SimulatedClock.increment fires a re-armed timer only once per call.
 */
import { SimulatedClock } from 'xstate';

type TimerId = ReturnType<SimulatedClock['setTimeout']>;

export class SteppedClock {
  private readonly simulated = new SimulatedClock();
  private readonly pending = new Set<TimerId>();

  now(): number {
    return this.simulated.now();
  }

  setTimeout(fn: (...args: unknown[]) => void, timeoutMs: number): TimerId {
    const id: TimerId = this.simulated.setTimeout(() => {
      this.pending.delete(id);
      fn();
    }, timeoutMs);
    this.pending.add(id);
    return id;
  }

  clearTimeout(id: TimerId): void {
    this.pending.delete(id);
    this.simulated.clearTimeout(id);
  }

  get pendingTimers(): number {
    return this.pending.size;
  }

  /** Move time forward by `totalMs`, in steps of at most `stepMs`. */
  advance(totalMs: number, stepMs = 1_000): void {
    let left = totalMs;
    while (left > 0) {
      const step = Math.min(stepMs, left);
      this.simulated.increment(step);
      left -= step;
    }
  }
}
