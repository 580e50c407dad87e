/**
 * One side of P10, in its own process (so the parent can read its CPU time from
 * /proc and nothing else is charged to it). Both sides: credentials in Baileys'
 * multi-file folders on disk, 8 handshakes at a time, a session opened first so
 * one-time lazy setup is not charged to the N.
 *
 *   vigil  the service itself (startService: file store with its fsyncs, the
 *          durable outgoing queue, outbox, metrics, Fastify); the parent sends
 *          through its HTTP API and reads statuses from GET /events
 *   raw    makeWASocket + useMultiFileAuthState per folder; the parent hands it a
 *          plan, it calls sendMessage and waits for the server's ack itself
 *
 * stdout, one JSON line each: {ready, url?, devices} once every session is open;
 * then, for each plan line read from stdin (raw only), {done, latenciesMs}.
 *
 * With P10_PROFILE_DIR set, the lines "profile-start" and "profile-stop" on stdin
 * record a V8 CPU profile of the measured phase alone into that folder.
 *
 *   node --import tsx bench/p10-worker.ts vigil|raw <N> <simulator url> <phone base>
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import makeWASocket, { useMultiFileAuthState, type BinaryNode } from '@whiskeysockets/baileys';
import { pino } from 'pino';
import { writeBaileysAuthFolder } from '../fixtures/baileys-folder.js';
import { runPlanBySession, type PlannedSend } from './support/send-plan.js';


const [mode, countText, url, phoneBaseText] = process.argv.slice(2);
const count = Number(countText);
const phoneBase = Number(phoneBaseText);
const concurrency = 8; // MAX_CONCURRENT_CONNECTS default, on both sides
const sessionsDir = await mkdtemp(join(tmpdir(), 'wa-vigil-p10-'));
const devices = Array.from({ length: count }, (_, i) => `${phoneBase + i}:1@s.whatsapp.net`);
const say = (line: unknown) => process.stdout.write(`${JSON.stringify(line)}\n`);
const profiler = new Session();

/** Handles a profiling command line; false when the line is something else. */
async function profileCommand(line: string): Promise<boolean> {
  const dir = process.env.P10_PROFILE_DIR;
  if (line === 'profile-start') {
    if (dir) {
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.start');
    }
  } else if (line === 'profile-stop') {
    if (dir) {
      const { profile } = await profiler.post('Profiler.stop');
      await writeFile(join(dir, `p10-${mode}-${process.pid}.cpuprofile`), JSON.stringify(profile));
    }
  } else {
    return false;
  }
  say({ done: true });
  return true;
}

if (mode === 'vigil') {
  const { loadConfig } = await import('../src/app/config.js');
  const { createLogger } = await import('../src/logging/logger.js');
  const { routeConsoleToLogger } = await import('../src/logging/console-guard.js');
  const { startService } = await import('../src/app/service.js');
  const { simulatorRootPublicKeyHex } = await import('../src/sim/certificates.js');
  const discard = new Writable({ write: (_chunk, _encoding, done) => done() });
  await writeBaileysAuthFolder(sessionsDir, 'warm', 'main', String(phoneBase - 1), 1);
  for (let i = 0; i < count; i++) await writeBaileysAuthFolder(sessionsDir, `p${phoneBase + i}`, 'main', String(phoneBase + i), 1);
  const config = loadConfig({ PORT: '0', SESSIONS_DIR: sessionsDir, WA_WS_URL: url!, WA_ROOT_PUBLIC_KEY: simulatorRootPublicKeyHex, LOG_FORMAT: 'json' });
  const logger = createLogger({ level: config.logLevel, format: 'json', destination: discard });
  routeConsoleToLogger(logger);
  const service = await startService(config, logger);
  const opened = () => service.registry.list().filter((view: { state: string }) => view.state === 'open').length;
  while (opened() < count + 1) await new Promise((resolve) => setTimeout(resolve, 100));
  say({ ready: true, url: service.url, devices });
  // The parent drives it through HTTP; stdin carries only profiling commands, and its end ends the run.
  for await (const line of createInterface({ input: process.stdin })) await profileCommand(line);
  await service.stop();
} else {
  const { resolveSocketOptions, toBaileysConfig } = await import('../src/whatsapp/socket-options.js');
  const { simulatorRootPublicKey } = await import('../src/sim/certificates.js');
  const config = toBaileysConfig(resolveSocketOptions({ waWebSocketUrl: url!, waRootPublicKey: simulatorRootPublicKey }));
  const silent = pino({ level: 'silent' });
  // libsignal prints whole sessions to the console on some paths: not this benchmark's output.
  for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) console[method] = () => undefined;
  type Socket = ReturnType<typeof makeWASocket>;
  const waiting = new Map<string, () => void>();
  const open = async (folder: string): Promise<Socket> => {
    const { state, saveCreds } = await useMultiFileAuthState(folder);
    const sock = makeWASocket({ ...config, auth: state, logger: silent as never });
    sock.ev.on('creds.update', saveCreds);
    // The server's <ack class=message id=…>: what "sent" means on both sides.
    sock.ws.on('CB:ack,class:message', (node: BinaryNode) => waiting.get(node.attrs.id ?? '')?.());
    await new Promise<void>((resolve) => sock.ev.on('connection.update', (u) => u.connection === 'open' && resolve()));
    return sock;
  };
  await open(await writeBaileysAuthFolder(sessionsDir, 'warm', 'main', String(phoneBase - 1), 1));
  const folders: string[] = [];
  for (let i = 0; i < count; i++) folders.push(await writeBaileysAuthFolder(sessionsDir, `p${phoneBase + i}`, 'main', String(phoneBase + i), 1));
  const sockets: Socket[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < folders.length) {
        const i = next++;
        sockets[i] = await open(folders[i]!);
      }
    }),
  );
  say({ ready: true, devices });

  const sendOne = async (send: PlannedSend): Promise<number> => {
    const acked = new Promise<void>((resolve) => waiting.set(send.id, resolve));
    const start = performance.now();
    await sockets[send.session]!.sendMessage(`${send.to}@s.whatsapp.net`, { text: `order ${send.id} shipped` }, { messageId: send.id });
    await acked;
    waiting.delete(send.id);
    return performance.now() - start;
  };
  for await (const line of createInterface({ input: process.stdin })) {
    if (await profileCommand(line)) continue;
    const plan = JSON.parse(line) as PlannedSend[];
    const latenciesMs = await runPlanBySession(plan, sendOne);
    say({ done: true, latenciesMs });
  }
  for (const sock of sockets) sock.end(undefined);
}
await rm(sessionsDir, { recursive: true, force: true });
process.exit(0);
