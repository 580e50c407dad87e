/**
 * Storage metrics, added to the service's registry:
 *
 *   wa_vigil_storage_write_failures_total{kind}   counter: writes the disk or database refused, by kind
 *                                                 (credentials, meta, session, lease, outbox)
 *   wa_vigil_storage_degraded                     gauge: 1 while some kind's last write failed (GET /health is 503)
 *   wa_vigil_sessions_damaged{problem}            gauge: sessions not started because their stored state is damaged
 *                                                 (corrupt_meta, corrupt_credentials)
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { writeKinds, type StorageFaults, type WriteKind } from '../store/storage-faults.js';

const damageCodes = ['corrupt_meta', 'corrupt_credentials'] as const;

/**
 * Registers the metrics; returns the way to stop listening.
 * @param sessions the sessions' views (a damaged one carries `error.code`)
 */
export function registerStorageMetrics(registry: Registry, faults: StorageFaults, sessions: () => ReadonlyArray<{ error?: { code: string } }> = () => []): () => void {
  const registers = [registry];
  const failures = new Counter({
    name: 'wa_vigil_storage_write_failures_total',
    help: 'Writes the disk or database refused, by kind.',
    labelNames: ['kind'],
    registers,
  });
  // Every kind from zero, so an alert on increase() sees the first failure.
  for (const kind of writeKinds) failures.inc({ kind }, faults.failures.get(kind) ?? 0);
  new Gauge({
    name: 'wa_vigil_storage_degraded',
    help: '1 while some kind of write is failing (GET /health answers 503).',
    registers,
    collect() {
      this.set(faults.degraded ? 1 : 0);
    },
  });
  new Gauge({
    name: 'wa_vigil_sessions_damaged',
    help: 'Sessions not started because their stored metadata or credentials are damaged.',
    labelNames: ['problem'],
    registers,
    collect() {
      const counts = new Map<string, number>(damageCodes.map((code) => [code, 0]));
      for (const view of sessions()) if (view.error) counts.set(view.error.code, (counts.get(view.error.code) ?? 0) + 1);
      for (const [problem, count] of counts) this.set({ problem }, count);
    },
  });
  const onFailed = (kind: WriteKind) => failures.inc({ kind });
  faults.on('failed', onFailed);
  return () => faults.off('failed', onFailed);
}
