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
    const s = startSession({ policy: { maxReconnectAttempts: 1, connectDeadlineMs: 1_000 } });
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
    s.fail(503);
    s.clock.advance(s.context.retryDelayMs!);
    s.close(428); // outage
    s.clock.advance(s.context.retryDelayMs!);
    s.fail(503);
    expect(s.context.spentAttempts).toBe(2);
    expect(s.state).toBe('backingOff');
    s.clock.advance(s.context.retryDelayMs!);
    s.fail(503);
    expect(s.state).toBe('terminated');
    expect(s.context.terminatedReason).toBe('maxAttempts');
    expect(s.context.attempt).toBe(4);
  });

  it('a QR shown counts as reaching WhatsApp', () => {
    const s = startSession({ policy: { maxReconnectAttempts: 1 } });
    s.connection.current.emit({ type: 'CONNECTION.QR', qr: 'ref,pub,identity,adv' });
    s.close(500);
    expect(s.context.lastFailureReachedServer).toBe(true);
    expect(s.context.spentAttempts).toBe(1);
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
    expect(s.context.spentAttempts).toBe(3);
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
    expect(s.context.spentAttempts).toBe(50);
    expect(s.state).toBe('connecting');
  });
});

describe('WAKE: the fleet saw WhatsApp answer again', () => {
  it('connects at once from an outage backoff, keeping both counters', () => {
    const s = startSession();
    s.fail(503);
    s.clock.advance(s.context.retryDelayMs!);
    s.close(428); // outage
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
