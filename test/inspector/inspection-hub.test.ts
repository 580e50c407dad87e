import { createActor } from 'xstate';
import { expect, it } from 'vitest';
import { sessionMachine } from '../../machines/session.machine.js';
import { InspectionHub } from '../../src/inspector/inspection-hub.js';
import { createFakeConnection } from '../support/fake-connection.js';
import { SteppedClock } from '../support/stepped-clock.js';

const key = { userId: 'ann', sessionId: 'phone' };
const minute = 60_000;

/** One session actor on a stepped clock, reporting to `hub`. */
function sessionFor(hub: InspectionHub) {
  const clock = new SteppedClock();
  const connection = createFakeConnection();
  const actor = createActor(sessionMachine.provide({ actors: { connection: connection.logic } }), {
    clock,
    input: { ...key, policy: { reconnectDelaysMs: [3_000], keepAliveIntervalMs: 5 * minute, healthCheckIntervalMs: 5 * minute } },
    inspect: (event) => hub.inspect(key, event),
  });
  actor.start();
  return { actor, clock, connection };
}

it('keeps the last disconnect through a day of keep-alive ticks, and names what happened for people', () => {
  const hub = new InspectionHub({ transitionsPerSession: 20, ticksPerSession: 10 });
  const { clock, connection } = sessionFor(hub);
  connection.current.emit({ type: 'CONNECTION.OPEN', me: { id: '1555:1@s.whatsapp.net' } });
  connection.current.emit({ type: 'CONNECTION.CLOSED', statusCode: 428, message: 'Connection Terminated' });
  clock.advance(3_000);
  connection.current.emit({ type: 'CONNECTION.OPEN', me: { id: '1555:1@s.whatsapp.net' } });
  clock.advance(24 * 60 * minute, 5 * minute); // ~860 timer events

  const entries = hub.recent(key);
  const transitions = entries.filter((e) => e.kind === 'transition');
  const ticks = entries.filter((e) => e.kind === 'tick');
  expect(ticks.length).toBe(10);
  expect(ticks.every((e) => e.from === e.to)).toBe(true);
  expect(ticks.map((e) => e.label)).toContain('keep-alive timer');
  expect(transitions.map((e) => `${e.label}: ${e.from ?? ''} → ${e.to}`)).toEqual([
    'started:  → connecting.queued',
    'admitted to connect: connecting.queued → connecting.handshaking',
    'logged in: connecting.handshaking → open.settling',
    'connection closed 428 (Connection Terminated): open.settling → backingOff',
    'after 3 s backoff: backingOff → connecting.queued',
    'admitted to connect: connecting.queued → connecting.handshaking',
    'logged in: connecting.handshaking → open.settling',
    'after 60 s stable: open.settling → open.stable',
  ]);
  // Each transition carries the context as it was right after it.
  const closed = transitions[3]!;
  expect(closed).toMatchObject({ statusCode: 428, message: 'Connection Terminated', event: 'CONNECTION.CLOSED' });
  expect(closed.context).toMatchObject({ attempt: 1, lastDisconnect: { statusCode: 428 } });
  expect(transitions[7]!.context).toMatchObject({ attempt: 0 });
  // Entries come out in the order they happened, stamped in UTC.
  expect(entries.map((e) => e.seq)).toEqual([...entries.map((e) => e.seq)].sort((a, b) => a - b));
  expect(entries[0]!.at).toMatch(/Z$/);
});

it('never holds QR text, and frees a removed session', () => {
  const hub = new InspectionHub();
  const { connection } = sessionFor(hub);
  connection.current.emit({ type: 'CONNECTION.QR', qr: '2@secret-ref-one,key,key' });
  connection.current.emit({ type: 'CONNECTION.QR', qr: '2@secret-ref-two,key,key' });
  const text = JSON.stringify([hub.recent(key), hub.context(key)]);
  expect(text).not.toContain('secret-ref');
  expect(hub.context(key)).toMatchObject({ qr: '[redacted]', userId: 'ann' });
  // The second QR changes nothing a person needs: a tick, not a transition.
  expect(hub.recent(key).filter((e) => e.label === 'QR shown').map((e) => e.kind)).toEqual(['transition', 'tick']);

  expect(hub.size).toBe(1);
  hub.forget(key);
  expect(hub.size).toBe(0);
  expect(hub.recent(key)).toEqual([]);
});
