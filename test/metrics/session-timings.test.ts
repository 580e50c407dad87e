import { describe, expect, it } from 'vitest';
import { SessionTimings } from '../../src/metrics/session-timings.js';
import type { SessionState } from '../../machines/session.states.js';
import type { SessionView } from '../../src/session/session-view.js';

function view(status: string, close: { at: string; statusCode: number } | null = null, terminatedReason: string | null = null): SessionView {
  return {
    userId: 'ann',
    sessionId: 'work',
    state: status.split('.')[0] as SessionState,
    status,
    attempt: 0,
    nextRetryAt: null,
    openSince: null,
    createdAt: '2026-01-01T00:00:00.000Z',
    reconnects: 0,
    lastDisconnect: close ? { ...close, message: null } : null,
    terminatedReason,
    me: null,
    owner: 'this-process',
  };
}
/** SessionTimings fed the way the registry feeds it: each view as a change from the one before. */
function timings() {
  const t = new SessionTimings();
  let before: SessionView | null = null;
  return {
    observe(after: SessionView, nowMs: number) {
      const facts = t.observe({ key: { userId: after.userId, sessionId: after.sessionId }, before, after, previousOwner: null }, nowMs);
      before = after;
      return facts;
    },
    forgetAllBut: (keys: ReadonlySet<string>) => t.forgetAllBut(keys),
    get size() {
      return t.size;
    },
  };
}

const close428 = { at: '2026-01-01T00:00:10.000Z', statusCode: 428 };

describe('SessionTimings', () => {
  it('connect duration from attempt start to open; recovery from the close to the next open; one reconnect', () => {
    const t = timings();
    expect(t.observe(view('connecting.handshaking'), 0)).toEqual({});
    expect(t.observe(view('open.settling'), 700)).toEqual({ connectSeconds: 0.7 });
    expect(t.observe(view('backingOff', close428), 10_000)).toEqual({});
    expect(t.observe(view('connecting.handshaking', close428), 13_000)).toEqual({ reconnected: true });
    expect(t.observe(view('open.settling', close428), 13_500)).toEqual({ connectSeconds: 0.5, recoverySeconds: 3.5 });
  });

  it('recovery counts from the first close when attempts fail in a row', () => {
    const t = timings();
    t.observe(view('connecting.handshaking'), 0);
    t.observe(view('open.settling'), 100);
    t.observe(view('backingOff', close428), 1_000);
    t.observe(view('connecting.handshaking', close428), 4_000);
    t.observe(view('backingOff', { at: '2026-01-01T00:00:15.000Z', statusCode: 408 }), 5_000);
    t.observe(view('connecting.handshaking', { at: '2026-01-01T00:00:15.000Z', statusCode: 408 }), 15_000);
    expect(t.observe(view('open.settling', { at: '2026-01-01T00:00:15.000Z', statusCode: 408 }), 15_250)).toEqual({
      connectSeconds: 0.25,
      recoverySeconds: 14.25,
    });
  });

  it('a drop without a close code (degraded too long) starts the recovery clock too', () => {
    const t = timings();
    t.observe(view('connecting.handshaking'), 0);
    t.observe(view('open.settling'), 100);
    t.observe(view('degraded'), 1_000);
    t.observe(view('backingOff'), 31_000);
    t.observe(view('connecting.handshaking'), 34_000);
    expect(t.observe(view('open.settling'), 34_100).recoverySeconds).toBeCloseTo(3.1);
  });

  it('an attempt that showed a QR is not a connect duration (a person was scanning); the attempt after the 515 is', () => {
    const t = timings();
    t.observe(view('connecting.handshaking'), 0);
    t.observe(view('connecting.awaitingQr'), 200);
    t.observe(view('connecting.handshaking', { at: '2026-01-01T00:01:00.000Z', statusCode: 515 }), 60_000);
    expect(t.observe(view('open.settling', { at: '2026-01-01T00:01:00.000Z', statusCode: 515 }), 60_300)).toEqual({
      connectSeconds: 0.3,
      recoverySeconds: 0.3,
    });
  });

  it('terminations counted once, with their reason; a stale first terminated view is none', () => {
    const t = timings();
    expect(t.observe(view('terminated', null, 'stopped'), 0)).toEqual({});
    t.observe(view('connecting.handshaking'), 1);
    expect(t.observe(view('terminated', null, 'loggedOut'), 2)).toEqual({ terminatedReason: 'loggedOut' });
    expect(t.observe(view('terminated', null, 'loggedOut'), 3)).toEqual({});
  });

  it('forgets deleted sessions', () => {
    const t = timings();
    t.observe(view('connecting.handshaking'), 0);
    t.forgetAllBut(new Set(['ann/work']));
    expect(t.size).toBe(1);
    t.forgetAllBut(new Set());
    expect(t.size).toBe(0);
  });
});
