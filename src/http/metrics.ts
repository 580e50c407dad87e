/**
 * GET /metrics: Prometheus text from the service's prom-client registry (see src/metrics/service-metrics.ts).
 *
 * Rendered at most once per renderCacheMs (default 1 s, well under any scrape
 * interval) unless a session changed state since (the counts a client just
 * caused are never served stale), and requests that arrive while a render
 * runs share it: a burst of
 * a thousand requests on this route (open when API_KEY is unset) costs one
 * render, not a thousand, so it cannot stall the event loop long enough to
 * miss a lease renewal and fence every session. Each request is still one HTTP
 * connection counted against MAX_HTTP_CONNECTIONS (server-limits.ts).
 */
import type { FastifyInstance } from 'fastify';
import type { ServiceMetrics } from '../metrics/service-metrics.js';
import { errors, guarded, text } from './route-docs.js';

export const defaultMetricsCacheMs = 1_000;

export interface MetricsRouteOptions {
  /** A rendering is served for this long. Default 1 s. */
  renderCacheMs?: number;
  /** Monotonic clock. Default performance.now. */
  now?: () => number;
  /** Subscribes to changes that make a cached rendering stale (session changes); returns the unsubscribe. */
  onChange?: (listener: () => void) => () => void;
}

/** A renderer that renders at most once per `cacheMs` (or after invalidate()) and shares a render in flight. */
export function cachedRender(render: () => Promise<string>, cacheMs: number, now: () => number = () => performance.now()): { render: () => Promise<string>; invalidate: () => void } {
  let cached: { text: string; at: number } | null = null;
  let inFlight: Promise<string> | null = null;
  let generation = 0;
  const invalidate = () => {
    generation += 1;
    cached = null;
  };
  const cachedOrFresh = () => {
    if (cached && now() - cached.at < cacheMs) return Promise.resolve(cached.text);
    const started = generation;
    inFlight ??= render()
      .then((text) => {
        // A change during the render: serve it to those waiting, keep it for nobody else.
        if (started === generation) cached = { text, at: now() };
        return text;
      })
      .finally(() => {
        inFlight = null;
      });
    return inFlight;
  };
  return { render: cachedOrFresh, invalidate };
}

export function registerMetricsRoute(app: FastifyInstance, metrics: ServiceMetrics, options: MetricsRouteOptions = {}): void {
  const cache = cachedRender(() => metrics.render(), options.renderCacheMs ?? defaultMetricsCacheMs, options.now);
  const unsubscribe = options.onChange?.(cache.invalidate);
  const schema = { summary: 'Prometheus metrics (text exposition)', tags: ['operations'], response: { 200: text('text/plain', 'Prometheus text format 0.0.4'), ...errors(...guarded) } };
  app.get('/metrics', { schema }, async (_request, reply) => reply.type(metrics.registry.contentType).send(await cache.render()));
  app.addHook('onClose', async () => {
    unsubscribe?.();
    metrics.stop();
  });
}
