/**
 * P5 pairing restart: a QR is scanned → pair-success → 515 → the session logs
 * in again. Reports ms from the scan until `open`, median of several pairings.
 * Goal ≤ 1 s.
 *
 *   node --import tsx bench/p5-pairing-restart.ts [pairings=7]
 */
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { createActor, waitFor } from 'xstate';
import { sessionMachine } from '../machines/session.machine.js';
import { WaSimulator } from '../src/sim/wa-simulator.js';
import { createConnectionLogic, defaultStaleLinkAfterMs } from '../src/whatsapp/connection.actor.js';
import { resolveSocketOptions } from '../src/whatsapp/socket-options.js';
import { memoryAuth } from '../fixtures/memory-auth.js';
import { median, report } from './support/measure.js';

const pairings = Number(process.argv[2] ?? 7);
const sim = await new WaSimulator().start();
const socketOptions = resolveSocketOptions({ waWebSocketUrl: sim.url, waRootPublicKey: sim.rootPublicKey });
const times: number[] = [];
let backoffs = 0;
for (let i = 0; i < pairings; i++) {
  const auth = memoryAuth();
  const connection = createConnectionLogic({
    openAuthState: async () => auth,
    socketOptions,
    baileysLogger: pino({ level: 'silent' }),
    staleLinkAfterMs: defaultStaleLinkAfterMs(socketOptions),
  });
  const actor = createActor(sessionMachine.provide({ actors: { connection } }), { input: { userId: `p${i}`, sessionId: 'main' } });
  actor.subscribe((s) => {
    if (s.matches('backingOff')) backoffs += 1;
  });
  actor.start();
  const showing = await waitFor(actor, (s) => s.matches({ connecting: 'awaitingQr' }), { timeout: 10_000 });
  const scanned = performance.now();
  sim.scanQr(showing.context.qr!);
  await waitFor(actor, (s) => s.matches('open'), { timeout: 10_000 });
  times.push(performance.now() - scanned);
  actor.stop();
}
await sim.stop();
const scanToOpenMedianMs = Math.round(median(times));
report('P5 pairing restart', {
  pairings,
  scanToOpenMedianMs,
  scanToOpenMaxMs: Math.round(Math.max(...times)),
  backoffsSeen: backoffs,
  goals: { scanToOpenMedianMs: 1_000, backoffsSeen: 0 },
  met: { scanToOpenMedianMs: scanToOpenMedianMs <= 1_000, backoffsSeen: backoffs === 0 },
});
process.exit(0);
