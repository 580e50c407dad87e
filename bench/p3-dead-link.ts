/**
 * P3 dead-link detection: on open sessions the simulator (another process)
 * stops sending and stops reading, so even close frames go unanswered. Time
 * until wa-vigil's session is in backingOff, at default settings, against raw
 * Baileys noticing on its own (connection.update close), in the same run.
 * Goal: ≤ 45 s and ≤ 0.5× raw.
 *
 *   node --import tsx bench/p3-dead-link.ts [pairs=3]
 */
import { performance } from 'node:perf_hooks';
import makeWASocket from '@whiskeysockets/baileys';
import { pino } from 'pino';
import { waitFor } from 'xstate';
import { memoryAuth, registeredCreds } from '../test/support/memory-auth.js';
import { median, report } from './support/measure.js';
import { allReach, startLiveSessions } from './support/live-sessions.js';
import { startSimProcess } from './support/sim-process.js';

const pairs = Number(process.argv[2] ?? 3);
const sim = await startSimProcess();

const vigil = startLiveSessions({ url: sim.url, count: pairs, phoneBase: 15553000000 });
await allReach(vigil, 'open');

const raw = await Promise.all(
  Array.from({ length: pairs }, async (_, i) => {
    const auth = memoryAuth(registeredCreds(String(15554000000 + i), 1));
    const sock = makeWASocket({ auth: auth.state, waWebSocketUrl: sim.url, logger: pino({ level: 'silent' }) as never });
    await new Promise<void>((resolve) => sock.ev.on('connection.update', (u) => u.connection === 'open' && resolve()));
    return sock;
  }),
);

await new Promise((resolve) => setTimeout(resolve, 1_000));
const deafened = performance.now();
const vigilTimes = vigil.map(async (actor) => {
  await waitFor(actor, (s) => s.matches('backingOff'), { timeout: 300_000 });
  return performance.now() - deafened;
});
const rawTimes = raw.map(
  (sock) =>
    new Promise<number>((resolve) =>
      sock.ev.on('connection.update', (u) => {
        if (u.connection === 'close') resolve(performance.now() - deafened);
      }),
    ),
);
await sim.fault('deafen');
const vigilMs = median(await Promise.all(vigilTimes));
const rawMs = median(await Promise.all(rawTimes));
vigil.forEach((a) => a.stop());
sim.stop();

report('P3 dead-link detection', {
  pairs,
  vigilToBackingOffMedianMs: Math.round(vigilMs),
  rawBaileysToCloseMedianMs: Math.round(rawMs),
  ratio: Number((vigilMs / rawMs).toFixed(2)),
  goals: { vigilMs: 45_000, ratio: 0.5 },
});
process.exit(0);
