/**
 * P1 supervisor cost: 1,000 session actors with instant fake connections,
 * ten simulated hours, one dropped link per session per simulated hour.
 * Reports wall time for the ten hours and heap per idle (open) actor.
 * Goal: ≤ 3 s wall, ≤ 20 KB heap per idle actor.
 *
 *   node --expose-gc --import tsx bench/p1-supervisor.ts [sessions=1000] [hours=10]
 */
import { performance } from 'node:perf_hooks';
import { createActor } from 'xstate';
import { sessionMachine } from '../machines/session.machine.js';
import { createAutoConnection } from '../test/support/auto-connection.js';
import { EventClock } from '../test/support/event-clock.js';
import { forceGc, heapUsed, report } from './support/measure.js';

const sessions = Number(process.argv[2] ?? 1_000);
const hours = Number(process.argv[3] ?? 10);
const hourMs = 3_600_000;

const clock = new EventClock();
const connection = createAutoConnection();
let logLines = 0;
const machine = sessionMachine.provide({
  actors: { connection: connection.logic },
  actions: {
    log: () => {
      logLines += 1;
    },
  },
});

forceGc();
const heapBefore = heapUsed();
const actors = Array.from({ length: sessions }, (_, i) =>
  createActor(machine, { clock, input: { userId: `u${i}`, sessionId: 'main' } }),
);
for (const actor of actors) actor.start();
clock.advance(61_000); // every session open and stable
forceGc();
const heapIdle = heapUsed();

// One fault per session per hour, spread over the hour.
for (let hour = 0; hour < hours; hour++) {
  for (let i = 0; i < sessions; i++) {
    clock.setTimeout(() => connection.sessions.get(`u${i}/main`)?.({ type: 'CONNECTION.CLOSED', statusCode: 428, message: 'bench fault' }), hour * hourMs + Math.floor((i * hourMs) / sessions));
  }
}
const started = performance.now();
clock.advance(hours * hourMs);
const wallMs = performance.now() - started;

const open = actors.filter((a) => a.getSnapshot().matches('open')).length;
for (const actor of actors) actor.stop();

report('P1 supervisor cost', {
  sessions,
  simulatedHours: hours,
  faultsInjected: sessions * hours,
  connectionsStarted: connection.started,
  logLines,
  wallMs: Math.round(wallMs),
  heapPerIdleActorKB: Number(((heapIdle - heapBefore) / sessions / 1024).toFixed(1)),
  openAtEnd: open,
  pendingTimersAfterStop: clock.pendingTimers,
  goals: { wallMs: 3_000, heapPerIdleActorKB: 20 },
});
