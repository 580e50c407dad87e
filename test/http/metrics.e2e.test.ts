/**
 * /metrics as Prometheus scrapes it: valid text exposition (parsed by an
 * independent parser), process metrics, sessions per state and substate, and
 * the histograms filled in by a real drop and reconnect against the simulator.
 */
import parsePrometheusTextFormat, { type MetricFamily } from 'parse-prometheus-text-format';
import { expect, it } from 'vitest';
import { writeBaileysAuthFolder } from '../../fixtures/baileys-folder.js';
import { startTestService } from '../support/service-harness.js';
import { simulatorPerTest } from '../support/simulator-fixture.js';
import { waitUntil } from '../../fixtures/wait.js';

const t = simulatorPerTest();

function family(families: MetricFamily[], name: string): MetricFamily {
  const found = families.find((f) => f.name === name);
  if (!found) throw new Error(`no metric family ${name}`);
  return found;
}
const value = (families: MetricFamily[], name: string, labels: Record<string, string> = {}) =>
  Number(family(families, name).metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))?.value);
const histogramCount = (families: MetricFamily[], name: string) => Number(family(families, name).metrics[0]?.count ?? 0);

it('after a drop and a reconnect: process metrics, states, counters and every histogram', async () => {
  await writeBaileysAuthFolder(t.dir, 'fay', 'main', '15550007777');
  const api = await startTestService({ sim: t.sim, sessionsDir: t.dir, env: { KEEPALIVE_INTERVAL_MS: '100' } });
  t.stopAfter(() => api.service.stop());
  const scrape = async () => {
    const res = await api.call('GET', '/metrics');
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^text\/plain/);
    return parsePrometheusTextFormat(res.body as unknown as string);
  };

  await api.waitForState('fay', 'main', 'open');
  t.sim.closeAll();
  await api.waitForState('fay', 'main', 'backingOff');
  await api.waitForState('fay', 'main', 'open');
  await waitUntil(async () => histogramCount(await scrape(), 'wa_vigil_probe_round_trip_seconds') > 0);
  const metrics = await scrape();

  for (const name of ['process_resident_memory_bytes', 'process_cpu_seconds_total', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds']) {
    expect(family(metrics, name).metrics.length, name).toBeGreaterThan(0);
  }
  expect(family(metrics, 'wa_vigil_sessions').type).toBe('GAUGE');
  expect(value(metrics, 'wa_vigil_sessions', { state: 'open' })).toBe(1);
  expect(value(metrics, 'wa_vigil_sessions', { state: 'backingOff' })).toBe(0);
  expect(family(metrics, 'wa_vigil_sessions_by_status').metrics.map((m) => m.labels?.status)).toEqual([expect.stringMatching(/^open/)]);
  expect(value(metrics, 'wa_vigil_closes_total', { status_code: '428' })).toBe(1);
  expect(value(metrics, 'wa_vigil_reconnect_attempts_total')).toBe(1);
  expect(value(metrics, 'wa_vigil_reconnects_total')).toBe(1);

  for (const name of ['wa_vigil_connect_duration_seconds', 'wa_vigil_recovery_seconds', 'wa_vigil_admission_wait_seconds', 'wa_vigil_probe_round_trip_seconds']) {
    expect(family(metrics, name).type, name).toBe('HISTOGRAM');
  }
  // At least the reconnect's attempt (the registry reports a session's very first change late).
  expect(histogramCount(metrics, 'wa_vigil_connect_duration_seconds')).toBeGreaterThanOrEqual(1);
  expect(histogramCount(metrics, 'wa_vigil_recovery_seconds')).toBe(1);
  expect(histogramCount(metrics, 'wa_vigil_admission_wait_seconds')).toBe(2);
  const recovery = family(metrics, 'wa_vigil_recovery_seconds').metrics[0]!;
  // The backoff in the test harness is 100 ms: recovery cannot have been faster.
  expect(Number(recovery.sum)).toBeGreaterThanOrEqual(0.1);

  expect((await api.call('DELETE', '/sessions/fay/main')).status).toBe(204);
  const after = await scrape();
  expect(value(after, 'wa_vigil_terminations_total', { reason: 'stopped' })).toBe(1);
  expect(value(after, 'wa_vigil_sessions', { state: 'open' })).toBe(0);
});
