/**
 * P2 memory per open session: N sessions through the service itself against N
 * raw makeWASocket clients (bench/p2-worker.ts: both warmed, same Baileys config,
 * same credentials layout, 8 handshakes at a time), each side in a fresh process,
 * the simulator in a third (one is enough: memory is measured at rest, and the
 * service takes one WA_WS_URL). Sides alternate; medians of
 * `rounds`. Goals: wa-vigil ≤ 1.25× raw for heap and RSS; ≤ 200 KB heap per session.
 *
 *   node --import tsx bench/p2-memory.ts [sessions=200] [rounds=3]
 */
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { median, report } from './support/measure.js';
import { startSimProcess } from './support/sim-process.js';

const sessions = Number(process.argv[2] ?? 200);
const rounds = Number(process.argv[3] ?? 3);
const sim = await startSimProcess();
const loadAtStart = loadavg()[0]!;

type Result = { heapPerSessionKB: number; rssPerSessionKB: number };
function runWorker(mode: 'vigil' | 'raw', phoneBase: number): Promise<Result> {
  const url = sim.url;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', 'bench/p2-worker.ts', mode, String(sessions), url, String(phoneBase)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1)!)) : reject(new Error(`${mode} worker exited ${code}`))));
  });
}

const vigil: Result[] = [];
const raw: Result[] = [];
let phoneBase = 15590000000;
for (let round = 0; round < rounds; round++) {
  raw.push(await runWorker('raw', (phoneBase += 100_000)));
  vigil.push(await runWorker('vigil', (phoneBase += 100_000)));
}
sim.stop();

const heapVigil = median(vigil.map((r) => r.heapPerSessionKB));
const heapRaw = median(raw.map((r) => r.heapPerSessionKB));
const rssVigil = median(vigil.map((r) => r.rssPerSessionKB));
const rssRaw = median(raw.map((r) => r.rssPerSessionKB));
const figures = {
  heapRatio: Number((heapVigil / heapRaw).toFixed(2)),
  rssRatio: Number((rssVigil / rssRaw).toFixed(2)),
  vigilHeapPerSessionKB: heapVigil,
};
const goals = { heapRatio: 1.25, rssRatio: 1.25, vigilHeapPerSessionKB: 200 };
report('P2 memory per open session', {
  sessions,
  rounds,
  vigil: { heapPerSessionKB: heapVigil, rssPerSessionKB: rssVigil },
  raw: { heapPerSessionKB: heapRaw, rssPerSessionKB: rssRaw },
  ...figures,
  goals,
  met: Object.fromEntries(Object.entries(goals).map(([k, goal]) => [k, figures[k as keyof typeof figures] <= goal])),
  loadAverage1m: { start: Number(loadAtStart.toFixed(2)), end: Number(loadavg()[0]!.toFixed(2)) },
  perRound: { raw, vigil },
});
process.exit(0);
