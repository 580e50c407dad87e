/**
 * P3 dead-link detection, against raw Baileys in the same run.
 *
 * Detection, at default settings: on open sessions the simulator (another process)
 * stops sending and stops reading, so even close frames go unanswered. Times from
 * then until
 *   vigil          the session is in backingOff
 *   raw decision   Baileys' keep-alive gives up ("connection errored", Connection was lost)
 *   raw report     Baileys emits connection.update close (its end() waits for a close frame)
 * Goal: median ≤ 45 s, ≤ 0.5× raw's report, ≤ 0.75× raw's decision.
 *
 * False positives: sessions with every wa-vigil interval divided by `scale` (keep-alive
 * ping, silence probe and its 12 s deadline, the machine's probe, degraded timings)
 * while the simulator answers everything 10 s / scale late, for 30 minutes / scale.
 * Goal: no session ever leaves `open` (degraded entries are reported too).
 *
 * Scale 5 keeps the tightest margin (a probe's 12 s deadline against a 10 s late answer)
 * at 400 ms of real time, above the timer jitter of a loaded machine.
 *
 *   node --import tsx bench/p3-dead-link.ts [pairs=3] [scale=5]
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import makeWASocket from '@whiskeysockets/baileys';
import { pino } from 'pino';
import { waitFor } from 'xstate';
import { defaultSessionPolicy } from '../machines/session.policy.js';
import { defaultDeadLinkProbeTimeoutMs } from '../src/whatsapp/link-watch.js';
import { defaultSocketOptions } from '../src/whatsapp/socket-options.js';
import { memoryAuth, registeredCreds } from '../fixtures/memory-auth.js';
import { median, report } from './support/measure.js';
import { allReach, startLiveSessions } from './support/live-sessions.js';
import { startSimProcess } from './support/sim-process.js';

const pairs = Number(process.argv[2] ?? 3);
const scale = Number(process.argv[3] ?? 5);
const lateAnswerMs = 10_000;
const falsePositiveWindowMs = 30 * 60_000;
const loadAtStart = loadavg()[0]!;

// ---- detection at default settings ----
const sim = await startSimProcess();
const vigil = startLiveSessions({ url: sim.url, count: pairs, phoneBase: 15553000000 });
await allReach(vigil, 'open');

/** Raw Baileys, with a logger that notes when its keep-alive decides the link is lost. */
const raw = await Promise.all(
  Array.from({ length: pairs }, async (_, i) => {
    const auth = memoryAuth(registeredCreds(String(15554000000 + i), 1));
    let decidedAt: number | null = null;
    const watch = new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        if (decidedAt === null && chunk.toString().includes('"msg":"connection errored"')) decidedAt = performance.now();
        done();
      },
    });
    const sock = makeWASocket({ auth: auth.state, waWebSocketUrl: sim.url, logger: pino({ level: 'info' }, watch) as never });
    await new Promise<void>((resolve) => sock.ev.on('connection.update', (u) => u.connection === 'open' && resolve()));
    return { sock, decidedAt: () => decidedAt };
  }),
);

await new Promise((resolve) => setTimeout(resolve, 1_000));
const deafened = performance.now();
const vigilTimes = vigil.map(async (actor) => {
  await waitFor(actor, (s) => s.matches('backingOff'), { timeout: 300_000 });
  return performance.now() - deafened;
});
const rawTimes = raw.map(
  ({ sock, decidedAt }) =>
    new Promise<{ decisionMs: number; reportMs: number }>((resolve) =>
      sock.ev.on('connection.update', (u) => {
        if (u.connection === 'close') resolve({ decisionMs: (decidedAt() ?? performance.now()) - deafened, reportMs: performance.now() - deafened });
      }),
    ),
);
await sim.fault('deafen');
const vigilMs = median(await Promise.all(vigilTimes));
const rawResults = await Promise.all(rawTimes);
const rawDecisionMs = median(rawResults.map((r) => r.decisionMs));
const rawReportMs = median(rawResults.map((r) => r.reportMs));
vigil.forEach((a) => a.stop());
sim.stop();

// ---- false positives: answers 10 s late, every interval scaled ----
const slowSim = await startSimProcess();
const scaled = (ms: number) => Math.round(ms / scale);
const watched = startLiveSessions({
  url: slowSim.url,
  count: pairs,
  phoneBase: 15555000000,
  socket: { keepAliveIntervalMs: scaled(defaultSocketOptions.keepAliveIntervalMs) },
  staleLinkAfterMs: scaled(defaultSocketOptions.keepAliveIntervalMs),
  deadLinkProbeTimeoutMs: scaled(defaultDeadLinkProbeTimeoutMs),
  policy: {
    keepAliveIntervalMs: scaled(defaultSessionPolicy.keepAliveIntervalMs),
    healthCheckIntervalMs: scaled(defaultSessionPolicy.healthCheckIntervalMs),
    probeTimeoutMs: scaled(defaultSessionPolicy.probeTimeoutMs),
    degradedProbeIntervalMs: scaled(defaultSessionPolicy.degradedProbeIntervalMs),
    degradedTimeoutMs: scaled(defaultSessionPolicy.degradedTimeoutMs),
    stableAfterMs: scaled(defaultSessionPolicy.stableAfterMs),
  },
});
await allReach(watched, 'open');
/** Links given up on (entries into backingOff or terminated): each is a false positive. */
let disconnects = 0;
let degradedEntries = 0;
for (const actor of watched) {
  let previous = 'open';
  actor.subscribe((s) => {
    const state = typeof s.value === 'string' ? s.value : Object.keys(s.value)[0]!;
    if (state !== previous && (state === 'backingOff' || state === 'terminated')) disconnects += 1;
    if (state === 'degraded' && previous !== 'degraded') degradedEntries += 1;
    previous = state;
  });
}
await fetch(`${slowSim.controlUrl}/behaviour`, { method: 'PUT', body: JSON.stringify({ replyDelayMs: scaled(lateAnswerMs) }) });
await new Promise((resolve) => setTimeout(resolve, scaled(falsePositiveWindowMs)));
const stillOpen = watched.filter((a) => a.getSnapshot().matches('open')).length;
watched.forEach((a) => a.stop());
slowSim.stop();

const figures = {
  vigilMedianMs: Math.round(vigilMs),
  ratioToRawReport: Number((vigilMs / rawReportMs).toFixed(2)),
  ratioToRawDecision: Number((vigilMs / rawDecisionMs).toFixed(2)),
  falsePositives: disconnects,
};
const goals = { vigilMedianMs: 45_000, ratioToRawReport: 0.5, ratioToRawDecision: 0.75, falsePositives: 0 };
report('P3 dead-link detection', {
  pairs,
  vigilToBackingOffMedianMs: Math.round(vigilMs),
  rawDecisionMedianMs: Math.round(rawDecisionMs),
  rawReportMedianMs: Math.round(rawReportMs),
  ...figures,
  falsePositiveRun: {
    scale,
    simulatedMinutes: falsePositiveWindowMs / 60_000,
    answersLateBySimulatedMs: lateAnswerMs,
    sessions: pairs,
    disconnects,
    degradedEntries,
    openAtEnd: stillOpen,
  },
  goals,
  met: Object.fromEntries(Object.entries(goals).map(([k, goal]) => [k, figures[k as keyof typeof figures] <= goal])),
  loadAverage1m: { start: Number(loadAtStart.toFixed(2)), end: Number(loadavg()[0]!.toFixed(2)) },
});
process.exit(0);
