/**
 * P11 receive: contacts' texts arriving at 100 paired sessions of the real service
 * (files store), each one a `message.received` event in the outbox exactly once.
 *
 * The simulator (in this process) plays 20 contacts' phones with real Signal
 * crypto; each session talks with two of them. First every pair exchanges one
 * message (not measured: a first message is a `pkmsg`, whose session setup is
 * pure-JS curve math on both ends — a contact writes it once, not per message).
 * Then two phases on the open sessions:
 *   rate     `messages` texts spread over the sessions, all at once: messages/s
 *            from the first send to the last event;
 *   latency  `messages`/4 texts paced at a tenth of the goal rate: p50 and p95
 *            arrival → outbox, without a burst's queue in front of each.
 * The events are read back from GET /events, which streams only what the outbox
 * has stored: "arrival → outbox" runs from the moment the simulator has written a
 * message's frame to the moment its event reaches the stream (an upper bound).
 * The simulator's encryption shares the process's CPU, so the rate is a floor.
 *
 * Goals (issue): every message exactly once; p50 arrival → outbox ≤ 20 ms;
 * ≥ 1,000 messages/s per node.
 *
 *   node --import tsx bench/p11-receive.ts [sessions=100] [messages=2000]
 */
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../src/app/config.js';
import { routeConsoleToLogger } from '../src/logging/console-guard.js';
import { createLogger } from '../src/logging/logger.js';
import { startService } from '../src/app/service.js';
import { WaSimulator } from '../src/sim/wa-simulator.js';
import { writeBaileysAuthFolder } from '../fixtures/baileys-folder.js';
import { removeDir, tempSessionsDir } from '../fixtures/temp-dir.js';
import { readEventStream } from './support/event-stream.js';
import { percentile, report } from './support/measure.js';

const sessionCount = Number(process.argv[2] ?? 100);
const messageCount = Number(process.argv[3] ?? 2000);
const contactCount = 20;
const goals = { p50Ms: 20, perSecond: 1_000 };

const logger = createLogger({ level: 'silent', format: 'json' });
// Both ends run libsignal in this process, and it prints whole sessions on every replacement.
routeConsoleToLogger(logger);
const sim = await new WaSimulator().start();
const dir = await tempSessionsDir();
const devices: string[] = [];
for (let i = 0; i < sessionCount; i++) {
  const phone = `1555700${String(i).padStart(4, '0')}`;
  await writeBaileysAuthFolder(dir, 'bench', `s${i}`, phone, 3);
  devices.push(`${phone}:3@s.whatsapp.net`);
}
const config = loadConfig({ PORT: '0', SESSIONS_DIR: dir, WA_WS_URL: sim.url, WA_ROOT_PUBLIC_KEY: sim.rootPublicKeyHex, LOG_LEVEL: 'silent' });
const service = await startService(config, logger);
const contacts = Array.from({ length: contactCount }, (_, i) => sim.addContact({ phone: `1555800${String(i).padStart(4, '0')}`, receipts: 'none' }));

const ready = () => devices.every((device) => sim.loggedIn(device).length === 1 && sim.messaging.contacts.keysOf(device) !== undefined);
const readyBy = Date.now() + 120_000;
while (!ready()) {
  if (Date.now() > readyBy) throw new Error('the sessions did not all open within 120 s');
  await new Promise((resolve) => setTimeout(resolve, 100));
}

// The stream of stored message events.
const arrivedAt = new Map<string, number>();
let streamed = 0;
const reader = await readEventStream(`${service.url}/events?types=message.received`, (data) => {
  const id = (data as { payload?: { id?: string } }).payload?.id;
  if (!id) return;
  streamed += 1;
  if (!arrivedAt.has(id)) arrivedAt.set(id, performance.now());
});

const sentAt = new Map<string, number>();
const pairs = devices.flatMap((device, i) => [0, 1].map((k) => ({ device, from: contacts[(i * 2 + k) % contactCount]!.phone })));
const send = async (i: number) => {
  const pair = pairs[i % pairs.length]!;
  const id = await sim.sendText(pair.device, { from: pair.from, text: `order ${i} shipped?` });
  sentAt.set(id, performance.now());
  return id;
};
const untilArrived = async (ids: readonly string[], timeoutMs = 120_000) => {
  const deadline = Date.now() + timeoutMs;
  while (ids.some((id) => !arrivedAt.has(id)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
};

// Warm-up: one message per pair opens its Signal session.
await untilArrived(await Promise.all(pairs.map((_, i) => send(i))));

// Rate: a burst on open sessions.
const burstStart = performance.now();
const burstIds = await Promise.all(Array.from({ length: messageCount }, (_, i) => send(i)));
await untilArrived(burstIds);
const burstEnd = Math.max(...burstIds.map((id) => arrivedAt.get(id) ?? 0));
const perSecond = burstIds.filter((id) => arrivedAt.has(id)).length / ((burstEnd - burstStart) / 1000);

// Latency: paced at a tenth of the goal rate.
const pacedIds: string[] = [];
const pacedCount = Math.floor(messageCount / 4);
const intervalMs = 1000 / (goals.perSecond / 10);
for (let i = 0; i < pacedCount; i++) {
  pacedIds.push(await send(i));
  await new Promise((resolve) => setTimeout(resolve, intervalMs));
}
await untilArrived(pacedIds);
// A moment more, so a late repeat would be counted.
await new Promise((resolve) => setTimeout(resolve, 1_000));
await reader.cancel();

const latencies = pacedIds.filter((id) => arrivedAt.has(id)).map((id) => arrivedAt.get(id)! - sentAt.get(id)!).sort((a, b) => a - b);
const burstLatencies = burstIds.filter((id) => arrivedAt.has(id)).map((id) => arrivedAt.get(id)! - sentAt.get(id)!).sort((a, b) => a - b);
const p50Ms = percentile(latencies, 50);
const expected = pairs.length + messageCount + pacedCount;
const exactlyOnce = arrivedAt.size === expected && streamed === expected;
report('P11 receive', {
  sessions: sessionCount,
  contacts: contactCount,
  warmUpMessages: pairs.length,
  burstMessages: messageCount,
  pacedMessages: pacedCount,
  events: arrivedAt.size,
  streamed,
  exactlyOnce,
  perSecond: Math.round(perSecond),
  burstP50Ms: Number(percentile(burstLatencies, 50).toFixed(1)),
  p50Ms: Number(p50Ms.toFixed(1)),
  p95Ms: Number(percentile(latencies, 95).toFixed(1)),
  goals,
  verdict: exactlyOnce && p50Ms <= goals.p50Ms && perSecond >= goals.perSecond ? 'met' : 'missed',
});
await service.stop();
await sim.stop();
await removeDir(dir);
process.exit(0);
