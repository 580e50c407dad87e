/**
 * P4 reconnect storm: 200 open sessions; the simulator (another process) drops
 * them all at once. Reports the time until all are open again and p50/p95 per
 * session, for several admission limits, against the CPU bound: 200 × the time
 * one connect takes alone. Goal: all-open ≤ 1.1× that bound, p50 ≤ 0.6× all-open.
 *
 *   node --import tsx bench/p4-reconnect-storm.ts [sessions=200]
 */
import { performance } from 'node:perf_hooks';
import { waitFor } from 'xstate';
import { median, percentile, report } from './support/measure.js';
import { allReach, startLiveSessions } from './support/live-sessions.js';
import { startSimProcess, type SimProcess } from './support/sim-process.js';

const sessions = Number(process.argv[2] ?? 200);
const retryDelayMs = 100; // the storm itself, not the backoff schedule, is measured

async function waitForNoConnections(sim: SimProcess): Promise<void> {
  while ((await sim.state()).connections.length > 0) await new Promise((resolve) => setTimeout(resolve, 50));
}

const sim = await startSimProcess();
let phoneBase = 15552000000;

// The CPU bound: one connect alone, five times.
const singles: number[] = [];
for (let i = 0; i < 5; i++) {
  const started = performance.now();
  const [actor] = startLiveSessions({ url: sim.url, count: 1, phoneBase: phoneBase++ });
  await allReach([actor!], 'open');
  singles.push(performance.now() - started);
  actor!.stop();
  await waitForNoConnections(sim);
}
const singleMs = median(singles);
const cpuBoundMs = singleMs * sessions;

const configs = [
  { name: 'no admission control', maxConcurrentConnects: undefined, jitterRatio: 0 },
  { name: 'admission 8 (default)', maxConcurrentConnects: 8, jitterRatio: 0 },
  { name: 'admission 4', maxConcurrentConnects: 4, jitterRatio: 0 },
  { name: 'admission 8 + jitter 0.5', maxConcurrentConnects: 8, jitterRatio: 0.5 },
];
const results = [];
for (const config of configs) {
  const actors = startLiveSessions({
    url: sim.url,
    count: sessions,
    phoneBase,
    maxConcurrentConnects: config.maxConcurrentConnects,
    policy: { reconnectDelaysMs: [retryDelayMs], jitterRatio: config.jitterRatio },
  });
  phoneBase += sessions;
  await allReach(actors, 'open');
  await new Promise((resolve) => setTimeout(resolve, 500));

  const dropped = performance.now();
  const back = actors.map(async (actor) => {
    await waitFor(actor, (s) => !s.matches('open'), { timeout: 10_000 });
    await waitFor(actor, (s) => s.matches('open'), { timeout: 120_000 });
    return performance.now() - dropped;
  });
  await sim.fault('close');
  const times = (await Promise.all(back)).sort((a, b) => a - b);
  const allOpenMs = times.at(-1)! - retryDelayMs;
  results.push({
    config: config.name,
    allOpenMs: Math.round(allOpenMs),
    p50Ms: Math.round(percentile(times, 50) - retryDelayMs),
    p95Ms: Math.round(percentile(times, 95) - retryDelayMs),
    allOpenOverCpuBound: Number((allOpenMs / cpuBoundMs).toFixed(2)),
    p50OverAllOpen: Number(((percentile(times, 50) - retryDelayMs) / allOpenMs).toFixed(2)),
  });
  actors.forEach((a) => a.stop());
  await waitForNoConnections(sim);
}
sim.stop();

report('P4 reconnect storm', {
  sessions,
  singleConnectMs: Math.round(singleMs),
  cpuBoundMs: Math.round(cpuBoundMs),
  note: `times exclude the ${retryDelayMs} ms retry delay`,
  results,
  goals: { allOpenOverCpuBound: 1.1, p50OverAllOpen: 0.6 },
});
process.exit(0);
