/**
 * The webhook delivery machinery alone (outbox, subscriptions, dispatcher) on a
 * temp folder, without sessions: the test appends events itself and sees every
 * attempt. Receivers are real HTTP servers on loopback.
 */
import { EventIdFactory } from '../../../../src/outbox/event-id.js';
import { FileOutbox } from '../../../../src/outbox/files/file-outbox.js';
import type { FleetEvent } from '../../../../src/outbox/fleet-event.js';
import { createLogger } from '../../../../src/logging/logger.js';
import { defaultDeliveryOptions, type DeliveryOptions } from '../../../../src/webhooks/delivery-options.js';
import { Dispatcher, type DeliveryResult } from '../../../../src/webhooks/dispatcher.js';
import { SubscriptionStore, type SubscriptionFiles } from '../../../../src/webhooks/subscriptions.js';
import { LogCapture } from '../../../support/service-harness.js';

export const benchSecret = 'bench-secret-0123456789';

export interface AttemptSeen {
  result: DeliveryResult;
  seconds: number;
  responseBytes: number;
}

export async function startBench(dir: string, options: { delivery?: Partial<DeliveryOptions>; maxSubscriptions?: number; files?: SubscriptionFiles } = {}) {
  const logs = new LogCapture();
  const logger = createLogger({ level: 'debug', format: 'json', destination: logs });
  const outbox = new FileOutbox(dir);
  await outbox.open();
  const store = new SubscriptionStore(dir, { maxSubscriptions: options.maxSubscriptions, logger, files: options.files });
  await store.load(null);
  const dispatcher = new Dispatcher(outbox, store, { ...defaultDeliveryOptions, ...options.delivery }, logger);
  const attempts: AttemptSeen[] = [];
  dispatcher.on('attempt', (result, seconds, responseBytes) => attempts.push({ result, seconds, responseBytes }));
  outbox.onAppended(() => dispatcher.notify());
  await dispatcher.start();
  const ids = new EventIdFactory(outbox.newestId());
  /** When each event was appended (ms since the epoch), by id. */
  const emittedAt = new Map<string, number>();

  return {
    outbox,
    store,
    dispatcher,
    logs,
    attempts,
    emittedAt,
    async subscribe(url: string) {
      const subscription = await store.add({ url, secret: benchSecret, events: null, includeQr: false });
      await dispatcher.added(subscription);
      return subscription;
    },
    async remove(id: string) {
      await dispatcher.removed(id);
      await store.remove(id);
    },
    async emit(count = 1): Promise<FleetEvent[]> {
      const events: FleetEvent[] = [];
      for (let i = 0; i < count; i += 1) {
        events.push({ id: ids.next(), type: 'session.status', userId: 'bench', sessionId: 'default', node: 'bench', time: new Date().toISOString(), payload: { state: 'open' } });
      }
      const at = Date.now();
      for (const event of events) emittedAt.set(event.id, at);
      await outbox.append(events);
      return events;
    },
    async stop() {
      await dispatcher.stop();
      await outbox.close();
    },
  };
}
