/**
 * The outbox could not be read for a moment (on PostgreSQL: a failover, a reset connection):
 * the subscription's worker reads again and delivers everything, in order, instead of ending
 * while its delivery lease stays held and nobody delivers it again.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createLogger } from '../../src/logging/logger.js';
import { EventIdFactory } from '../../src/outbox/event-id.js';
import { FileOutbox } from '../../src/outbox/files/file-outbox.js';
import type { FleetEvent } from '../../src/outbox/fleet-event.js';
import { defaultDeliveryOptions } from '../../src/webhooks/delivery-options.js';
import { Dispatcher } from '../../src/webhooks/dispatcher.js';
import { SubscriptionStore } from '../../src/webhooks/subscriptions.js';
import { waitUntil } from '../../fixtures/wait.js';
import { LogCapture, removeDir, tempSessionsDir } from '../support/service-harness.js';
import { Receiver } from './support/receiver.js';

/** A file outbox whose reads fail while `failing` is above zero, as a database that went away would. */
class FlakyOutbox extends FileOutbox {
  failing = 0;
  override async read(afterId: string | null, limit: number): Promise<FleetEvent[]> {
    if (this.failing > 0) {
      this.failing -= 1;
      throw new Error('Connection terminated unexpectedly');
    }
    return super.read(afterId, limit);
  }
}

let dir: string;
const receiver = new Receiver();
beforeEach(async () => {
  dir = await tempSessionsDir();
  await receiver.start();
});
afterEach(async () => {
  await receiver.stop();
  await removeDir(dir);
});

it('three failed reads of the outbox: the worker reads again and delivers every event, once each, in order', async () => {
  const logs = new LogCapture();
  const logger = createLogger({ level: 'debug', destination: logs });
  const outbox = new FlakyOutbox(dir);
  await outbox.open();
  const ids = new EventIdFactory();
  const events: FleetEvent[] = Array.from({ length: 5 }, (_, i) => ({
    id: ids.next(),
    type: 'session.status',
    userId: `u${i}`,
    sessionId: 'default',
    node: 'n',
    time: new Date().toISOString(),
    payload: { state: 'open' },
  }));
  const subscriptions = new SubscriptionStore(dir);
  await subscriptions.load({ url: `${receiver.url}/hook`, secret: 's'.repeat(16), events: null, includeQr: false });
  const dispatcher = new Dispatcher(outbox, subscriptions, { ...defaultDeliveryOptions, retryFirstMs: 10, retryMaxMs: 40 }, logger);
  outbox.onAppended(() => dispatcher.notify());
  await dispatcher.start();
  // The subscription receives what is stored from its start on; the next three reads fail.
  outbox.failing = 3;
  await outbox.append(events);
  try {
    await waitUntil(() => receiver.received.length >= events.length, 5_000);
    expect(receiver.received.map((r) => r.event.id)).toEqual(events.map((e) => e.id));
    expect(logs.lines.filter((line) => line.includes('could not be read'))).toHaveLength(1);
    expect(logs.lines.some((line) => line.includes('Webhook worker failed'))).toBe(false);
  } finally {
    await dispatcher.stop();
    await outbox.close();
  }
});
