/**
 * One side of P2, in its own process: open N sessions either through wa-vigil
 * (session actor + connection actor) or as raw makeWASocket clients, then
 * report heap and RSS per open session. Both keep credentials in memory.
 *
 *   node --expose-gc --import tsx bench/p2-worker.ts vigil|raw <N> <simulator url> <phone base>
 */
import makeWASocket from '@whiskeysockets/baileys';
import { pino } from 'pino';
import { memoryAuth, registeredCreds } from '../test/support/memory-auth.js';
import { allReach, startLiveSessions } from './support/live-sessions.js';
import { forceGc, heapUsed, rss } from './support/measure.js';

const [mode, countText, url, phoneBaseText] = process.argv.slice(2);
const count = Number(countText);
const phoneBase = Number(phoneBaseText);

// Load everything once before the baseline, so module code is not counted per session.
const warm = mode === 'vigil' ? startLiveSessions({ url: url!, count: 1, phoneBase: phoneBase - 1 }) : null;
if (warm) await allReach(warm, 'open');
await new Promise((resolve) => setTimeout(resolve, 500));
forceGc();
const heapBefore = heapUsed();
const rssBefore = rss();

const keep: unknown[] = [];
if (mode === 'vigil') {
  const actors = startLiveSessions({ url: url!, count, phoneBase, maxConcurrentConnects: 8 });
  await allReach(actors, 'open');
  keep.push(actors);
} else {
  const opened = [];
  for (let i = 0; i < count; i++) {
    const auth = memoryAuth(registeredCreds(String(phoneBase + i), 1));
    const sock = makeWASocket({ auth: auth.state, waWebSocketUrl: url!, logger: pino({ level: 'silent' }) as never });
    opened.push(new Promise<void>((resolve) => sock.ev.on('connection.update', (u) => u.connection === 'open' && resolve())));
    keep.push(sock);
  }
  await Promise.all(opened);
}
await new Promise((resolve) => setTimeout(resolve, 2_000));
forceGc();
process.stdout.write(
  JSON.stringify({
    mode,
    sessions: count,
    heapPerSessionKB: Number(((heapUsed() - heapBefore) / count / 1024).toFixed(1)),
    rssPerSessionKB: Number(((rss() - rssBefore) / count / 1024).toFixed(1)),
  }) + '\n',
);
process.exit(0);
