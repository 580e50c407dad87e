/**
 * The outbox's own metrics, added to the service's prom-client registry:
 *
 *   wa_vigil_outbox_bytes                        gauge: bytes of stored events
 *   wa_vigil_outbox_max_bytes                    gauge: OUTBOX_MAX_BYTES
 *   wa_vigil_outbox_files                        gauge: segment files in the outbox folder
 *   wa_vigil_outbox_unstored_events              gauge: events waiting in memory because the disk refused them
 *   wa_vigil_outbox_write_failures_total{code}   counter: failed outbox writes by error code (ENOSPC, EIO, EROFS…)
 *   wa_vigil_outbox_dropped_events_total         counter: events given up because too many waited for a failing disk
 *   wa_vigil_outbox_pruned_early_total           counter: delivered events pruned before EVENTS_RETENTION_MS to stay under the limit
 *   wa_vigil_outbox_backlog_pauses_total         counter: subscriptions paused because the outbox reached its limit
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { OutboxStats } from '../outbox/outbox.js';

export function registerOutboxMetrics(registry: Registry, outbox: { stats(): OutboxStats }): void {
  const registers = [registry];
  const gauge = (name: string, help: string, read: (stats: OutboxStats) => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read(outbox.stats()));
      },
    });
  gauge('wa_vigil_outbox_bytes', 'Bytes of events stored in the outbox.', (s) => s.bytes);
  gauge('wa_vigil_outbox_max_bytes', 'OUTBOX_MAX_BYTES: past it delivered events are pruned early and the slowest subscription is paused.', (s) => s.maxBytes);
  gauge('wa_vigil_outbox_files', 'Segment files in the outbox folder.', (s) => s.files);
  gauge('wa_vigil_outbox_unstored_events', 'Events waiting in memory because the disk refused them (retried).', (s) => s.unstoredEvents);
  new Counter({
    name: 'wa_vigil_outbox_write_failures_total',
    help: 'Failed outbox writes by error code.',
    labelNames: ['code'],
    registers,
    collect() {
      this.reset();
      this.inc({ code: 'ENOSPC' }, 0);
      for (const [code, count] of outbox.stats().writeFailures) this.inc({ code }, count);
    },
  });
  const counter = (name: string, help: string, read: (stats: OutboxStats) => number) =>
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(read(outbox.stats()));
      },
    });
  counter('wa_vigil_outbox_dropped_events_total', 'Events given up because too many waited in memory for a failing disk.', (s) => s.droppedEvents);
  counter('wa_vigil_outbox_pruned_early_total', 'Delivered events pruned before EVENTS_RETENTION_MS to stay under OUTBOX_MAX_BYTES.', (s) => s.earlyPrunedEvents);
  counter('wa_vigil_outbox_backlog_pauses_total', 'Webhook subscriptions paused because the outbox reached OUTBOX_MAX_BYTES.', (s) => s.releasedSubscriptions);
}
