/**
 * The service's Prometheus metrics (prom-client), derived from what the
 * session registry already exposes — list(), its 'change' events, its
 * counters and its admission control — so the registry holds no metric code.
 *
 *   process_*, nodejs_*                      prom-client's default process metrics (RSS, heap, event-loop lag, GC…)
 *   wa_vigil_sessions{state}                 gauge: sessions per top-level state (all five, zeros included)
 *   wa_vigil_sessions_by_status{status}      gauge: sessions per full state path (e.g. connecting.awaitingQr)
 *   wa_vigil_closes_total{status_code}       counter: connection closes by Baileys status code ("none" without one)
 *   wa_vigil_reconnect_attempts_total        counter: times a session entered backingOff
 *   wa_vigil_reconnects_total                counter: new connection attempts after being connected or backing off
 *   wa_vigil_terminations_total{reason}      counter: sessions that ended, by reason
 *   wa_vigil_connect_duration_seconds        histogram: attempt start → open (attempts that showed a QR excluded)
 *   wa_vigil_recovery_seconds                histogram: first close or drop → open again
 *   wa_vigil_admission_wait_seconds          histogram: time an attempt queued for a handshake slot
 *   wa_vigil_probe_round_trip_seconds        histogram: answered keep-alive probes
 *   wa_vigil_connects_in_flight              gauge: attempts in their handshake now
 *   wa_vigil_connects_queued                 gauge: attempts waiting for a handshake slot
 *   wa_vigil_uptime_seconds                  gauge: seconds since the service started
 *   wa_vigil_certificate_refusals_total{reason}  counter: handshakes refused because the server's Noise certificate chain failed a check
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { sessionStates } from '../../machines/session.states.js';
import type { SessionChange } from '../session/session-change.js';
import type { SessionFeed } from '../session/session-feed.js';
import type { SessionView } from '../session/session-view.js';
import { certificateRefusalCounts, certificateRefusals } from '../whatsapp/noise-certificate.js';
import { onProbeRoundTrip } from '../whatsapp/probe-channel.js';
import { SessionTimings } from './session-timings.js';

/** The part of the session registry the metrics read. */
export interface MetricsSource extends SessionFeed {
  list(): SessionView[];
  /** This process: on a cluster its metrics count the sessions it runs (and those nobody runs), never another node's. */
  ownership: { holder: string };
  counters: { reconnectAttempts: number; closesByStatusCode: ReadonlyMap<string, number> };
  admission: {
    inFlight: number;
    queued: number;
    on(event: 'admitted', listener: (waitedMs: number) => void): unknown;
    off(event: 'admitted', listener: (waitedMs: number) => void): unknown;
  };
}

export interface ServiceMetrics {
  registry: Registry;
  /** Prometheus text exposition. */
  render(): Promise<string>;
  /** Stops listening to the registry. */
  stop(): void;
}

const prefix = 'wa_vigil_';

/** Buckets in seconds, chosen around each quantity's normal range and its alarming tail. */
const connectBuckets = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const recoveryBuckets = [0.5, 1, 3, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
const admissionWaitBuckets = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const probeBuckets = [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createServiceMetrics(sessions: MetricsSource, now: () => number = () => performance.now()): ServiceMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const startedAt = now();
  const timings = new SessionTimings();
  // Another node's session is that node's to count: summed over the cluster, each session once.
  const elsewhere = (view: SessionView) => view.owner !== null && view.owner !== sessions.ownership.holder;
  const counted = () => sessions.list().filter((view) => !elsewhere(view));
  const registers = [registry];

  new Gauge({
    name: `${prefix}sessions`,
    help: 'Sessions by top-level state.',
    labelNames: ['state'],
    registers,
    collect() {
      this.reset();
      for (const state of sessionStates) this.set({ state }, 0);
      const views = counted();
      for (const view of views) this.inc({ state: view.state });
      timings.forgetAllBut(new Set(views.map((v) => `${v.userId}/${v.sessionId}`)));
    },
  });
  new Gauge({
    name: `${prefix}sessions_by_status`,
    help: 'Sessions by full state path (substates included).',
    labelNames: ['status'],
    registers,
    collect() {
      this.reset();
      for (const view of counted()) this.inc({ status: view.status });
    },
  });
  new Counter({
    name: `${prefix}closes_total`,
    help: 'Connection closes by Baileys status code.',
    labelNames: ['status_code'],
    registers,
    collect() {
      this.reset();
      for (const [code, count] of sessions.counters.closesByStatusCode) this.inc({ status_code: code }, count);
    },
  });
  new Counter({
    name: `${prefix}certificate_refusals_total`,
    help: "Handshakes refused: the server's Noise certificate chain did not lead to the trusted root, or was expired or not for its key.",
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset();
      // Every reason, zeros included, so an alert on any of them has a series from the start.
      for (const reason of certificateRefusals) this.inc({ reason }, certificateRefusalCounts().get(reason) ?? 0);
    },
  });
  new Counter({
    name: `${prefix}reconnect_attempts_total`,
    help: 'Times a session entered backingOff.',
    registers,
    collect() {
      this.reset();
      this.inc(sessions.counters.reconnectAttempts);
    },
  });
  const reconnects = new Counter({
    name: `${prefix}reconnects_total`,
    help: 'New connection attempts by sessions that had been connected or backing off.',
    registers,
  });
  const terminations = new Counter({
    name: `${prefix}terminations_total`,
    help: 'Sessions that ended, by reason.',
    labelNames: ['reason'],
    registers,
  });
  const connectDuration = new Histogram({
    name: `${prefix}connect_duration_seconds`,
    help: 'From a connection attempt’s start to open (attempts that showed a QR are left out).',
    buckets: connectBuckets,
    registers,
  });
  const recovery = new Histogram({
    name: `${prefix}recovery_seconds`,
    help: 'From a close or drop to open again.',
    buckets: recoveryBuckets,
    registers,
  });
  const admissionWait = new Histogram({
    name: `${prefix}admission_wait_seconds`,
    help: 'Time a connection attempt waited for a handshake slot.',
    buckets: admissionWaitBuckets,
    registers,
  });
  const probeRoundTrip = new Histogram({
    name: `${prefix}probe_round_trip_seconds`,
    help: 'Round trip of answered keep-alive probes.',
    buckets: probeBuckets,
    registers,
  });
  new Gauge({
    name: `${prefix}connects_in_flight`,
    help: 'Connection attempts in their handshake now.',
    registers,
    collect() {
      this.set(sessions.admission.inFlight);
    },
  });
  new Gauge({
    name: `${prefix}connects_queued`,
    help: 'Connection attempts waiting for a handshake slot.',
    registers,
    collect() {
      this.set(sessions.admission.queued);
    },
  });
  new Gauge({
    name: `${prefix}uptime_seconds`,
    help: 'Seconds since the service started.',
    registers,
    collect() {
      this.set(Math.floor((now() - startedAt) / 1000));
    },
  });

  const onChange = (change: SessionChange) => {
    if (elsewhere(change.after)) return;
    const facts = timings.observe(change, now());
    if (facts.reconnected) reconnects.inc();
    if (facts.terminatedReason) terminations.inc({ reason: facts.terminatedReason });
    if (facts.connectSeconds !== undefined) connectDuration.observe(facts.connectSeconds);
    if (facts.recoverySeconds !== undefined) recovery.observe(facts.recoverySeconds);
  };
  const onAdmitted = (waitedMs: number) => admissionWait.observe(waitedMs / 1000);
  sessions.on('change', onChange);
  sessions.admission.on('admitted', onAdmitted);
  const stopProbes = onProbeRoundTrip((probe) => probeRoundTrip.observe(probe.roundTripMs / 1000));

  return {
    registry,
    render: () => registry.metrics(),
    stop: () => {
      sessions.off('change', onChange);
      sessions.admission.off('admitted', onAdmitted);
      stopProbes();
    },
  };
}
