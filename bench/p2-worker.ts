/**
 * One side of P2, in its own process. Both sides: credentials in Baileys'
 * multi-file folders on disk, wa-vigil's Baileys config, 8 handshakes at a time,
 * one session opened first so one-time lazy setup is not charged to the N.
 *
 *   vigil  the service itself (startService: file store, registry with its one
 *          provided machine, inspector hub, metrics, Fastify, pino to a discarding
 *          destination); the N folders are adopted as a second process's would be
 *   raw    makeWASocket + useMultiFileAuthState per folder
 *
 * Reports heap and RSS per open session after a forced GC.
 *
 *   node --expose-gc --import tsx bench/p2-worker.ts vigil|raw <N> <simulator url> <phone base>
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import makeWASocket, { useMultiFileAuthState } from '@whiskeysockets/baileys';
import { pino } from 'pino';
import { writeBaileysAuthFolder } from '../fixtures/baileys-folder.js';
import { forceGc, heapUsed, rss } from './support/measure.js';

const [mode, countText, url, phoneBaseText] = process.argv.slice(2);
const count = Number(countText);
const phoneBase = Number(phoneBaseText);
const concurrency = 8; // MAX_CONCURRENT_CONNECTS default, on both sides
const sessionsDir = await mkdtemp(join(tmpdir(), 'wa-vigil-p2-'));
const keys = Array.from({ length: count }, (_, i) => ({ userId: `m${phoneBase + i}`, sessionId: 'main' }));

async function settle(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  forceGc();
}

let heapBefore = 0;
let rssBefore = 0;
let externalBefore = 0;
let heapTotalBefore = 0;
const baseline = async () => {
  await settle();
  heapBefore = heapUsed();
  rssBefore = rss();
  externalBefore = process.memoryUsage().external;
  heapTotalBefore = process.memoryUsage().heapTotal;
};

if (mode === 'vigil') {
  const { loadConfig } = await import('../src/app/config.js');
  const { createLogger } = await import('../src/logging/logger.js');
  const { startService } = await import('../src/app/service.js');
  const discard = new Writable({ write: (_chunk, _encoding, done) => done() });
  await writeBaileysAuthFolder(sessionsDir, 'warm', 'main', String(phoneBase - 1), 1);
  const { simulatorRootPublicKeyHex } = await import('../src/sim/certificates.js');
  const config = loadConfig({
    PORT: '0',
    SESSIONS_DIR: sessionsDir,
    WA_WS_URL: url!,
    WA_ROOT_PUBLIC_KEY: simulatorRootPublicKeyHex,
    LOG_FORMAT: 'json',
    LEASE_TTL_MS: '600000',
    LEASE_RENEW_MS: '300000',
  });
  const service = await startService(config, createLogger({ level: config.logLevel, format: 'json', destination: discard }));
  // Counted from the changes themselves: listing every session on each change
  // would be the bench's own O(N²), and its garbage would grow the heap being measured.
  const openNow = new Set<string>();
  let wanted = Infinity;
  let reached: () => void = () => undefined;
  service.registry.on('change', ({ after: view }) => {
    const id = `${view.userId}/${view.sessionId}`;
    if (view.state === 'open') openNow.add(id);
    else openNow.delete(id);
    if (openNow.size >= wanted) reached();
  });
  for (const view of service.registry.list()) if (view.state === 'open') openNow.add(`${view.userId}/${view.sessionId}`);
  const allOpen = (n: number) =>
    new Promise<void>((resolve) => {
      wanted = n;
      reached = resolve;
      if (openNow.size >= n) resolve();
    });
  await allOpen(1);
  for (const [i, key] of keys.entries()) await writeBaileysAuthFolder(sessionsDir, key.userId, key.sessionId, String(phoneBase + i), 1);
  await baseline();
  for (const key of keys) void service.registry.adopt(key);
  await allOpen(count + 1);
} else {
  const { resolveSocketOptions, toBaileysConfig } = await import('../src/whatsapp/socket-options.js');
  const config = toBaileysConfig(resolveSocketOptions({ waWebSocketUrl: url! }));
  const silent = pino({ level: 'silent' });
  const keep: unknown[] = [];
  const open = async (folder: string) => {
    const { state, saveCreds } = await useMultiFileAuthState(folder);
    const sock = makeWASocket({ ...config, auth: state, logger: silent as never });
    sock.ev.on('creds.update', saveCreds);
    keep.push(sock);
    await new Promise<void>((resolve) => sock.ev.on('connection.update', (u) => u.connection === 'open' && resolve()));
  };
  await open(await writeBaileysAuthFolder(sessionsDir, 'warm', 'main', String(phoneBase - 1), 1));
  const folders: string[] = [];
  for (const [i, key] of keys.entries()) folders.push(await writeBaileysAuthFolder(sessionsDir, key.userId, key.sessionId, String(phoneBase + i), 1));
  await baseline();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < folders.length) await open(folders[next++]!);
    }),
  );
}
await settle();
process.stdout.write(
  JSON.stringify({
    mode,
    sessions: count,
    heapPerSessionKB: Number(((heapUsed() - heapBefore) / count / 1024).toFixed(1)),
    rssPerSessionKB: Number(((rss() - rssBefore) / count / 1024).toFixed(1)),
    externalPerSessionKB: Number(((process.memoryUsage().external - externalBefore) / count / 1024).toFixed(1)),
    heapTotalMB: Number((process.memoryUsage().heapTotal / 2 ** 20).toFixed(1)),
    /** Heap V8 committed per session (used or not): what RSS follows. */
    heapCommittedPerSessionKB: Number(((process.memoryUsage().heapTotal - heapTotalBefore) / count / 1024).toFixed(1)),
  }) + '\n',
);
await rm(sessionsDir, { recursive: true, force: true });
process.exit(0);
