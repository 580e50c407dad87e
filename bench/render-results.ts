/**
 * Regenerates the figures in bench/RESULTS.md from the JSON the benchmarks saved
 * (BENCH_SAVE_DIR=bench/results). Only the block between the two `generated`
 * markers is rewritten; the prose around it is kept. Every "met" comes from the
 * benchmark's own verdict, never from this script.
 *
 *   node --import tsx bench/render-results.ts [results dir=bench/results]
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';

const dir = process.argv[2] ?? 'bench/results';
const resultsFile = 'bench/RESULTS.md';
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const results = new Map<string, Json>();
for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
  results.set(file.replace(/\.json$/, ''), JSON.parse(readFileSync(join(dir, file), 'utf8')) as Json);
}

const n = (value: number, digits = 0) => value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const s = (ms: number) => `${n(ms / 1000, 1)} s`;
const verdict = (met: Record<string, boolean> | undefined) => {
  if (!met) return '—';
  const missed = Object.entries(met).filter(([, ok]) => !ok).map(([k]) => k);
  return missed.length === 0 ? 'yes' : `**no**: ${missed.join(', ')}`;
};
const load = (l: unknown) => (typeof l === 'number' ? n(l, 1) : l && typeof l === 'object' ? Object.values(l as Record<string, number>).map((v) => n(v, 1)).join(' → ') : '?');

const rows: string[] = [];
const row = (name: string, command: string, result: string, goal: string, j: Json) =>
  rows.push(`| ${name} | \`${command}\` | ${result} | ${goal} | ${verdict(j.met)} | ${load(j.loadAverage1m)} |`);

const p1 = results.get('p1-1000');
if (p1) {
  row(
    'P1 supervisor cost, production path',
    'npm run bench:p1',
    `${n(p1.sessions)} sessions × ${p1.simulatedHours} simulated h, ${n(p1.faultsInjected)} faults, median of ${p1.runs}: ${s(p1.wallMs)} wall; XState floor ${n(p1.xstateFloorMicrosPerTick, 1)} µs/tick × ${n(p1.machineTimerFires)} machine timer events = ${s(p1.floorMs)}: **${p1.ratioToXStateFloor}× the floor**; **${p1.heapPerSessionKB} KB heap/session**`,
    '≤ 2.5× floor; ≤ 20 KB',
    p1,
  );
}
const p2 = results.get('p2-200');
if (p2) {
  row(
    'P2 memory per open session',
    'npm run bench:p2',
    `${p2.sessions} sessions, median of ${p2.rounds} rounds each side: service ${p2.vigil.heapPerSessionKB} KB heap / ${p2.vigil.rssPerSessionKB} KB RSS, raw Baileys ${p2.raw.heapPerSessionKB} KB / ${p2.raw.rssPerSessionKB} KB: **${p2.heapRatio}× heap, ${p2.rssRatio}× RSS**`,
    '≤ 1.25× raw; ≤ 200 KB heap',
    p2,
  );
}
const p3 = results.get('p3');
if (p3) {
  const fp = p3.falsePositiveRun;
  row(
    'P3 dead-link detection',
    'npm run bench:p3',
    `deafened link, medians of ${p3.pairs}: wa-vigil in backingOff after **${s(p3.vigilToBackingOffMedianMs)}**; raw Baileys decides at ${s(p3.rawDecisionMedianMs)}, reports close at ${s(p3.rawReportMedianMs)}: **${p3.ratioToRawDecision}× its decision, ${p3.ratioToRawReport}× its report**. Answers 10 s late for ${fp.simulatedMinutes} simulated min (×${fp.scale} time scale, ${fp.sessions} sessions): **${fp.disconnects} false positives**, ${fp.degradedEntries} degraded entries`,
    '≤ 45 s, ≤ 0.75× decision, ≤ 0.5× report; 0 false positives',
    p3,
  );
}
const p4 = results.get('p4-200');
if (p4) {
  row(
    'P4 reconnect storm vs raw Baileys',
    'npm run bench:p4',
    `${p4.sessions} sessions dropped at once, median of ${p4.raw.samples} storms each side: all open ${s(p4.vigil.allOpenMs)} vs raw ${s(p4.raw.allOpenMs)} (**${p4.allOpenRatio}×**), p50 ${s(p4.vigil.p50Ms)} vs ${s(p4.raw.p50Ms)} (**${p4.p50Ratio}×**); client CPU per reconnect ${p4.vigil.clientCpuPerReconnectMs} ms vs ${p4.raw.clientCpuPerReconnectMs} ms (**${p4.clientCpuPerReconnectRatio}×**); all-open / CPU bound ${p4.allOpenOverCpuBound}`,
    '≤ 0.5×; ≤ 0.25×; ≤ 0.35×; ≤ 1.1×',
    p4,
  );
}
const p5 = results.get('p5');
if (p5) {
  row('P5 pairing restart', 'npm run bench:p5', `QR scan → 515 → open: median ${p5.scanToOpenMedianMs} ms, max ${p5.scanToOpenMaxMs} ms over ${p5.pairings} pairings, ${p5.backoffsSeen} backoffs`, '≤ 1 s, no backoff', p5);
}

const scale: string[] = [];
for (const size of [200, 1000, 2000]) {
  const m = results.get(`p2-${size}`);
  const st = results.get(`p4-${size}`);
  if (!m && !st) continue;
  scale.push(
    `| ${n(size)} | ${m ? `${m.vigil.heapPerSessionKB} / ${m.vigil.rssPerSessionKB}` : '—'} | ${m ? `${m.raw.heapPerSessionKB} / ${m.raw.rssPerSessionKB}` : '—'} | ${
      st ? `${s(st.vigil.allOpenMs)} / ${s(st.vigil.p50Ms)}` : '—'
    } | ${st ? `${s(st.raw.allOpenMs)} / ${s(st.raw.p50Ms)}` : '—'} | ${st ? `${st.vigil.clientCpuPerReconnectMs} / ${st.raw.clientCpuPerReconnectMs} (${st.clientCpuPerReconnectRatio}×)` : '—'} | ${
      st ? `${st.vigil.simulatorCpuPerReconnectMs}` : '—'
    } | ${st ? `${s(st.cpuBoundMs)} (${st.allOpenOverCpuBound}×)` : '—'} | ${st ? `${st.runs}×${st.roundsPerRun}` : '—'} | ${m ? verdict(m.met) : '—'} · ${st ? verdict(st.met) : '—'} | ${load(st?.loadAverage1m ?? m?.loadAverage1m)} |`,
  );
}

const machine = `${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown'}), ${n(totalmem() / 2 ** 30)} GiB, Node ${[...results.values()][0]?.node ?? process.version}`;
const block = [
  '<!-- generated:start (bench/render-results.ts from bench/results/*.json; do not edit by hand) -->',
  `Machine: ${machine}, shared with other work (the load column is the 1-minute load average during the run).`,
  '',
  '| bench | command | result | goal | met (computed by the bench) | load |',
  '| --- | --- | --- | --- | --- | --- |',
  ...rows,
  '',
  '### Scale curve (P2 memory, P4 storm)',
  '',
  '| N | service heap / RSS KB per session | raw heap / RSS KB | storm all-open / p50, wa-vigil | raw | client CPU ms per reconnect, wa-vigil / raw | simulator CPU ms per reconnect | CPU bound ((client + simulator) × N / cores) | runs × storms | met P2 · P4 | load |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ...scale,
  '<!-- generated:end -->',
].join('\n');

const current = readFileSync(resultsFile, 'utf8');
const start = current.indexOf('<!-- generated:start');
const end = current.indexOf('<!-- generated:end -->');
const next = start >= 0 && end > start ? current.slice(0, start) + block + current.slice(end + '<!-- generated:end -->'.length) : `${current.trimEnd()}\n\n${block}\n`;
writeFileSync(resultsFile, next);
process.stdout.write(`${resultsFile}: ${rows.length} bench rows, ${scale.length} scale rows from ${results.size} files\n`);
