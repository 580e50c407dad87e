/** Prometheus text for GET /metrics. */
import type { SessionRegistry } from '../service/registry.js';

const states = ['connecting', 'open', 'degraded', 'backingOff', 'terminated'] as const;

export function renderMetrics(manager: SessionRegistry, startedAt: number): string {
  const byState = new Map<string, number>(states.map((s) => [s, 0]));
  for (const view of manager.list()) byState.set(view.state, (byState.get(view.state) ?? 0) + 1);
  const lines = [
    '# HELP wa_vigil_sessions Sessions by top-level state.',
    '# TYPE wa_vigil_sessions gauge',
    ...[...byState].map(([state, n]) => `wa_vigil_sessions{state="${state}"} ${n}`),
    '# HELP wa_vigil_reconnect_attempts_total Times a session entered backingOff.',
    '# TYPE wa_vigil_reconnect_attempts_total counter',
    `wa_vigil_reconnect_attempts_total ${manager.counters.reconnectAttempts}`,
    '# HELP wa_vigil_closes_total Connection closes by Baileys status code.',
    '# TYPE wa_vigil_closes_total counter',
    ...[...manager.counters.closesByStatusCode].map(([code, n]) => `wa_vigil_closes_total{status_code="${code}"} ${n}`),
    '# HELP wa_vigil_connects_in_flight Connection attempts in their handshake now.',
    '# TYPE wa_vigil_connects_in_flight gauge',
    `wa_vigil_connects_in_flight ${manager.admission.inFlight}`,
    '# HELP wa_vigil_uptime_seconds Seconds since the service started.',
    '# TYPE wa_vigil_uptime_seconds gauge',
    `wa_vigil_uptime_seconds ${Math.floor((Date.now() - startedAt) / 1000)}`,
  ];
  return lines.join('\n') + '\n';
}
