/**
 * P10 send: 100 paired sessions × 20 texts each to the simulator's contacts'
 * phones (real Signal crypto), through wa-vigil's API against raw Baileys
 * `sendMessage` in the same run, on the same simulator, the two sides
 * alternating in fresh processes (raw, vigil, raw, vigil …).
 *
 * Both sides, per round: N sessions open (credentials on disk), each talks with
 * two of 20 contacts. Warm-up, not measured: one message from every session to
 * each of its contacts (the first is a `pkmsg`, whose session setup is
 * pure-JS curve math, and the service's "on WhatsApp?" answer is cached after
 * it). Then the measured phase: every session sends its M messages one after
 * another — the next once the last is acknowledged by the server — all sessions
 * at once, the same plan on both sides.
 *
 *   CPU per message   the worker process's user+system time over the measured
 *                     phase (/proc/<pid>/stat), divided by N × M. The vigil side
 *                     includes its HTTP server, the durable queue's writes, the
 *                     status writes and the outbox: durability included.
 *   latency           raw: sendMessage called → the server's `<ack class=message>`
 *                     read off the socket, in the worker. vigil: POST …/messages
 *                     sent (from this process) → its `message.status` "sent"
 *                     event read from GET /events, which streams only what the
 *                     outbox stored: an upper bound, HTTP both ways included.
 *   phones            every measured id on its contact's phone exactly once.
 *
 * Goals (issue): CPU/message ≤ 1.25× raw's; p50 ≤ 1.25× raw's; 0 lost, 0 duplicated.
 *
 *   node --import tsx bench/p10-send.ts [sessions=100] [messages=20] [rounds=3]
 *   P10_PROFILE_DIR=/tmp/p10 …   also a V8 CPU profile of each worker's measured phase
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface, type Interface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { generateMessageIDV2 } from '@whiskeysockets/baileys';
import { startSimProcess } from './support/sim-process.js';
import { median, percentile, report } from './support/measure.js';
import { readEventStream } from './support/event-stream.js';
import { runPlanBySession, type PlannedSend } from './support/send-plan.js';

const sessionCount = Number(process.argv[2] ?? 100);
const messagesPerSession = Number(process.argv[3] ?? 20);
const rounds = Number(process.argv[4] ?? 3);
const contactCount = 20;
const goals = { cpuRatio: 1.25, p50Ratio: 1.25 };
const clockTicksPerSecond = 100; // USER_HZ on Linux

const sim = await startSimProcess();
const contacts = Array.from({ length: contactCount }, (_, i) => `1555900${String(i).padStart(4, '0')}`);
for (const phone of contacts) {
  const response = await fetch(`${sim.controlUrl}/contacts`, { method: 'POST', body: JSON.stringify({ phone, receipts: 'delivered' }) });
  if (!response.ok) throw new Error(`adding contact ${phone}: ${response.status}`);
}

interface Worker {
  child: ChildProcess;
  lines: Interface;
  next(): Promise<Record<string, unknown>>;
}

function startWorker(mode: 'raw' | 'vigil', phoneBase: number): Worker {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/p10-worker.ts', mode, String(sessionCount), sim.url, String(phoneBase)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const queue: string[] = [];
  const waiters: Array<(line: string) => void> = [];
  lines.on('line', (line) => {
    const waiter = waiters.shift();
    if (waiter) waiter(line);
    else queue.push(line);
  });
  return {
    child,
    lines,
    next: () =>
      new Promise((resolve, reject) => {
        const take = (line: string) => resolve(JSON.parse(line) as Record<string, unknown>);
        const queued = queue.shift();
        if (queued !== undefined) take(queued);
        else waiters.push(take);
        child.once('exit', (code) => reject(new Error(`${mode} worker exited with ${String(code)}`)));
      }),
  };
}

/** With P10_PROFILE_DIR set, the worker profiles the measured phase (not counted: the CPU figure is read inside). */
async function profile(worker: Worker, command: 'start' | 'stop'): Promise<void> {
  if (!process.env.P10_PROFILE_DIR) return;
  worker.child.stdin!.write(`profile-${command}\n`);
  await worker.next();
}

/** User + system CPU time of a process so far, ms. */
function cpuMsOf(pid: number): number {
  const { userMs, systemMs } = cpuSplitOf(pid);
  return userMs + systemMs;
}

/** User and system (kernel: file system, fsync, sockets) CPU time of a process so far, ms. */
function cpuSplitOf(pid: number): { userMs: number; systemMs: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of /proc/<pid>/stat (utime, stime), counted after the ")" of the name.
  return { userMs: (Number(fields[11]) * 1000) / clockTicksPerSecond, systemMs: (Number(fields[12]) * 1000) / clockTicksPerSecond };
}

/** Warm-up plan (one message per session per contact) and the measured plan. */
function plans(): { warm: PlannedSend[]; measured: PlannedSend[] } {
  const contactOf = (session: number, k: number) => contacts[(session * 2 + (k % 2)) % contactCount]!;
  const warm: PlannedSend[] = [];
  const measured: PlannedSend[] = [];
  for (let session = 0; session < sessionCount; session++) {
    for (let k = 0; k < 2; k++) warm.push({ session, to: contactOf(session, k), id: generateMessageIDV2() });
    for (let k = 0; k < messagesPerSession; k++) measured.push({ session, to: contactOf(session, k), id: generateMessageIDV2() });
  }
  return { warm, measured };
}

async function runRaw(phoneBase: number) {
  const worker = startWorker('raw', phoneBase);
  await worker.next();
  const { warm, measured } = plans();
  worker.child.stdin!.write(`${JSON.stringify(warm)}\n`);
  await worker.next();
  await profile(worker, 'start');
  const cpuBefore = cpuMsOf(worker.child.pid!);
  const systemBefore = cpuSplitOf(worker.child.pid!).systemMs;
  const started = performance.now();
  worker.child.stdin!.write(`${JSON.stringify(measured)}\n`);
  const { latenciesMs } = (await worker.next()) as { latenciesMs: number[] };
  const wallMs = performance.now() - started;
  const cpuMs = cpuMsOf(worker.child.pid!) - cpuBefore;
  const systemMs = cpuSplitOf(worker.child.pid!).systemMs - systemBefore;
  await profile(worker, 'stop');
  worker.child.stdin!.end();
  await new Promise((resolve) => worker.child.once('exit', resolve));
  return { cpuMsPerMessage: cpuMs / measured.length, systemMsPerMessage: systemMs / measured.length, latenciesMs, wallMs, ids: measured.map((send) => send.id) };
}

async function runVigil(phoneBase: number) {
  const worker = startWorker('vigil', phoneBase);
  const { url } = (await worker.next()) as { url: string };
  const sentAt = new Map<string, (at: number) => void>();
  // message.status events as the outbox stores them.
  const reader = await readEventStream(`${url}/events?types=message.status`, (data) => {
    const payload = (data as { payload?: { id?: string; status?: string } }).payload;
    if (payload?.status === 'sent' || payload?.status === 'failed') sentAt.get(payload.id ?? '')?.(performance.now());
  });
  const sendOne = async (send: PlannedSend): Promise<number> => {
    const acked = new Promise<number>((resolve) => sentAt.set(send.id, resolve));
    const start = performance.now();
    const response = await fetch(`${url}/sessions/p${phoneBase + send.session}/main/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ to: send.to, text: `order ${send.id} shipped`, id: send.id }),
    });
    if (response.status !== 202) throw new Error(`POST messages: ${response.status} ${await response.text()}`);
    const at = await acked;
    sentAt.delete(send.id);
    return at - start;
  };
  const runPlan = (plan: PlannedSend[]) => runPlanBySession(plan, sendOne);
  const { warm, measured } = plans();
  await runPlan(warm);
  await profile(worker, 'start');
  const cpuBefore = cpuMsOf(worker.child.pid!);
  const systemBefore = cpuSplitOf(worker.child.pid!).systemMs;
  const started = performance.now();
  const latenciesMs = await runPlan(measured);
  const wallMs = performance.now() - started;
  const cpuMs = cpuMsOf(worker.child.pid!) - cpuBefore;
  const systemMs = cpuSplitOf(worker.child.pid!).systemMs - systemBefore;
  await profile(worker, 'stop');
  await reader.cancel();
  worker.child.stdin!.end();
  await new Promise((resolve) => worker.child.once('exit', resolve));
  return { cpuMsPerMessage: cpuMs / measured.length, systemMsPerMessage: systemMs / measured.length, latenciesMs, wallMs, ids: measured.map((send) => send.id) };
}

type Side = Awaited<ReturnType<typeof runRaw>>;
const results: { raw: Side[]; vigil: Side[] } = { raw: [], vigil: [] };
let phoneBase = 15561000000;
for (let round = 0; round < rounds; round++) {
  for (const mode of ['raw', 'vigil'] as const) {
    phoneBase += 10_000;
    const side = mode === 'raw' ? await runRaw(phoneBase) : await runVigil(phoneBase);
    results[mode].push(side);
    const sorted = [...side.latenciesMs].sort((a, b) => a - b);
    process.stderr.write(`round ${round + 1} ${mode}: ${side.cpuMsPerMessage.toFixed(2)} ms CPU/message, p50 ${percentile(sorted, 50).toFixed(1)} ms, ${side.wallMs.toFixed(0)} ms\n`);
  }
}

// The phones: each measured id shown exactly once.
const phones = (await (await fetch(`${sim.controlUrl}/contacts`)).json()) as Array<{ inbox: Array<{ id: string }> }>;
const copies = new Map<string, number>();
for (const phone of phones) for (const message of phone.inbox) copies.set(message.id, (copies.get(message.id) ?? 0) + 1);
const sideCheck = (sides: Side[]) => {
  const ids = sides.flatMap((side) => side.ids);
  return { lost: ids.filter((id) => !copies.has(id)).length, duplicated: ids.filter((id) => (copies.get(id) ?? 0) > 1).length };
};
sim.stop();

const summary = (sides: Side[]) => {
  const p50s = sides.map((side) => percentile([...side.latenciesMs].sort((a, b) => a - b), 50));
  const p95s = sides.map((side) => percentile([...side.latenciesMs].sort((a, b) => a - b), 95));
  return {
    cpuMsPerMessage: Number(median(sides.map((side) => side.cpuMsPerMessage)).toFixed(2)),
    /** Of which in the kernel (file system and fsync, sockets). */
    systemMsPerMessage: Number(median(sides.map((side) => side.systemMsPerMessage)).toFixed(2)),
    p50Ms: Number(median(p50s).toFixed(1)),
    p95Ms: Number(median(p95s).toFixed(1)),
    messagesPerSecond: Math.round(median(sides.map((side) => side.ids.length / (side.wallMs / 1000)))),
  };
};
const raw = summary(results.raw);
const vigil = summary(results.vigil);
const phonesRaw = sideCheck(results.raw);
const phonesVigil = sideCheck(results.vigil);
const cpuRatio = vigil.cpuMsPerMessage / raw.cpuMsPerMessage;
const p50Ratio = vigil.p50Ms / raw.p50Ms;
const exact = phonesVigil.lost === 0 && phonesVigil.duplicated === 0;
report('P10 send', {
  sessions: sessionCount,
  messagesPerSession,
  rounds,
  raw,
  vigil,
  phones: { raw: phonesRaw, vigil: phonesVigil },
  cpuRatio: Number(cpuRatio.toFixed(2)),
  p50Ratio: Number(p50Ratio.toFixed(2)),
  goals,
  verdict: exact && cpuRatio <= goals.cpuRatio && p50Ratio <= goals.p50Ratio ? 'met' : 'missed',
  missed: [...(exact ? [] : ['phones']), ...(cpuRatio <= goals.cpuRatio ? [] : ['cpuRatio']), ...(p50Ratio <= goals.p50Ratio ? [] : ['p50Ratio'])],
});
process.exit(0);
