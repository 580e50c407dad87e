/**
 * P1 supervisor cost on the production path: 1,000 sessions for ten simulated
 * hours, one dropped link per session per simulated hour, with
 *   - the session machine provided as the registry provides it, once per process:
 *     the real `log` action (sessionLogWriter → pino, JSON, level info) writing to a
 *     destination that discards, and a wipeCredentials action;
 *   - the real connection actor (createConnectionLogic) with admission control and
 *     its own link watch (a `w:p` ping every 30 s, the silence probe), on a stand-in
 *     socket (bench/support/stand-in-socket.ts) instead of Baileys;
 *   - every timer, XState's and the link watch's, on one discrete-event clock.
 *
 * Reported as a ratio to the floor measured in the same process: XState 5 re-arming
 * one delayed event per tick on a bare machine, times the number of delayed
 * events the session machines fired. Goals: ≤ 2.5× that floor, ≤ 20 KB heap per
 * open session. Median of `runs` (each a fresh set of actors).
 *
 * For a breakdown, P1_WITHOUT=log,linkwatch switches parts off (log level silent; no
 * link-watch pings or probes).
 *
 *   node --expose-gc --import tsx bench/p1-supervisor.ts [sessions=1000] [hours=10] [runs=3]
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { createActor, setup } from 'xstate';
import { sessionMachine, type SessionMachine } from '../machines/session.machine.js';
import { createLogger } from '../src/logging/logger.js';
import { sessionLogWriter } from '../src/logging/session-log.js';
import { ConnectAdmission } from '../src/service/admission.js';
import { createConnectionLogic } from '../src/whatsapp/connection.actor.js';
import { resolveSocketOptions } from '../src/whatsapp/socket-options.js';
import { EventClock } from '../fixtures/event-clock.js';
import { memoryAuth } from '../fixtures/memory-auth.js';
import { forceGc, heapUsed, median, report } from './support/measure.js';
import { StandInSocket, standInMaker } from './support/stand-in-socket.js';

const sessions = Number(process.argv[2] ?? 1_000);
const hours = Number(process.argv[3] ?? 10);
const runs = Number(process.argv[4] ?? 3);
const hourMs = 3_600_000;
/** Advance in slices this long, letting promises settle between them (a reconnect's open is async). */
const sliceMs = 100;
const without = new Set((process.env.P1_WITHOUT ?? '').split(',').filter(Boolean));

/** XState re-arming one delayed event per tick: µs per tick, on the same kind of clock. */
function xstateFloorMicros(actors: number, ticksEach: number): number {
  const tickMs = 1_000;
  const bare = setup({}).createMachine({ initial: 'waiting', states: { waiting: { after: { [tickMs]: { target: 'waiting', reenter: true } } } } });
  const clock = new EventClock();
  const started = Array.from({ length: actors }, () => createActor(bare, { clock }).start());
  const t0 = performance.now();
  clock.advance(tickMs * ticksEach);
  const micros = ((performance.now() - t0) * 1000) / (actors * ticksEach);
  for (const actor of started) actor.stop();
  return micros;
}

async function productionRun() {
  const clock = new EventClock();
  /** XState's timers, counted: the floor is priced per delayed event the machines fired. */
  let machineTimerFires = 0;
  const machineClock = {
    setTimeout: (fn: (...args: unknown[]) => void, ms: number) =>
      clock.setTimeout(() => {
        machineTimerFires += 1;
        fn();
      }, ms),
    clearTimeout: (handle: unknown) => clock.clearTimeout(handle as never),
  };
  const linkClock = { now: () => clock.now(), setTimeout: (fn: () => void, ms: number) => clock.setTimeout(fn, ms), clearTimeout: machineClock.clearTimeout };

  let logLines = 0;
  const discard = new Writable({
    write: (_chunk, _encoding, done) => {
      logLines += 1;
      done();
    },
  });
  const logger = createLogger({ level: without.has('log') ? 'silent' : 'info', format: 'json', destination: discard });
  let opening = 0;
  const sockets = new Map<string, StandInSocket>();
  const admission = new ConnectAdmission(8);
  const auth = memoryAuth(); // the stand-in socket never reads it: no per-attempt key generation
  const connection = createConnectionLogic({
    openAuthState: async () => auth,
    socketOptions: resolveSocketOptions({ waWebSocketUrl: 'ws://127.0.0.1:9/unused', ...(without.has('linkwatch') ? { keepAliveIntervalMs: 2 ** 31 - 1 } : {}) }),
    baileysLogger: logger.child({ component: 'baileys' }, { level: 'error' }),
    staleLinkAfterMs: without.has('linkwatch') ? 0 : 30_000,
    admission: {
      acquire: () => {
        opening += 1;
        return admission.acquire();
      },
    },
    makeSocket: standInMaker(() => (opening -= 1)),
    clock: linkClock,
    onSocket: (userId, _sessionId, socket) => {
      if (socket) sockets.set(userId, socket as unknown as StandInSocket);
    },
  });
  // As the registry provides it: once per process.
  const machine = sessionMachine.provide({
    actors: { connection },
    actions: { log: sessionLogWriter(logger), wipeCredentials: () => undefined },
  }) as SessionMachine;

  /** Runs the clock for `ms`, letting each reconnect's async start settle between slices. */
  const run = async (ms: number) => {
    for (let done = 0; done < ms; done += sliceMs) {
      clock.advance(Math.min(sliceMs, ms - done));
      for (let spins = 0; opening > 0 && spins < 1_000; spins++) await null;
    }
  };

  forceGc();
  const heapBefore = heapUsed();
  const actors = Array.from({ length: sessions }, (_, i) => createActor(machine, { clock: machineClock, input: { userId: `u${i}`, sessionId: 'main' } }));
  for (const actor of actors) actor.start();
  await run(61_000); // every session open and stable
  forceGc();
  const heapPerSessionKB = (heapUsed() - heapBefore) / sessions / 1024;
  const openAfterStart = actors.filter((a) => a.getSnapshot().matches('open')).length;

  // One dropped link per session per hour, spread over the hour.
  for (let hour = 0; hour < hours; hour++) {
    for (let i = 0; i < sessions; i++) {
      clock.setTimeout(() => sockets.get(`u${i}`)?.drop(428, 'bench fault'), hour * hourMs + Math.floor((i * hourMs) / sessions));
    }
  }
  machineTimerFires = 0;
  logLines = 0;
  const started = performance.now();
  await run(hours * hourMs);
  const wallMs = performance.now() - started;
  if (opening !== 0) process.stderr.write(`opening at end: ${opening}\n`);
  const openAtEnd = actors.filter((a) => a.getSnapshot().matches('open')).length;
  const reconnects = actors.reduce((sum, a) => sum + a.getSnapshot().context.connectionCount, 0);
  for (const actor of actors) actor.stop();
  return { wallMs, heapPerSessionKB, openAfterStart, openAtEnd, machineTimerFires, logLines, reconnects };
}

const floorMicros = median([0, 1, 2].map(() => xstateFloorMicros(sessions, 200)));
const results = [];
for (let i = 0; i < runs; i++) results.push(await productionRun());
const wallMs = median(results.map((r) => r.wallMs));
const machineTimerFires = median(results.map((r) => r.machineTimerFires));
const floorMs = (floorMicros * machineTimerFires) / 1000;
const figures = {
  ratioToXStateFloor: Number((wallMs / floorMs).toFixed(2)),
  // The first run's: later runs start on a heap still holding what the previous run left for the collector.
  heapPerSessionKB: Number(results[0]!.heapPerSessionKB.toFixed(1)),
};
const goals = { ratioToXStateFloor: 2.5, heapPerSessionKB: 20 };
report('P1 supervisor cost (production path)', {
  ...(without.size ? { without: [...without] } : {}),
  sessions,
  simulatedHours: hours,
  faultsInjected: sessions * hours,
  runs,
  wallMs: Math.round(wallMs),
  wallMsPerRun: results.map((r) => Math.round(r.wallMs)),
  xstateFloorMicrosPerTick: Number(floorMicros.toFixed(2)),
  machineTimerFires,
  floorMs: Math.round(floorMs),
  ...figures,
  goals,
  met: Object.fromEntries(Object.entries(goals).map(([k, goal]) => [k, figures[k as keyof typeof figures] <= goal])),
  heapPerSessionKBPerRun: results.map((r) => Number(r.heapPerSessionKB.toFixed(1))),
  logLines: results[0]!.logLines,
  reconnects: results[0]!.reconnects,
  openAfterStart: results.map((r) => r.openAfterStart),
  openAtEnd: results.map((r) => r.openAtEnd),
  loadAverage1m: Number(loadavg()[0]!.toFixed(2)),
});
process.exit(0);
