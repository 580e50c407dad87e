/**
 * P8 webhooks: what the outbox costs per event, and how many events per second
 * reach one receiver.
 *
 * - Outbox, one at a time: each append awaited before the next (one event
 *   file fsynced and renamed, the folder fsynced) — the cost when sessions
 *   change one by one.
 * - Outbox, burst: all appends issued at once (a reconnect storm) — group
 *   commit writes them together, one folder fsync per batch.
 * - Delivery: a burst in the outbox, then one subscription delivers it to a
 *   receiver on loopback (one signed POST in flight, keep-alive, the cursor
 *   saved after each answer, acks coalesced while a save is under way).
 *
 * Each measure runs on both outboxes, the file one and PostgreSQL's (the cluster's table, each
 * append fenced by the session's lease), in the same rounds, alternating which goes first,
 * after one warm-up round of each. Goal (issue: one voice for the cluster): PostgreSQL's burst
 * rate at least half the file outbox's.
 *
 *   node --import tsx bench/p8-webhooks.ts [events=2000] [rounds=3]
 *   Database: BENCH_DATABASE_URL, else TEST_DATABASE_URL, else an embedded server.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { EventIdFactory } from '../src/outbox/event-id.js';
import pg from 'pg';
import { FileOutbox } from '../src/outbox/files/file-outbox.js';
import type { Outbox } from '../src/outbox/outbox.js';
import { PgOutbox } from '../src/outbox/postgres/pg-outbox.js';
import type { FleetEvent } from '../src/outbox/fleet-event.js';
import { createLogger } from '../src/logging/logger.js';
import { defaultDeliveryOptions } from '../src/webhooks/delivery-options.js';
import { Dispatcher } from '../src/webhooks/dispatcher.js';
import { SubscriptionStore } from '../src/webhooks/subscriptions.js';
import { removeDir, tempSessionsDir } from '../fixtures/temp-dir.js';
import { benchDatabase } from './support/bench-database.js';
import { median, report } from './support/measure.js';

const count = Number(process.argv[2] ?? 2000);
const rounds = Number(process.argv[3] ?? 3);
const logger = createLogger({ level: 'silent', format: 'json' });
/** Sessions the events are about; on PostgreSQL the bench node holds each one's lease, so the fence lets them in. */
const sessions = 200;
const node = 'bench';

function makeEvents(ids: EventIdFactory, n: number): FleetEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    id: ids.next(),
    type: 'session.status' as const,
    userId: `u${i % sessions}`,
    sessionId: 'default',
    node,
    time: new Date().toISOString(),
    payload: { state: 'open', status: 'open.stable', previousState: 'connecting', attempt: 0, nextRetryAt: null, lastDisconnect: null, terminatedReason: null },
  }));
}

let received = 0;
let onReceived: () => void = () => {};
const receiver = createServer((request, response) => {
  request.resume();
  request.on('end', () => {
    received += 1;
    response.writeHead(204).end();
    onReceived();
  });
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;

const database = await benchDatabase({ poolSize: 10, name: 'p8' });
for (let i = 0; i < sessions; i++) {
  await database.pool.query(`INSERT INTO wa_vigil_sessions (user_id, session_id, created_at, should_run) VALUES ($1, 'default', now(), true)`, [`u${i}`]);
  await database.pool.query(`INSERT INTO wa_vigil_leases (user_id, session_id, holder, epoch) VALUES ($1, 'default', $2, 1)`, [`u${i}`, node]);
}

interface Side {
  name: 'files' | 'postgres';
  open(dir: string): Promise<Outbox>;
}
const sides: Side[] = [
  { name: 'files', open: async (dir) => new FileOutbox(dir) },
  {
    name: 'postgres',
    open: async () => {
      await database.pool.query('TRUNCATE wa_vigil_events, wa_vigil_event_cursors');
      return new PgOutbox({ pool: database.pool, newClient: () => new pg.Client({ connectionString: database.url }), cursorScope: 'bench', logger });
    },
  },
];

interface Round {
  sequentialUs: number;
  burstUs: number;
  deliveredPerSecond: number;
}

async function round(side: Side): Promise<Round> {
  const dir = await tempSessionsDir();
  const outbox = await side.open(dir);
  await outbox.open();
  const ids = new EventIdFactory(outbox.newestId());

  const sequential = makeEvents(ids, Math.min(count, 500));
  let started = performance.now();
  for (const event of sequential) await outbox.append([event]);
  const sequentialUs = ((performance.now() - started) * 1000) / sequential.length;
  // The last stored id (PostgreSQL numbers events itself: the ids made here are not the stored ones).
  const afterSequential = outbox.newestId();

  const burst = makeEvents(ids, count);
  started = performance.now();
  await Promise.all(burst.map((event) => outbox.append([event])));
  const burstUs = ((performance.now() - started) * 1000) / burst.length;

  // Delivery of the burst to one subscription, from its start.
  const subscriptions = new SubscriptionStore(dir);
  await subscriptions.load({ url, secret: 'bench-secret-0123456789', events: null, includeQr: false });
  const [subscription] = subscriptions.list();
  await outbox.ack(subscription!.id, afterSequential);
  const dispatcher = new Dispatcher(outbox, subscriptions, defaultDeliveryOptions, logger);
  received = 0;
  const all = new Promise<void>((resolve) => (onReceived = () => received >= burst.length && resolve()));
  started = performance.now();
  await dispatcher.start();
  await all;
  const deliveredPerSecond = burst.length / ((performance.now() - started) / 1000);
  await dispatcher.stop();
  await outbox.close();
  await removeDir(dir);
  return { sequentialUs, burstUs, deliveredPerSecond };
}

const results: Record<Side['name'], Round[]> = { files: [], postgres: [] };
for (const side of sides) await round(side); // warm-up: JIT, the database's caches, the receiver's sockets
for (let r = 0; r < rounds; r++) {
  for (const side of r % 2 === 0 ? sides : [...sides].reverse()) results[side.name].push(await round(side));
}
receiver.close();
await database.drop();

const summary = (name: Side['name']) => ({
  outboxSequentialUsPerEvent: Math.round(median(results[name].map((r) => r.sequentialUs))),
  outboxBurstUsPerEvent: Math.round(median(results[name].map((r) => r.burstUs))),
  deliveredPerSecond: Math.round(median(results[name].map((r) => r.deliveredPerSecond))),
  allRounds: results[name].map((r) => ({ sequentialUs: Math.round(r.sequentialUs), burstUs: Math.round(r.burstUs), deliveredPerSecond: Math.round(r.deliveredPerSecond) })),
});
const files = summary('files');
const postgres = summary('postgres');
/** Events per second in a burst, PostgreSQL over files. */
const burstRateRatio = Number((files.outboxBurstUsPerEvent / postgres.outboxBurstUsPerEvent).toFixed(2));
report('p8-webhooks', {
  events: count,
  rounds,
  database: database.description,
  files,
  postgres,
  burstRateRatio,
  goals: { burstRateRatio: 0.5 },
  met: { burstRateRatio: burstRateRatio >= 0.5 },
});
process.exit(0);
