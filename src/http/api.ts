/**
 * The HTTP API (Fastify). Options:
 *   registry        the sessions (required)
 *   logger          pino instance for request logs (required)
 *   apiKey          when set, required on every route but /health (default none)
 *   allowedHosts    Host names served without an API key besides loopback ones (default none)
 *   allowedOrigins  browser origins allowed to change state besides the API's own (default none)
 *   bodyLimit       bytes; larger bodies get 413 (default 64 KiB)
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from '../logging/logger.js';
import type { SessionRegistry } from '../service/registry.js';
import { requireApiKey } from './api-key.js';
import { installErrorHandler } from './errors.js';
import { guardOrigins } from './origin-guard.js';
import { renderMetrics } from './metrics.js';
import { sessionRoutes } from './session-routes.js';

export interface ApiOptions {
  registry: SessionRegistry;
  logger: Logger;
  apiKey?: string | null;
  allowedHosts?: readonly string[];
  allowedOrigins?: readonly string[];
  bodyLimit?: number;
  /** Plugins that add routes (the inspector); their openPaths skip the API key. */
  plugins?: ApiPlugin[];
}

export interface ApiPlugin {
  openPaths?: readonly string[];
  register(app: FastifyInstance): void | Promise<void>;
}

export const defaultBodyLimitBytes = 64 * 1024;

export async function buildApi(options: ApiOptions): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: options.logger.child({ component: 'http' }) as FastifyBaseLogger,
    bodyLimit: options.bodyLimit ?? defaultBodyLimitBytes,
    // Event streams never go idle: without this, one open inspector tab holds shutdown hostage.
    forceCloseConnections: true,
    disableRequestLogging: false,
    ajv: { customOptions: { allErrors: false, coerceTypes: false, removeAdditional: false } },
  });
  installErrorHandler(app);
  guardOrigins(app, { apiKeyRequired: Boolean(options.apiKey), allowedHosts: options.allowedHosts, allowedOrigins: options.allowedOrigins });
  const openPaths = ['/health', ...(options.plugins ?? []).flatMap((p) => p.openPaths ?? [])];
  requireApiKey(app, options.apiKey ?? null, openPaths);
  const startedAt = Date.now();

  app.get('/health', async () => ({ status: 'ok' }));
  app.get('/metrics', async (_request, reply) => reply.type('text/plain; version=0.0.4').send(renderMetrics(options.registry, startedAt)));
  sessionRoutes(app, options.registry);
  for (const plugin of options.plugins ?? []) await plugin.register(app);
  await app.ready();
  return app;
}
