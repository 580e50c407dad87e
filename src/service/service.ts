/**
 * The whole service wired together: ownership → store → registry → HTTP API.
 * `main.ts` runs it from the environment; tests and the demo build it in-process.
 *
 * Start order: announce this holder, list and register every session on disk,
 * then serve (so no request can see the store before the registry does), then
 * restore each session through its own queue and start the ownership loop.
 * `stop()` may be called at any moment, even while starting: it waits for the
 * start step under way, skips the rest, and stops in order.
 */
import type { FastifyInstance } from 'fastify';
import type { ServiceConfig } from '../config.js';
import { EventService } from '../events/event-service.js';
import { buildApi } from '../http/api.js';
import { InspectionHub } from '../inspector/inspection-hub.js';
import { inspectorOpenPaths, registerInspector } from '../inspector/inspector-plugin.js';
import { createStatelyBridge } from '../inspector/stately-bridge.js';
import type { Logger } from '../logging/logger.js';
import { createConnectionLogic, defaultStaleLinkAfterMs } from '../whatsapp/connection.actor.js';
import { registerOwnershipMetrics } from '../metrics/ownership-metrics.js';
import { resolveSocketOptions } from '../whatsapp/socket-options.js';
import { openBackend } from './backend.js';
import { Cluster } from './cluster.js';
import { Placement } from './placement.js';
import { SessionRegistry, type RegistryOptions } from './registry.js';

export interface Service {
  registry: SessionRegistry;
  api: FastifyInstance;
  /** Where the API listens, once started. */
  url: string;
  /** Settles with the number of sessions started once every restore has run. */
  restored: Promise<number>;
  stop(): Promise<void>;
}

export interface ServiceExtras {
  /** Replace the Baileys connection (tests, benchmarks). */
  connection?: RegistryOptions['connection'];
  /** See ConnectionDependencies.staleLinkAfterMs. */
  staleLinkAfterMs?: number;
  /** Called once the service is serving, before restores finish (main logs its line here). */
  onListening?(url: string): void;
}

export class ServiceStoppedError extends Error {
  readonly code = 'ERR_SERVICE_STOPPED';
  constructor() {
    super('the service was stopped while starting');
  }
}

/** Builds the service; `run()` starts it, `stop()` stops it from any point of the start. */
export function createService(config: ServiceConfig, logger: Logger, extra: ServiceExtras = {}) {
  const hub = new InspectionHub();
  const stately = config.inspectWsUrl ? createStatelyBridge({ url: config.inspectWsUrl, logger }) : null;
  const backend = openBackend(config, logger);
  const { ownership, store } = backend;
  const socketOptions = resolveSocketOptions({
    waWebSocketUrl: config.waWebSocketUrl,
    keepAliveIntervalMs: config.waKeepAliveIntervalMs,
    connectTimeoutMs: config.connectTimeoutMs,
    printQrInTerminal: config.printQr,
    markOnlineOnConnect: config.markOnlineOnConnect,
    syncHistory: config.syncHistory,
    browser: [config.browserName, 'Chrome', '1.0.0'],
  });
  const registry = new SessionRegistry({
    store,
    logger,
    policy: config.policy,
    maxConcurrentConnects: config.maxConcurrentConnects,
    inspect: (key, event) => {
      hub.inspect(key, event);
      stately?.inspect(event);
    },
    connection:
      extra.connection ??
      ((sessions) =>
        createConnectionLogic({
          openAuthState: async (userId, sessionId) => {
            const auth = sessions.owner({ userId, sessionId })?.auth;
            if (!auth) throw new Error('session has no open credentials');
            return auth;
          },
          socketOptions,
          baileysLogger: logger.child({ component: 'baileys' }, { level: config.baileysLogLevel }),
          staleLinkAfterMs: extra.staleLinkAfterMs ?? defaultStaleLinkAfterMs(socketOptions),
          admission: sessions.admission,
          onSocket: (userId, sessionId, socket) => {
            const owner = sessions.owner({ userId, sessionId });
            if (owner) owner.socket = socket;
          },
        })),
  });
  const events = new EventService({ sessionsDir: config.sessionsDir, registry, node: ownership.holder, settings: config.webhooks, logger });
  const clustered = backend.postgres !== null;
  // A cluster spreads sessions over its nodes and hands a node that joins its share, two per tick.
  const placement = new Placement({
    registry,
    store,
    ownership,
    logger,
    renewIntervalMs: config.leaseRenewIntervalMs,
    spread: clustered,
    rebalancePerTick: clustered ? 2 : 0,
  });
  const cluster = backend.postgres
    ? new Cluster({ ...backend.postgres, logger, onReleased: () => void placement.tick(), renewStats: () => placement.renewStats })
    : null;
  let api: FastifyInstance | null = null;
  let stopping: Promise<void> | null = null;
  let starting: Promise<Service> | null = null;

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await starting?.catch(() => undefined);
      await placement.stop();
      await cluster?.stop();
      await api?.close();
      // Before the sessions stop: a shutdown is the process's, not the sessions' (the next owner announces them).
      await events.stop();
      await registry.shutdown();
      await ownership.stop().catch((error: unknown) => logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'Leaving the cluster failed'));
      await backend.close();
      stately?.stop();
    })();
    return stopping;
  };

  const run = (): Promise<Service> => {
    starting ??= (async () => {
      const step = <T>(work: () => Promise<T>) => (stopping ? Promise.reject(new ServiceStoppedError()) : work());
      await step(() => backend.open());
      await step(() => ownership.start());
      await step(() => events.start());
      // In a cluster, placement decides who takes what; one process takes everything free.
      const { restored } = await step(() => registry.load({ take: !clustered }));
      const inspector = { openPaths: inspectorOpenPaths, register: (app: FastifyInstance) => registerInspector(app, registry, hub) };
      api = await step(() =>
        buildApi({
          registry,
          logger,
          apiKey: config.apiKey,
          allowedHosts: config.allowedHosts,
          allowedOrigins: config.allowedOrigins,
          plugins: [inspector],
          limits: { maxConnections: config.maxHttpConnections, maxEventStreams: config.maxEventStreams },
          cluster,
          ready: backend.ready,
          extraMetrics: (metrics) => registerOwnershipMetrics(metrics, { owned: () => registry.heldLeases().length, events: placement }),
          events,
        }),
      );
      const url = await step(() => api!.listen({ port: config.port, host: config.host }));
      if (backend.postgres) await step(() => backend.postgres!.ownership.advertise(config.advertiseUrl ?? url));
      await step(async () => cluster?.start());
      extra.onListening?.(url);
      placement.start();
      void restored.then(() => events.announceRestored());
      void restored.then((count) => logger.info({ restored: count, store: store.location, holder: ownership.holder }, `${count} session(s) restored`));
      return { registry, api: api!, url, restored, stop };
    })();
    return starting;
  };

  return { registry, run, stop };
}

/** The line operators (and the process tests) read to learn where the service listens. */
export function logListening(logger: Logger, url: string, holder: string): void {
  logger.info({ url, holder }, `wa-vigil listening on ${url}, holder ${holder}`);
}

/** Builds and starts the service (tests, the demo). */
export async function startService(config: ServiceConfig, logger: Logger, extra: ServiceExtras = {}): Promise<Service> {
  const service = createService(config, logger, {
    ...extra,
    onListening: (url) => {
      logListening(logger, url, service.registry.ownership.holder);
      extra.onListening?.(url);
    },
  });
  return service.run();
}
