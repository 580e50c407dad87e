/**
 * The event and webhook metrics, added to the service's prom-client registry:
 *
 *   wa_vigil_webhook_deliveries_total{result}   counter: delivery attempts by result
 *                                               (delivered, failed = will retry, refused = 4xx not retried, gone = 410)
 *   wa_vigil_webhook_delivery_seconds           histogram: one attempt, request sent → answer (or failure)
 *   wa_vigil_outbox_depth                       gauge: events some subscription has not received yet
 *   wa_vigil_webhook_subscriptions{state}       gauge: subscriptions, active or paused (MAX_WEBHOOKS caps the sum)
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { DeliveryResult } from '../webhooks/dispatcher.js';

/** The part of the event service the metrics read. */
export interface WebhookMetricsSource {
  outbox: { depth(): number };
  subscriptions: { list(): ReadonlyArray<{ paused: unknown }> };
  dispatcher: {
    on(event: 'attempt', listener: (result: DeliveryResult, seconds: number) => void): unknown;
    off(event: 'attempt', listener: (result: DeliveryResult, seconds: number) => void): unknown;
  };
}

const deliveryBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Registers the metrics; returns the way to stop listening. */
export function registerWebhookMetrics(registry: Registry, source: WebhookMetricsSource): () => void {
  const registers = [registry];
  const deliveries = new Counter({
    name: 'wa_vigil_webhook_deliveries_total',
    help: 'Webhook delivery attempts by result (delivered, failed: will retry, refused: 4xx not retried, gone: 410).',
    labelNames: ['result'],
    registers,
  });
  for (const result of ['delivered', 'failed', 'refused', 'gone']) deliveries.inc({ result }, 0);
  const latency = new Histogram({
    name: 'wa_vigil_webhook_delivery_seconds',
    help: 'One webhook delivery attempt, request sent to answer or failure.',
    buckets: deliveryBuckets,
    registers,
  });
  new Gauge({
    name: 'wa_vigil_outbox_depth',
    help: 'Events in the outbox that some webhook subscription has not received yet.',
    registers,
    collect() {
      this.set(source.outbox.depth());
    },
  });
  new Gauge({
    name: 'wa_vigil_webhook_subscriptions',
    help: 'Webhook subscriptions by state (active, paused); MAX_WEBHOOKS caps the sum.',
    labelNames: ['state'],
    registers,
    collect() {
      const all = source.subscriptions.list();
      const paused = all.filter((subscription) => subscription.paused).length;
      this.set({ state: 'active' }, all.length - paused);
      this.set({ state: 'paused' }, paused);
    },
  });
  const onAttempt = (result: DeliveryResult, seconds: number) => {
    deliveries.inc({ result });
    latency.observe(seconds);
  };
  source.dispatcher.on('attempt', onAttempt);
  return () => source.dispatcher.off('attempt', onAttempt);
}
