/**
 * Which failures end a session (issue #10 items 4, 5, 10): only attempts that
 * reached WhatsApp and never opened spend the give-up budget. Outages, flaps and
 * waiting for an admission slot never end a session.
 */
import { describe, expect, it } from 'vitest';
import { startSession } from '../support/session-harness.js';

const schedule = [3_000, 10_000, 30_000, 60_000, 120_000];
const capMs = 120_000;

describe('outages are not the session’s fault', () => {
  it('an attempt that closes before any server frame never ends the session; the wait climbs to the cap and stays there', () => {
    const s = startSession({ policy: { maxReconnectAttempts: 3 } });
    const delays: number[] = [];
    for (let i = 0; i < 40; i++) {
      s.close(undefined, 'connect ECONNREFUSED 127.0.0.1:443');
      expect(s.state).toBe('backingOff');
      delays.push(s.context.retryDelayMs!);
      s.clock.advance(s.context.retryDelayMs!);
      expect(s.state).toBe('connecting');
    }
    expect(delays.slice(0, 5)).toEqual(schedule);
    expect(new Set(delays.slice(4))).toEqual(new Set([capMs]));
    expect(s.context.attempt).toBe(40);
    expect(s.context.spentAttempts).toBe(0);
    expect(s.logsMatching('Max reconnection attempts reached')).toHaveLength(0);
    expect(s.logsMatching('Reconnection attempt 40 ')).toHaveLength(1);
  });

  it('a connect deadline with no server frame is an outage; with one, it spends the budget', () => {
    const s = startSession({ policy: { maxReconnectAttempts: 2, connectDeadlineMs: 1_000 } });
    // No frame at all, twice: nothing spent.
    for (let i = 0; i < 2; i++) {
      s.clock.advance(1_000);
      expect(s.state).toBe('backingOff');
      expect(s.context.lastFailureReachedServer).toBe(false);
      s.clock.advance(s.context.retryDelayMs!);
    }
    expect(s.context.spentAttempts).toBe(0);
    // The server answered the hello, then the login never came: spent, twice → gives up.
    s.reached();
    s.clock.advance(1_000);
    expect(s.context.lastFailureReachedServer).toBe(true);
    expect(s.context.spentAttempts).toBe(1);
    s.clock.advance(s.context.retryDelayMs!);
    s.reached();
    s.clock.advance(1_000);
    expect(s.state).toBe('terminated');
    expect(s.context.terminatedReason).toBe('maxAttempts');
  });

  it('the budget counts consecutive reached failures; outages in between neither spend nor reset it', () => {
    const s = startSession({ policy: { maxReconnectAttempts: 2 } });
    s.fail(503); // the first connect: not a reconnection
    s.clock.advance(s.context.retryDelayMs!);
    s.close(428); // outage
    s.clock.advance(s.context.retryDelayMs!);
    s.fail(503);
    expect(s.context.spentAttempts).toBe(1);
    expect(s.state).toBe('backingOff');
    s.clock.advance(s.context.retryDelayMs!);
    s.fail(503);
    expect(s.state).toBe('terminated');
    expect(s.context.terminatedReason).toBe('maxAttempts');
    expect(s.context.spentAttempts).toBe(2);
    expect(s.context.attempt).toBe(4);
  });

  it('a server that answered but whose certificate was refused (outage: true) is an outage: nothing spent, whatever frames came', () => {
    const s = startSession({ policy: { maxReconnectAttempts: 1 } });
    for (let i = 0; i < 5; i++) {
      s.reached();
      s.connection.current.emit({ type: 'CONNECTION.CLOSED', message: 'server certificate refused: intermediateSignature', outage: true });
      expect(s.state).toBe('backingOff');
      expect(s.context).toMatchObject({ spentAttempts: 0, lastFailureReachedServer: false });
      s.clock.advance(s.context.retryDelayMs!);
    }
    expect(s.logsMatching('Max reconnection attempts reached')).toHaveLength(0);
    // The same close without the flag, on a reconnection, spends the budget of one.
    s.fail(undefined, 'noise certificate signature invalid');
    expect(s.context.terminatedReason).toBe('maxAttempts');
  });

  it('a QR shown counts as reaching WhatsApp', () => {
    const s = startSession({ policy: { maxReconnectAttempts: 2 } });
    s.close(428); // the first connect, an outage
    s.clock.advance(s.context.retryDelayMs!);
    s.connection.current.emit({ type: 'CONNECTION.QR', qr: 'ref,pub,identity,adv' });
    s.close(500);
    expect(s.context.lastFailureReachedServer).toBe(true);
    expect(s.context.spentAttempts).toBe(1);
  });
});

describe('MAX_RECONNECT_ATTEMPTS=N: exactly N reconnection attempts that reach WhatsApp without opening', () => {
  /** Fails every attempt after the current one (each reaching WhatsApp) until the session ends; returns how many it made. */
  function failReconnectionsUntilTerminated(s: ReturnType<typeof startSession>): number {
    let reconnections = 0;
    while (s.state === 'backingOff') {
      s.clock.advance(s.context.retryDelayMs!);
      expect(s.state).toBe('connecting');
      reconnections += 1;
      s.fail(503);
    }
    return reconnections;
  }

  for (const n of [1, 3, 10]) {
    it(`N=${n}, after a drop from open: ${n} reconnection attempts, then maxAttempts`, () => {
      const s = startSession({ policy: { maxReconnectAttempts: n } });
      s.reached();
      s.open();
      s.clock.advance(120_000); // stable
      s.close(428);
      expect(s.state).toBe('backingOff');
      expect(failReconnectionsUntilTerminated(s)).toBe(n);
      expect(s.context.terminatedReason).toBe('maxAttempts');
      expect(s.connection.attempts).toHaveLength(1 + n);
    });

    it(`N=${n}, after a first connect that reached WhatsApp and failed: ${n} reconnection attempts, then maxAttempts`, () => {
      const s = startSession({ policy: { maxReconnectAttempts: n } });
      s.fail(503);
      expect(s.state).toBe('backingOff');
      expect(failReconnectionsUntilTerminated(s)).toBe(n);
      expect(s.context.terminatedReason).toBe('maxAttempts');
      expect(s.connection.attempts).toHaveLength(1 + n);
    });
  }

  it('after a flap (an open shorter than stableAfterMs), the same N', () => {
    const s = startSession({ policy: { maxReconnectAttempts: 3 } });
    s.fail(503);
    s.clock.advance(s.context.retryDelayMs!);
    s.reached();
    s.open();
    s.clock.advance(5_000);
    s.close(428);
    expect(failReconnectionsUntilTerminated(s)).toBe(3);
    expect(s.context.terminatedReason).toBe('maxAttempts');
  });
});

describe('flapping links', () => {
  it('a link that drops every 20 s never ends the session, and its wait grows to the cap', () => {
    const s = startSession({ policy: { maxReconnectAttempts: 3 } });
    const delays: number[] = [];
    for (let i = 0; i < 100; i++) {
      s.reached();
      s.open();
      s.clock.advance(20_000);
      s.close(428);
      expect(s.state).toBe('backingOff');
      delays.push(s.context.retryDelayMs!);
      s.clock.advance(s.context.retryDelayMs!);
    }
    expect(s.state).toBe('connecting');
    expect(delays.slice(0, 5)).toEqual(schedule);
    expect(delays.at(-1)).toBe(capMs);
    expect(s.context.attempt).toBe(100);
    expect(s.logsMatching('Max reconnection attempts reached')).toHaveLength(0);
  });

  it('an open after failures resets the budget at once, the backoff step only once stable', () => {
    const s = startSession({ policy: { maxReconnectAttempts: 3 } });
    for (let i = 0; i < 3; i++) {
      s.fail(503);
      s.clock.advance(s.context.retryDelayMs!);
    }
    expect(s.context.spentAttempts).toBe(2); // the first connect, then two reconnections
    s.open();
    expect(s.context.spentAttempts).toBe(0);
    expect(s.context.attempt).toBe(3);
    s.clock.advance(60_000);
    expect(s.context.attempt).toBe(0);
  });

  it('maxReconnectAttempts 0 never gives up, even on failures that reached WhatsApp', () => {
    const s = startSession({ policy: { maxReconnectAttempts: 0 } });
    for (let i = 0; i < 50; i++) {
      s.fail(503);
      expect(s.state).toBe('backingOff');
      s.clock.advance(s.context.retryDelayMs!);
    }
    expect(s.context.spentAttempts).toBe(49); // every reconnection after the first connect
    expect(s.state).toBe('connecting');
  });
});

describe('WAKE: the fleet saw WhatsApp answer again', () => {
  it('connects at once from an outage backoff, keeping both counters', () => {
    const s = startSession();
    s.close(428); // outage
    s.clock.advance(s.context.retryDelayMs!);
    s.fail(503);
    s.clock.advance(s.context.retryDelayMs!);
    s.close(428);
    expect(s.context).toMatchObject({ attempt: 3, spentAttempts: 1, lastFailureReachedServer: false, retryDelayMs: 30_000 });
    s.actor.send({ type: 'WAKE' });
    expect(s.state).toBe('connecting');
    expect(s.connection.live).toHaveLength(1);
    expect(s.context).toMatchObject({ attempt: 3, spentAttempts: 1 });
    // The woken attempt fails like any other: the next step of the schedule.
    s.close(428);
    expect(s.context.retryDelayMs).toBe(60_000);
  });

  it('RECONNECT still resets the counters; WAKE outside backingOff changes nothing', () => {
    const s = startSession();
    s.fail(503);
    s.actor.send({ type: 'RECONNECT' });
    expect(s.context).toMatchObject({ attempt: 0, spentAttempts: 0 });
    const attempts = s.connection.attempts.length;
    s.actor.send({ type: 'WAKE' });
    s.open();
    s.actor.send({ type: 'WAKE' });
    expect(s.state).toBe('open');
    expect(s.connection.attempts).toHaveLength(attempts);
    expect(s.context.lastFailureReachedServer).toBeNull();
  });
});

describe('the connect deadline runs from admission', () => {
  it('an attempt waiting for its admission slot is never cut by the deadline', () => {
    const s = startSession({ holdAdmission: true, policy: { connectDeadlineMs: 1_000 } });
    expect(s.matches('connecting.queued')).toBe(true);
    s.clock.advance(3_600_000, 60_000);
    expect(s.matches('connecting.queued')).toBe(true);
    expect(s.context.lastDisconnect).toBeNull();

    s.connection.current.admit();
    expect(s.matches('connecting.handshaking')).toBe(true);
    s.clock.advance(999);
    expect(s.state).toBe('connecting');
    s.clock.advance(1);
    expect(s.state).toBe('backingOff');
    expect(s.context.lastDisconnect?.message).toBe('connect deadline passed');
  });

  it('a connection that opens or shows a QR without announcing admission is still followed', () => {
    const s = startSession({ holdAdmission: true });
    s.connection.current.emit({ type: 'CONNECTION.QR', qr: 'ref,pub,identity,adv' });
    expect(s.matches('connecting.awaitingQr')).toBe(true);
    s.open();
    expect(s.state).toBe('open');
  });
});
