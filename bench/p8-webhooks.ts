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
 *   node --import tsx bench/p8-webhooks.ts [events=2000] [rounds=3]
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { EventIdFactory } from '../src/events/event-id.js';
import { FileOutbox } from '../src/events/files/file-outbox.js';
import type { FleetEvent } from '../src/events/fleet-event.js';
import { createLogger } from '../src/logging/logger.js';
import { defaultDeliveryOptions } from '../src/webhooks/delivery-options.js';
import { Dispatcher } from '../src/webhooks/dispatcher.js';
import { SubscriptionStore } from '../src/webhooks/subscriptions.js';
import { removeDir, tempSessionsDir } from '../test/support/service-harness.js';
import { median, report } from './support/measure.js';

const count = Number(process.argv[2] ?? 2000);
const rounds = Number(process.argv[3] ?? 3);
const logger = createLogger({ level: 'silent', format: 'json' });

function makeEvents(ids: EventIdFactory, n: number): FleetEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    id: ids.next(),
    type: 'session.status' as const,
    userId: `u${i % 200}`,
    sessionId: 'default',
    node: 'bench',
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

const sequentialUs: number[] = [];
const burstUs: number[] = [];
const deliveredPerSecond: number[] = [];
for (let round = 0; round < rounds; round++) {
  const dir = await tempSessionsDir();
  const outbox = new FileOutbox(dir);
  await outbox.open();
  const ids = new EventIdFactory();

  const sequential = makeEvents(ids, Math.min(count, 500));
  let started = performance.now();
  for (const event of sequential) await outbox.append([event]);
  sequentialUs.push(((performance.now() - started) * 1000) / sequential.length);

  const burst = makeEvents(ids, count);
  started = performance.now();
  await Promise.all(burst.map((event) => outbox.append([event])));
  burstUs.push(((performance.now() - started) * 1000) / burst.length);

  // Delivery of the burst to one subscription, from its start.
  const subscriptions = new SubscriptionStore(dir);
  await subscriptions.load({ url, secret: 'bench-secret-0123456789', events: null, includeQr: false });
  const [subscription] = subscriptions.list();
  await outbox.ack(subscription!.id, sequential.at(-1)!.id);
  const dispatcher = new Dispatcher(outbox, subscriptions, defaultDeliveryOptions, logger);
  received = 0;
  const all = new Promise<void>((resolve) => (onReceived = () => received >= burst.length && resolve()));
  started = performance.now();
  await dispatcher.start();
  await all;
  deliveredPerSecond.push(burst.length / ((performance.now() - started) / 1000));
  await dispatcher.stop();
  await outbox.close();
  await removeDir(dir);
}
receiver.close();

report('p8-webhooks', {
  events: count,
  rounds,
  outboxSequentialUsPerEvent: Math.round(median(sequentialUs)),
  outboxBurstUsPerEvent: Math.round(median(burstUs)),
  deliveredPerSecond: Math.round(median(deliveredPerSecond)),
  allRounds: { sequentialUs: sequentialUs.map(Math.round), burstUs: burstUs.map(Math.round), deliveredPerSecond: deliveredPerSecond.map(Math.round) },
});
