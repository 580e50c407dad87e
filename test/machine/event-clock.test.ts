/**
 * The long simulations (soak test, P1) trust EventClock to fire XState's timers
 * exactly as SimulatedClock would: by due time, ties in arming order.
 */
import { describe, expect, it } from 'vitest';
import { EventClock } from '../../fixtures/event-clock.js';

describe('EventClock', () => {
  it('fires timers in due order, ties in the order they were armed, each at its own time', () => {
    const clock = new EventClock();
    const fired: string[] = [];
    const arm = (name: string, ms: number) => clock.setTimeout(() => fired.push(`${name}@${clock.now()}`), ms);
    // Shuffled due times, with ties, enough of them to exercise the heap.
    const dues = Array.from({ length: 200 }, (_, i) => ((i * 37) % 50) * 10);
    dues.forEach((due, i) => arm(`t${i}`, due));
    clock.advance(10_000);

    const expected = dues
      .map((due, i) => ({ due, i }))
      .sort((a, b) => a.due - b.due || a.i - b.i)
      .map(({ due, i }) => `t${i}@${due}`);
    expect(fired).toEqual(expected);
    expect(clock.now()).toBe(10_000);
    expect(clock.pendingTimers).toBe(0);
  });

  it('a timer armed while advancing fires in the same advance if it falls due; a cleared one never fires', () => {
    const clock = new EventClock();
    const fired: string[] = [];
    const dropped = clock.setTimeout(() => fired.push('dropped'), 50);
    clock.setTimeout(() => {
      fired.push(`first@${clock.now()}`);
      clock.setTimeout(() => fired.push(`rearmed@${clock.now()}`), 100);
      clock.clearTimeout(dropped);
    }, 10);
    clock.setTimeout(() => fired.push(`late@${clock.now()}`), 500);

    clock.advance(200);
    expect(fired).toEqual(['first@10', 'rearmed@110']);
    expect(clock.pendingTimers).toBe(1);
    clock.advance(300);
    expect(fired.at(-1)).toBe('late@500');
    expect(clock.pendingTimers).toBe(0);
  });
});
