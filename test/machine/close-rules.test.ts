import { describe, expect, it } from 'vitest';
import { startSession } from '../support/session-harness.js';

describe('what a close leads to', () => {
  const finalCloses = [
    [401, 'loggedOut'],
    [403, 'forbidden'],
    [402, 'banned'],
    [406, 'banned'],
    [440, 'replaced'],
    [411, 'multideviceMismatch'],
  ] as const;

  for (const [statusCode, reason] of finalCloses) {
    it(`${statusCode} while open ends the session as ${reason}, with no reconnect`, () => {
      const s = startSession();
      s.open();
      s.close(statusCode);
      expect(s.state).toBe('terminated');
      expect(s.context.terminatedReason).toBe(reason);
      expect(s.context.lastDisconnect).toEqual({ statusCode, message: undefined });
      s.clock.advance(3_600_000, 60_000);
      expect(s.connection.attempts).toHaveLength(1);
      expect(s.connection.live).toHaveLength(0);
    });
  }

  it('401 wipes the credentials; other final closes keep them', () => {
    const loggedOut = startSession();
    loggedOut.close(401);
    expect(loggedOut.credentialWipes).toBe(1);

    const replaced = startSession();
    replaced.close(440);
    expect(replaced.credentialWipes).toBe(0);
  });

  it('440 conflict never reconnects: no ping-pong with the other client', () => {
    const s = startSession();
    s.open();
    s.clock.advance(120_000);
    s.close(440, 'Stream Errored (conflict)');
    s.clock.advance(10 * 3_600_000, 60_000);
    expect(s.connection.attempts).toHaveLength(1);
    expect(s.logsMatching('Reconnection attempt')).toHaveLength(0);
  });

  it('515 reconnects at once, without counting an attempt', () => {
    const s = startSession();
    s.connection.current.emit({ type: 'CONNECTION.QR', qr: 'ref-1,pub,identity,adv' });
    s.close(515, 'Stream Errored (restart required)');
    expect(s.state).toBe('connecting');
    expect(s.connection.attempts).toHaveLength(2);
    expect(s.connection.attempts[0]!.stopped).toBe(true);
    expect(s.context.attempt).toBe(0);
    s.open();
    expect(s.state).toBe('open');
  });

  it('515 over and over is a loop: after three in a row it backs off', () => {
    const s = startSession();
    s.close(515);
    s.close(515);
    s.close(515);
    expect(s.state).toBe('connecting');
    s.close(515);
    expect(s.state).toBe('backingOff');
  });

  it('408 "QR refs attempts ended" while unpaired ends as qrTimeout, no endless QR loop', () => {
    const s = startSession();
    s.connection.current.emit({ type: 'CONNECTION.QR', qr: 'ref-1' });
    expect(s.matches('connecting.awaitingQr')).toBe(true);
    expect(s.context.qr).toBe('ref-1');
    s.close(408, 'QR refs attempts ended');
    expect(s.state).toBe('terminated');
    expect(s.context.terminatedReason).toBe('qrTimeout');
    expect(s.context.qr).toBeNull();
  });

  it('no QR text ever reaches a log line', () => {
    const s = startSession();
    s.connection.current.emit({ type: 'CONNECTION.QR', qr: 'secret-ref-AAAA' });
    s.connection.current.emit({ type: 'CONNECTION.QR', qr: 'secret-ref-BBBB' });
    s.close(408, 'QR refs attempts ended');
    expect(JSON.stringify(s.logs)).not.toContain('secret-ref');
  });

  for (const [statusCode, message] of [
    [428, 'Connection Closed'],
    [408, 'Connection was lost'],
    [500, 'Stream Errored (unknown)'],
    [503, 'Stream Errored (service unavailable)'],
    [undefined, undefined],
  ] as const) {
    it(`${statusCode ?? 'no code'} backs off and reconnects`, () => {
      const s = startSession();
      s.open();
      s.close(statusCode, message);
      expect(s.state).toBe('backingOff');
      expect(s.context.lastDisconnect).toEqual({ statusCode, message });
      s.clock.advance(3_000);
      expect(s.state).toBe('connecting');
      expect(s.connection.live).toHaveLength(1);
    });
  }

  it('408 with the QR message while not showing a QR is a lost link, not qrTimeout', () => {
    const s = startSession();
    s.open();
    s.close(408, 'QR refs attempts ended');
    expect(s.state).toBe('backingOff');
  });

  it('abandons a connect that hangs past connectDeadlineMs', () => {
    const s = startSession();
    s.clock.advance(74_999);
    expect(s.state).toBe('connecting');
    s.clock.advance(1);
    expect(s.state).toBe('backingOff');
    expect(s.connection.attempts[0]!.stopped).toBe(true);
    expect(s.context.lastDisconnect?.message).toBe('connect deadline passed');
    expect(s.logsMatching('Connect deadline')).toHaveLength(1);
  });

  it('a QR being scanned is not cut off by the connect deadline', () => {
    const s = startSession();
    s.connection.current.emit({ type: 'CONNECTION.QR', qr: 'ref-1' });
    s.clock.advance(150_000);
    expect(s.matches('connecting.awaitingQr')).toBe(true);
  });

  it('a connection actor that throws counts as a lost link', () => {
    const s = startSession();
    s.connection.current.emit({ type: 'CONNECTION.OPEN' });
    // Replace the socket's report with a crash of the actor itself.
    s.actor.send({ type: 'xstate.error.actor.connection', error: new Error('bad auth folder') } as never);
    expect(s.state).toBe('backingOff');
    expect(s.context.lastDisconnect?.message).toBe('bad auth folder');
  });
});
