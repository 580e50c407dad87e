/**
 * P4 reconnect storm, against raw Baileys' own storm in the same run.
 *
 * N open sessions; every simulator (one process per 500 clients) drops every
 * connection at once. Each side runs in its own client process (storm-worker.ts),
 * so `process.cpuUsage()` is that client's alone:
 *   raw    makeWASocket, Baileys' defaults, reconnecting the moment a socket closes
 *   vigil  wa-vigil's session actors, admission 8 (the default), 0 ms reconnect delay
 * The sides alternate (raw, vigil, raw, vigil …) so both meet the same machine load.
 *
 * Figures, medians over runs × rounds: time until all are open again and p50 per
 * session, client CPU per reconnect, simulator CPU per reconnect. Verdicts:
 *   all-open ≤ 0.5× raw's, p50 ≤ 0.25× raw's, client CPU per reconnect ≤ 0.35× raw's,
 *   all-open ≤ 1.1× the CPU bound ((client + simulator CPU per reconnect) × N / cores).
 *
 *   node --import tsx bench/p4-reconnect-storm.ts [sessions=200] [runs=3] [rounds=1]
 */
import { spawn } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { median, report } from './support/measure.js';
import { startSimProcess } from './support/sim-process.js';

const sessions = Number(process.argv[2] ?? 200);
const runs = Number(process.argv[3] ?? 3);
const rounds = Number(process.argv[4] ?? 1);
const clientsPerSimulator = 500;
const cores = availableParallelism();

interface Round {
  allOpenMs: number;
  p50Ms: number;
  p95Ms: number;
  clientCpuPerReconnectMs: number;
  simulatorCpuPerReconnectMs: number;
  loadAverage1m: number;
}

const sims = await Promise.all(Array.from({ length: Math.ceil(sessions / clientsPerSimulator) }, () => startSimProcess()));
const loadAtStart = loadavg()[0]!;

function runWorker(mode: 'raw' | 'vigil', phoneBase: number): Promise<{ certificateCheck: string; rounds: Round[] }> {
  const args = [
    '--import',
    'tsx',
    'bench/support/storm-worker.ts',
    mode,
    String(sessions),
    sims.map((s) => s.url).join(','),
    sims.map((s) => s.controlUrl).join(','),
    String(phoneBase),
    String(rounds),
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1)!)) : reject(new Error(`${mode} worker exited ${code}`))));
  });
}

async function waitForNoConnections(): Promise<void> {
  for (const sim of sims) while ((await sim.state()).connections.length > 0) await new Promise((resolve) => setTimeout(resolve, 100));
}

const raw: Round[] = [];
const vigil: Round[] = [];
const checks = new Set<string>();
let phoneBase = 15580000000;
for (let run = 0; run < runs; run++) {
  for (const [mode, into] of [['raw', raw], ['vigil', vigil]] as const) {
    const result = await runWorker(mode, (phoneBase += 100_000));
    into.push(...result.rounds);
    checks.add(`${mode}:${result.certificateCheck}`);
    await waitForNoConnections();
  }
}
for (const sim of sims) sim.stop();

const summary = (rs: Round[]) => ({
  allOpenMs: median(rs.map((r) => r.allOpenMs)),
  p50Ms: median(rs.map((r) => r.p50Ms)),
  p95Ms: median(rs.map((r) => r.p95Ms)),
  clientCpuPerReconnectMs: median(rs.map((r) => r.clientCpuPerReconnectMs)),
  simulatorCpuPerReconnectMs: median(rs.map((r) => r.simulatorCpuPerReconnectMs)),
  samples: rs.length,
});
const r = summary(raw);
const v = summary(vigil);
const ratio = (a: number, b: number) => Number((a / b).toFixed(2));
const cpuBoundMs = ((v.clientCpuPerReconnectMs + v.simulatorCpuPerReconnectMs) * sessions) / cores;
const figures = {
  allOpenRatio: ratio(v.allOpenMs, r.allOpenMs),
  p50Ratio: ratio(v.p50Ms, r.p50Ms),
  clientCpuPerReconnectRatio: ratio(v.clientCpuPerReconnectMs, r.clientCpuPerReconnectMs),
  allOpenOverCpuBound: ratio(v.allOpenMs, cpuBoundMs),
};
const goals = { allOpenRatio: 0.5, p50Ratio: 0.25, clientCpuPerReconnectRatio: 0.35, allOpenOverCpuBound: 1.1 };
report('P4 reconnect storm', {
  sessions,
  simulators: sims.length,
  cores,
  runs,
  roundsPerRun: rounds,
  sides: [...checks],
  raw: r,
  vigil: v,
  cpuBoundMs: Math.round(cpuBoundMs),
  ...figures,
  goals,
  met: Object.fromEntries(Object.entries(goals).map(([k, goal]) => [k, figures[k as keyof typeof figures] <= goal])),
  loadAverage1m: { start: Number(loadAtStart.toFixed(2)), end: Number(loadavg()[0]!.toFixed(2)) },
  perRound: { raw, vigil },
});
process.exit(0);
