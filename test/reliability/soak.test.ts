/**
 * R3 soak: 200 session actors, 24 simulated hours of random faults — dropped
 * links, blackholes (probes unanswered), 515 restarts, connects that hang,
 * QR expiry for the unpaired — then calm. Every paired session must be open
 * again, nothing may stay armed after stop, and the heap must stay flat.
 */
import { createActor } from 'xstate';
import { expect, it } from 'vitest';
import { sessionMachine } from '../../machines/session.machine.js';
import type { ConnectionInput } from '../../machines/session.events.js';
import { createAutoConnection, type Outcome } from '../support/auto-connection.js';
import { EventClock } from '../../fixtures/event-clock.js';

const sessions = 200;
const unpaired = 20;
const hourMs = 3_600_000;
const faultHours = 24;
const seed = 20261129;

/** mulberry32: a small seeded PRNG, so a failure can be replayed. */
function prng(state: number) {
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function heapAfterGc(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('the soak test needs --expose-gc (set in vitest.config.ts)');
  gc();
  return process.memoryUsage().heapUsed;
}

it(`${sessions} actors × ${faultHours} simulated hours of random faults: all paired ones recover, no timer leaks, flat heap`, () => {
  const random = prng(seed);
  const clock = new EventClock();
  const blackholed = new Set<string>();
  let faultsActive = true;
  const keyOf = (input: ConnectionInput) => `${input.userId}/${input.sessionId}`;
  const isUnpaired = (input: ConnectionInput) => Number(input.userId.slice(1)) < unpaired;
  const connection = createAutoConnection({
    outcome: (input): Outcome => {
      blackholed.delete(keyOf(input));
      if (isUnpaired(input)) return 'qr';
      return faultsActive && random() < 0.1 ? 'hang' : 'open';
    },
    pingOk: (input) => !blackholed.has(keyOf(input)),
  });
  const machine = sessionMachine.provide({ actors: { connection: connection.logic } });
  const actors = Array.from({ length: sessions }, (_, i) => createActor(machine, { clock, input: { userId: `u${i}`, sessionId: 'main' } }));
  actors.forEach((a) => a.start());

  // About one fault per session per hour, at random moments and of random kinds.
  for (let i = 0; i < sessions * faultHours; i++) {
    const session = Math.floor(random() * sessions);
    const at = Math.floor(random() * faultHours * hourMs);
    const kind = random();
    clock.setTimeout(() => {
      const key = `u${session}/main`;
      const send = connection.sessions.get(key);
      if (!send) return;
      if (session < unpaired) send({ type: 'CONNECTION.CLOSED', statusCode: 408, message: 'QR refs attempts ended' });
      else if (kind < 0.4) send({ type: 'CONNECTION.CLOSED', statusCode: 428, message: 'Connection Closed' });
      else if (kind < 0.6) blackholed.add(key);
      else if (kind < 0.8) send({ type: 'CONNECTION.CLOSED', statusCode: 515, message: 'restart required' });
      else send({ type: 'CONNECTION.CLOSED', statusCode: 503, message: 'unavailable' });
    }, at);
  }

  const heapSamples: number[] = [];
  for (let hour = 1; hour <= faultHours; hour++) {
    clock.advance(hourMs);
    if (hour > faultHours / 2) heapSamples.push(heapAfterGc());
  }
  faultsActive = false;
  clock.advance(hourMs); // calm: reconnects finish

  const states = actors.map((a) => a.getSnapshot());
  const paired = states.slice(unpaired);
  const notOpen = paired.filter((s) => !s.matches('open')).map((s) => `${s.context.userId}:${JSON.stringify(s.value)}:${s.context.terminatedReason}`);
  expect(notOpen).toEqual([]);
  for (const s of states.slice(0, unpaired)) {
    expect(s.matches('terminated') ? s.context.terminatedReason : 'still waiting for a scan').toMatch(/qrTimeout|still waiting/);
  }
  expect(connection.started).toBeGreaterThan(sessions * 5);

  actors.forEach((a) => a.stop());
  expect(clock.pendingTimers).toBe(0);
  expect(connection.sessions.size).toBe(0);

  const max = Math.max(...heapSamples);
  const min = Math.min(...heapSamples);
  expect(max / min).toBeLessThan(1.1);
});
