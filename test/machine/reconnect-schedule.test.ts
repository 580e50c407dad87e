import { describe, expect, it } from 'vitest';
import { startSession } from '../support/session-harness.js';

describe('reconnect schedule', () => {
  it('waits 3 s, 10 s, 30 s, 60 s, 120 s, then every 120 s, to the millisecond', () => {
    const s = startSession();
    const expected = [3_000, 10_000, 30_000, 60_000, 120_000, 120_000, 120_000, 120_000, 120_000, 120_000];

    expected.forEach((delayMs, index) => {
      s.close(428, 'Connection Closed');
      expect(s.state).toBe('backingOff');
      expect(s.context.attempt).toBe(index + 1);
      expect(s.context.retryDelayMs).toBe(delayMs);

      s.clock.advance(delayMs - 1);
      expect(s.state).toBe('backingOff');
      s.clock.advance(1);
      expect(s.state).toBe('connecting');
    });

    const announced = s.logsMatching('Reconnection attempt').map((r) => r.msg);
    expect(announced[0]).toBe('Reconnection attempt 1 for user u1 in 3s');
    expect(announced[1]).toBe('Reconnection attempt 2 for user u1 in 10s');
    expect(announced[4]).toBe('Reconnection attempt 5 for user u1 in 120s');
    expect(s.logsMatching('Reconnection attempt')[2]!.fields).toMatchObject({ attempt: 3, delayMs: 30_000, state: 'backingOff' });
  });

  it('gives up after 10 failed attempts that reached WhatsApp, with maxAttempts', () => {
    const s = startSession();
    for (let attempt = 1; attempt <= 10; attempt++) {
      s.fail(503);
      expect(s.state).toBe('backingOff');
      s.clock.advance(s.context.retryDelayMs!);
      expect(s.state).toBe('connecting');
    }
    s.fail(503);
    expect(s.state).toBe('terminated');
    expect(s.context.terminatedReason).toBe('maxAttempts');
    expect(s.logsMatching('Max reconnection attempts reached')).toHaveLength(1);
    expect(s.logsMatching('Reconnection attempt')).toHaveLength(10);
    expect(s.connection.live).toHaveLength(0);
    expect(s.clock.pendingTimers).toBe(0);
  });

  it('honours a custom schedule and attempt limit', () => {
    const s = startSession({ policy: { reconnectDelaysMs: [500, 700], maxReconnectAttempts: 2 } });
    s.fail(428);
    expect(s.context.retryDelayMs).toBe(500);
    s.clock.advance(500, 100);
    s.fail(428);
    expect(s.context.retryDelayMs).toBe(700);
    s.clock.advance(700, 100);
    s.fail(428);
    expect(s.context.terminatedReason).toBe('maxAttempts');
  });

  it('resets the counter after an open that lasts stableAfterMs', () => {
    const s = startSession();
    for (let i = 0; i < 4; i++) {
      s.close(428);
      s.clock.advance(s.context.retryDelayMs!);
    }
    expect(s.context.attempt).toBe(4);
    s.open();
    s.clock.advance(60_000);
    expect(s.matches('open.stable')).toBe(true);
    expect(s.context.attempt).toBe(0);

    s.close(428);
    expect(s.context.attempt).toBe(1);
    expect(s.context.retryDelayMs).toBe(3_000);
  });

  it('keeps counting through a flap (open, closed before stableAfterMs)', () => {
    const s = startSession();
    for (let i = 0; i < 4; i++) {
      s.close(428);
      s.clock.advance(s.context.retryDelayMs!);
    }
    s.open();
    s.clock.advance(59_999);
    s.close(428);
    expect(s.context.attempt).toBe(5);
    expect(s.context.retryDelayMs).toBe(120_000);
  });

  it('stretches a delay with jitter but never shortens it', () => {
    const delays = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const s = startSession({ policy: { jitterRatio: 0.5 } });
      s.close(428);
      const delay = s.context.retryDelayMs!;
      expect(delay).toBeGreaterThanOrEqual(3_000);
      expect(delay).toBeLessThanOrEqual(4_500);
      delays.add(delay);
      s.actor.stop();
    }
    expect(delays.size).toBeGreaterThan(1);
  });

  it('starts exactly one fresh connection per attempt and stops the old one', () => {
    const s = startSession();
    s.close(428);
    expect(s.connection.live).toHaveLength(0);
    s.clock.advance(3_000);
    expect(s.connection.attempts).toHaveLength(2);
    expect(s.connection.live).toHaveLength(1);
    expect(s.connection.current.input).toMatchObject({ userId: 'u1', sessionId: 's1', connectionNumber: 2 });
  });
});
