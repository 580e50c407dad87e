/**
 * The HTTP API (Fastify). Options:
 *   registry        the sessions (required)
 *   logger          pino instance for request logs (required)
 *   apiKey          when set, required on every route but /health, the docs and open plugin paths (default none)
 *   allowedHosts    Host names served without an API key besides loopback ones (default none)
 *   allowedOrigins  browser origins allowed to change state besides the API's own (default none)
 *   bodyLimit       bytes; larger bodies get 413 (default 64 KiB)
 *   limits          timeouts and caps on connections and event streams (default defaultServerLimits)
 *   cluster         on PostgreSQL: forward operations to the owning node, list the whole cluster (default none)
 *   ready           readiness for /health, e.g. the database answers (default always ready)
 *   events          the fleet's events: /webhooks and GET /events are served when given (default none)
 *   messaging       messages in and out: the /messages and /contacts routes are served when given (default none)
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { EventService } from '../webhooks/event-service.js';
import type { Logger } from '../logging/logger.js';
import { registerOutboxMetrics } from '../metrics/outbox-metrics.js';
import { createServiceMetrics } from '../metrics/service-metrics.js';
import type { SessionRegistry } from '../service/registry.js';
import { requireApiKey } from './api-key.js';
import { acceptEmptyBodies } from './empty-bodies.js';
import { errorServerOptions, installErrorHandler } from './errors.js';
import { registerMetricsRoute } from './metrics.js';
import { recordRouteMethods } from './method-not-allowed.js';
import { guardOrigins } from './origin-guard.js';
import { docsOpenPaths, documentRoutes, serveDocs } from './openapi.js';
import { RequestLogController } from './request-log.js';
import { applyServerLimits, defaultServerLimits, fastifyTimeouts, type ServerLimits } from './server-limits.js';
import { fleetEventRoutes } from './fleet-events.js';
import { sessionRoutes } from './session-routes.js';
import { clusterRoutes } from './cluster-routes.js';
import type { Cluster } from '../service/cluster.js';
import { webhookRoutes } from './webhook-routes.js';
import { messageRoutes } from './message-routes.js';
import type { Messaging } from '../messages/messaging.js';
import { errorSchema } from './route-docs.js';

export interface ApiOptions {
  registry: SessionRegistry;
  logger: Logger;
  apiKey?: string | null;
  allowedHosts?: readonly string[];
  allowedOrigins?: readonly string[];
  cluster?: Cluster | null;
  ready?: () => Promise<{ ok: boolean; message?: string }>;
  /** Adds metrics to the service's prom-client registry; returns the way to stop them. */
  extraMetrics?: (registry: Registry) => () => void;
  bodyLimit?: number;
  limits?: Partial<ServerLimits>;
  /** Plugins that add routes (the inspector); their openPaths skip the API key. */
  plugins?: ApiPlugin[];
  events?: EventService;
  messaging?: Messaging;
}

export interface ApiPlugin {
  openPaths?: readonly string[];
  register(app: FastifyInstance): void | Promise<void>;
}

export const defaultBodyLimitBytes = 64 * 1024;

export async function buildApi(options: ApiOptions): Promise<FastifyInstance> {
  const limits: ServerLimits = { ...defaultServerLimits, ...options.limits };
  const app: FastifyInstance = Fastify({
    ...fastifyTimeouts(limits),
    ...errorServerOptions(),
    loggerInstance: options.logger.child({ component: 'http' }) as FastifyBaseLogger,
    bodyLimit: options.bodyLimit ?? defaultBodyLimitBytes,
    // Event streams never go idle: without this, one open inspector tab holds shutdown hostage.
    forceCloseConnections: true,
    logController: new RequestLogController(),
    ajv: { customOptions: { allErrors: false, coerceTypes: false, removeAdditional: false } },
  });
  applyServerLimits(app, limits);
  installErrorHandler(app, recordRouteMethods(app), options.cluster ?? null);
  guardOrigins(app, { apiKeyRequired: Boolean(options.apiKey), allowedHosts: options.allowedHosts, allowedOrigins: options.allowedOrigins });
  acceptEmptyBodies(app);
  await documentRoutes(app);
  const openPaths = ['/health', ...docsOpenPaths, ...(options.plugins ?? []).flatMap((p) => p.openPaths ?? [])];
  requireApiKey(app, options.apiKey ?? null, openPaths);

  const health = {
    summary: 'Liveness: answers while the process serves HTTP (no key needed)',
    tags: ['operations'],
    security: [],
    response: {
      200: { type: 'object', properties: { status: { type: 'string', enum: ['ok'] } } },
      503: { ...errorSchema, description: 'The storage refuses writes, or the database is unreachable: the message names the cause' },
    },
  };
  app.get('/health', { schema: health }, async (_request, reply) => {
    const readiness = options.ready ? await options.ready() : { ok: true };
    if (readiness.ok) return { status: 'ok' };
    return reply.code(503).send({ error: 'unavailable', message: readiness.message ?? 'not ready' });
  });
  if (options.cluster) clusterRoutes(app, options.cluster);
  const metrics = createServiceMetrics(options.registry);
  const stopExtraMetrics = options.extraMetrics?.(metrics.registry);
  if (stopExtraMetrics) app.addHook('onClose', async () => stopExtraMetrics());
  registerMetricsRoute(app, metrics, {
    onChange: (listener) => {
      options.registry.on('change', listener);
      return () => options.registry.off('change', listener);
    },
  });
  sessionRoutes(app, options.registry, options.cluster ?? null);
  if (options.events) webhookRoutes(app, options.events);
  if (options.events) fleetEventRoutes(app, options.events);
  if (options.events) registerOutboxMetrics(metrics.registry, options.events.outbox);
  if (options.messaging) messageRoutes(app, options.messaging);
  for (const plugin of options.plugins ?? []) await plugin.register(app);
  await serveDocs(app);
  await app.ready();
  return app;
}
