import { describe, expect, it, vi } from 'vitest';
import { startSession } from '../support/session-harness.js';

const hourMs = 3_600_000;

describe('while connected', () => {
  it('ten open hours: 120 probes, 120 health checks, 10 milestones; after STOP, nothing at all', () => {
    const s = startSession();
    s.open();
    s.clock.advance(10 * hourMs, 60_000);

    expect(s.state).toBe('open');
    expect(s.connection.current.commands.filter((c) => c === 'PING')).toHaveLength(120);
    expect(s.logsMatching('Keep-alive ping sent')).toHaveLength(120);
    expect(s.logsMatching('Session health check')).toHaveLength(120);
    expect(s.logsMatching('Socket healthy')).toHaveLength(120);
    expect(s.logsMatching('Session milestone')).toHaveLength(10);
    expect(s.logsMatching('Session milestone').map((r) => r.msg)).toContain('Session milestone: 10 hours alive for user u1');
    expect(s.logsMatching('Session health check').at(-1)!.msg).toBe('Session health check for user u1: 10h 0m alive');
    expect(s.logsMatching('Session health check')[0]!.msg).toBe('Session health check for user u1: 0h 5m alive');

    s.actor.send({ type: 'STOP' });
    expect(s.state).toBe('terminated');
    expect(s.context.terminatedReason).toBe('stopped');
    expect(s.logsMatching('Cleared health check interval')).toHaveLength(1);
    expect(s.logsMatching('Cleared keep-alive interval')).toHaveLength(1);
    expect(s.clock.pendingTimers).toBe(0);

    const pings = s.connection.current.commands.length;
    const lines = s.logs.length;
    s.clock.advance(10 * hourMs, 60_000);
    expect(s.connection.current.commands.length).toBe(pings);
    expect(s.logs.length).toBe(lines);
    expect(s.clock.pendingTimers).toBe(0);
    expect(s.connection.live).toHaveLength(0);
  });

  it('a dropped link clears the intervals; a new open starts them afresh', () => {
    const s = startSession();
    s.open();
    s.clock.advance(2 * hourMs, 60_000);
    s.close(428);
    expect(s.logsMatching('Cleared keep-alive interval')).toHaveLength(1);
    const pingsBefore = s.logsMatching('Keep-alive ping sent').length;
    // Ten minutes of connects that never open: five connect deadlines, no probe.
    s.clock.advance(3_000 + 600_000, 1_000);
    expect(s.logsMatching('Connect deadline')).toHaveLength(5);
    expect(s.logsMatching('Keep-alive ping sent')).toHaveLength(pingsBefore);
    expect(s.logsMatching('Session health check')).toHaveLength(24);
    expect(s.state).toBe('backingOff');
    expect(s.context.attempt).toBe(6);
  });

  it('uptime and milestones restart with each new connection', () => {
    const s = startSession();
    s.open();
    s.clock.advance(90 * 60_000, 60_000);
    s.close(428);
    s.clock.advance(3_000);
    s.open();
    s.clock.advance(5 * 60_000, 60_000);
    expect(s.logsMatching('Session health check').at(-1)!.msg).toBe('Session health check for user u1: 0h 5m alive');
    s.clock.advance(55 * 60_000, 60_000);
    expect(s.logsMatching('Session milestone').map((r) => r.msg)).toEqual([
      'Session milestone: 1 hours alive for user u1',
      'Session milestone: 1 hours alive for user u1',
    ]);
  });

  it('a failed probe degrades the session; an answered one restores it', () => {
    const s = startSession({ pingAnswer: 'fail' });
    s.open();
    s.clock.advance(300_000, 60_000);
    expect(s.state).toBe('degraded');
    expect(s.logsMatching('Keep-alive ping failed')).toHaveLength(1);

    s.connection.answerPings('ok');
    s.clock.advance(10_000);
    expect(s.state).toBe('open');
    expect(s.logsMatching('link recovered')).toHaveLength(1);
  });

  it('degraded probes every 10 s and reports the socket unhealthy at the health check', () => {
    const s = startSession({ pingAnswer: 'silent', policy: { degradedTimeoutMs: 600_000 } });
    s.open();
    s.connection.current.emit({ type: 'PING.FAILED', error: 'probe timed out' });
    expect(s.state).toBe('degraded');
    const before = s.connection.current.commands.length;
    s.clock.advance(30_000);
    expect(s.connection.current.commands.length - before).toBe(3);
    s.clock.advance(270_000);
    expect(s.logsMatching('Socket health warning')).toHaveLength(1);
    expect(s.logsMatching('Socket healthy')).toHaveLength(0);
  });

  it('degraded for degradedTimeoutMs without an answer: the link is dropped and the session backs off', () => {
    const s = startSession({ pingAnswer: 'silent' });
    s.open();
    s.connection.current.emit({ type: 'PING.FAILED', error: 'probe timed out' });
    s.clock.advance(29_999, 5_000);
    expect(s.state).toBe('degraded');
    s.clock.advance(1);
    expect(s.state).toBe('backingOff');
    expect(s.connection.attempts[0]!.stopped).toBe(true);
    expect(s.context.lastDisconnect?.message).toBe('keep-alive probes unanswered');
    s.clock.advance(3_000);
    expect(s.state).toBe('connecting');
    s.connection.answerPings('ok');
    s.open();
    expect(s.state).toBe('open');
  });
});

describe('operator events', () => {
  it('STOP from every state ends as stopped and keeps credentials', () => {
    const arrange: Record<string, (s: ReturnType<typeof startSession>) => void> = {
      connecting: () => {},
      open: (s) => s.open(),
      degraded: (s) => {
        s.open();
        s.connection.current.emit({ type: 'PING.FAILED', error: 'x' });
      },
      backingOff: (s) => s.close(428),
    };
    for (const [state, reach] of Object.entries(arrange)) {
      const s = startSession();
      reach(s);
      expect(s.state).toBe(state);
      s.actor.send({ type: 'STOP' });
      expect(s.state).toBe('terminated');
      expect(s.context.terminatedReason).toBe('stopped');
      expect(s.credentialWipes).toBe(0);
      expect(s.connection.live).toHaveLength(0);
      expect(s.clock.pendingTimers).toBe(0);
    }
  });

  it('LOGOUT asks the socket to unlink, then ends as loggedOut with credentials wiped', () => {
    const s = startSession();
    s.open();
    s.actor.send({ type: 'LOGOUT' });
    expect(s.connection.attempts[0]!.commands).toContain('LOGOUT');
    expect(s.state).toBe('terminated');
    expect(s.context.terminatedReason).toBe('loggedOut');
    expect(s.credentialWipes).toBe(1);
  });

  it('LOGOUT while backing off wipes credentials without a socket', () => {
    const s = startSession();
    s.close(428);
    s.actor.send({ type: 'LOGOUT' });
    expect(s.context.terminatedReason).toBe('loggedOut');
    expect(s.credentialWipes).toBe(1);
    expect(s.connection.attempts).toHaveLength(1);
  });

  it('RECONNECT while backing off connects now with the counter reset', () => {
    const s = startSession();
    for (let i = 0; i < 5; i++) {
      s.close(428);
      s.clock.advance(s.context.retryDelayMs!);
    }
    s.close(428);
    expect(s.context.retryDelayMs).toBe(120_000);
    s.actor.send({ type: 'RECONNECT' });
    expect(s.state).toBe('connecting');
    expect(s.context.attempt).toBe(0);
    s.close(428);
    expect(s.context.retryDelayMs).toBe(3_000);
  });

  it('RECONNECT while open changes nothing', () => {
    const s = startSession();
    s.open();
    s.actor.send({ type: 'RECONNECT' });
    expect(s.state).toBe('open');
    expect(s.connection.attempts).toHaveLength(1);
  });

  it('terminated is final: later events do nothing', () => {
    const s = startSession();
    s.actor.send({ type: 'STOP' });
    // XState tells the console about an event sent to a finished actor; expected here, so kept out of the test output.
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    s.actor.send({ type: 'RECONNECT' });
    const warnings = warn.mock.calls.map((args) => String(args[0]));
    warn.mockRestore();
    expect(warnings).toEqual([expect.stringContaining('was sent to stopped actor')]);
    expect(s.state).toBe('terminated');
    expect(s.actor.getSnapshot().status).toBe('done');
  });
});

describe('an unacknowledged message', () => {
  it('makes an open session probe its link at once; a dead link then goes the degraded way, an answered one stays open', () => {
    const live = startSession();
    live.open();
    live.clock.advance(60_000);
    const before = live.connection.current.commands.filter((c) => c === 'PING').length;
    live.actor.send({ type: 'LINK.SUSPECT' });
    expect(live.connection.current.commands.filter((c) => c === 'PING')).toHaveLength(before + 1);
    expect(live.logsMatching('was not acknowledged')).toHaveLength(1);
    expect(live.state).toBe('open');

    const dead = startSession({ pingAnswer: 'fail' });
    dead.open();
    dead.clock.advance(60_000);
    dead.actor.send({ type: 'LINK.SUSPECT' });
    expect(dead.state).toBe('degraded');
  });
});
