/**
 * One side of the reconnect storm (P4), in its own process so `process.cpuUsage()`
 * is this client's alone: open N sessions, then `rounds` times have every simulator
 * drop every connection at once and time each session back to open.
 *
 *   raw    makeWASocket with Baileys' defaults and a hand-written loop that
 *          reconnects the moment a socket closes (what a user writes)
 *   vigil  wa-vigil's session actors (connection actor, admission 8 as the service
 *          default), with a 0 ms reconnect delay so the storm, not the backoff
 *          schedule, is measured
 *
 * Prints one JSON line: per round, all-open and p50 (ms after the drop), and client
 * CPU per reconnect (ms).
 *
 *   node --import tsx bench/support/storm-worker.ts raw|vigil <N> <ws urls,> <control urls,> <phone base> [rounds=1]
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import makeWASocket, { Curve } from '@whiskeysockets/baileys';
import { pino } from 'pino';
import { memoryAuth, registeredCreds } from '../../fixtures/memory-auth.js';
import { percentile } from './measure.js';

// tsx turns source maps on; production (`node dist/…`) runs without them, and with
// them every Error that Baileys creates on a close costs a source-mapped stack.
process.setSourceMapsEnabled(false);

const [mode, countText, urlsText, controlsText, phoneBaseText, roundsText] = process.argv.slice(2);
const count = Number(countText);
const urls = urlsText!.split(',');
const controls = controlsText!.split(',');
const phoneBase = Number(phoneBaseText);
const rounds = Number(roundsText ?? 1);
const defaultAdmission = 8; // MAX_CONCURRENT_CONNECTS default

function rawSessions(onOpen: (i: number) => void): void {
  const silent = pino({ level: 'silent' });
  for (let i = 0; i < count; i++) {
    const auth = memoryAuth(registeredCreds(String(phoneBase + i), 1));
    const connect = () => {
      const sock = makeWASocket({ auth: auth.state, waWebSocketUrl: urls[i % urls.length]!, logger: silent as never });
      sock.ev.on('connection.update', (u) => {
        if (u.connection === 'open') onOpen(i);
        if (u.connection === 'close') connect(); // the hand-written loop: at once, no backoff
      });
    };
    connect();
  }
}

/** Loaded only on this side: importing wa-vigil's connection actor installs its certificate cache in Baileys. */
async function vigilSessions(onOpen: (i: number) => void): Promise<void> {
  const { startLiveSessions } = await import('./live-sessions.js');
  const { ConnectAdmission } = await import('../../src/service/admission.js');
  const actors = startLiveSessions({
    url: urls[0]!,
    urls,
    count,
    phoneBase,
    admission: new ConnectAdmission(defaultAdmission),
    policy: { reconnectDelaysMs: [0], jitterRatio: 0 },
  });
  actors.forEach((actor, i) => {
    let wasOpen = false;
    actor.subscribe((s) => {
      const open = s.matches('open');
      if (open && !wasOpen) onOpen(i);
      wasOpen = open;
    });
  });
}

/** onOpen(i) is called whenever session i opens; whenOpen(i) resolves at its next open, with the time. */
function tracker(): { onOpen: (i: number) => void; whenOpen: (i: number) => Promise<number> } {
  const waiters = new Map<number, (at: number) => void>();
  return {
    onOpen: (i) => {
      const at = performance.now();
      waiters.get(i)?.(at);
      waiters.delete(i);
    },
    whenOpen: (i) => new Promise((resolve) => waiters.set(i, resolve)),
  };
}

const opens = tracker();
const firstOpen = Array.from({ length: count }, (_, i) => opens.whenOpen(i));
if (mode === 'raw') rawSessions(opens.onOpen);
else await vigilSessions(opens.onOpen);
await Promise.all(firstOpen);

/** The simulators' CPU so far, summed (they run in their own processes). */
async function simulatorCpuMs(): Promise<number> {
  const states = await Promise.all(controls.map(async (control) => (await (await fetch(`${control}/state`)).json()) as { cpuMs: number }));
  return states.reduce((sum, state) => sum + state.cpuMs, 0);
}

const results = [];
for (let round = 0; round < rounds; round++) {
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const back = Array.from({ length: count }, (_, i) => opens.whenOpen(i));
  const simCpuBefore = await simulatorCpuMs();
  const cpuBefore = process.cpuUsage();
  const dropped = performance.now();
  await Promise.all(controls.map((control) => fetch(`${control}/faults/close`, { method: 'POST', body: '{}' })));
  const times = (await Promise.all(back)).map((at) => at - dropped).sort((a, b) => a - b);
  const cpu = process.cpuUsage(cpuBefore);
  const simCpuMs = (await simulatorCpuMs()) - simCpuBefore;
  results.push({
    allOpenMs: Math.round(times.at(-1)!),
    p50Ms: Math.round(percentile(times, 50)),
    p95Ms: Math.round(percentile(times, 95)),
    clientCpuPerReconnectMs: Number(((cpu.user + cpu.system) / 1000 / count).toFixed(2)),
    simulatorCpuPerReconnectMs: Number((simCpuMs / count).toFixed(2)),
    loadAverage1m: Number(loadavg()[0]!.toFixed(2)),
  });
}
process.stdout.write(JSON.stringify({ mode, sessions: count, certificateCheck: Curve.verify.name, rounds: results }) + '\n');
process.exit(0);
