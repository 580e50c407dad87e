/**
 * P2 memory per open session: N real Baileys sessions through wa-vigil against
 * N raw makeWASocket clients, each side in a fresh process, the simulator in a
 * third; alternated so both sides meet the same machine state. Medians of
 * `rounds`. Goal: wa-vigil ≤ 1.25× raw for heap and RSS.
 *
 *   node --import tsx bench/p2-memory.ts [sessions=200] [rounds=2]
 */
import { spawn } from 'node:child_process';
import { median, report } from './support/measure.js';
import { startSimProcess } from './support/sim-process.js';

const sessions = Number(process.argv[2] ?? 200);
const rounds = Number(process.argv[3] ?? 2);
const sim = await startSimProcess();

function runWorker(mode: 'vigil' | 'raw', phoneBase: number): Promise<{ heapPerSessionKB: number; rssPerSessionKB: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', 'bench/p2-worker.ts', mode, String(sessions), sim.url, String(phoneBase)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1)!)) : reject(new Error(`${mode} worker exited ${code}`))));
  });
}

const vigil: Array<{ heapPerSessionKB: number; rssPerSessionKB: number }> = [];
const raw: Array<{ heapPerSessionKB: number; rssPerSessionKB: number }> = [];
let phoneBase = 15560000000;
for (let round = 0; round < rounds; round++) {
  raw.push(await runWorker('raw', (phoneBase += 10_000)));
  vigil.push(await runWorker('vigil', (phoneBase += 10_000)));
}
sim.stop();

const heapVigil = median(vigil.map((r) => r.heapPerSessionKB));
const heapRaw = median(raw.map((r) => r.heapPerSessionKB));
const rssVigil = median(vigil.map((r) => r.rssPerSessionKB));
const rssRaw = median(raw.map((r) => r.rssPerSessionKB));
report('P2 memory per open session', {
  sessions,
  rounds,
  vigil: { heapPerSessionKB: heapVigil, rssPerSessionKB: rssVigil },
  raw: { heapPerSessionKB: heapRaw, rssPerSessionKB: rssRaw },
  heapRatio: Number((heapVigil / heapRaw).toFixed(2)),
  rssRatio: Number((rssVigil / rssRaw).toFixed(2)),
  goals: { heapRatio: 1.25, rssRatio: 1.25 },
});
process.exit(0);
