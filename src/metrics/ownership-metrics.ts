/**
 * Ownership metrics, added to the service's registry:
 *
 *   wa_vigil_owned_sessions            gauge: sessions whose lease this process holds
 *   wa_vigil_takeovers_total           counter: sessions taken over from a dead or departed owner
 *   wa_vigil_leases_lost_total         counter: leases found taken by another holder
 *   wa_vigil_lease_renew_seconds       histogram: how long renewing every lease took
 *   wa_vigil_start_failures_total      counter: starts (restore, takeover, start) that failed after taking
 *                                      the lease; each released it so a later tick retries
 */
import type { EventEmitter } from 'node:events';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Renews take a few milliseconds on a healthy database; seconds mean the TTL is at risk. */
const renewBuckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export interface OwnershipSource {
  /** How many leases this process holds now. */
  owned(): number;
  /** The placement loop: 'renewed' (ms), 'lost' (count), 'taken'. */
  events: EventEmitter;
  /** The registry: 'startFailed'. */
  sessions?: EventEmitter;
}

/** Registers the metrics; returns the way to stop listening. */
export function registerOwnershipMetrics(registry: Registry, source: OwnershipSource): () => void {
  const registers = [registry];
  new Gauge({
    name: 'wa_vigil_owned_sessions',
    help: 'Sessions whose lease this process holds.',
    registers,
    collect() {
      this.set(source.owned());
    },
  });
  const takeovers = new Counter({ name: 'wa_vigil_takeovers_total', help: 'Sessions taken over from a dead or departed owner.', registers });
  const lost = new Counter({ name: 'wa_vigil_leases_lost_total', help: 'Leases found taken by another holder.', registers });
  const renew = new Histogram({ name: 'wa_vigil_lease_renew_seconds', help: 'Time to renew every lease of this process.', buckets: renewBuckets, registers });
  const onRenewed = (ms: number) => renew.observe(ms / 1000);
  const onLost = (count: number) => lost.inc(count);
  const onTaken = () => takeovers.inc();
  const startFailures = new Counter({
    name: 'wa_vigil_start_failures_total',
    help: 'Session starts (restore, takeover, start) that failed after taking the lease; the lease was released.',
    registers,
  });
  const onStartFailed = () => startFailures.inc();
  source.sessions?.on('startFailed', onStartFailed);
  source.events.on('renewed', onRenewed);
  source.events.on('lost', onLost);
  source.events.on('taken', onTaken);
  return () => {
    source.events.off('renewed', onRenewed);
    source.events.off('lost', onLost);
    source.events.off('taken', onTaken);
    source.sessions?.off('startFailed', onStartFailed);
  };
}
