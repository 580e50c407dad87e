/**
 * The whole service wired together: ownership → store → registry → HTTP API.
 * `main.ts` runs it from the environment; tests and the demo build it in-process.
 *
 * Start order: announce this holder, list and register every session on disk,
 * then serve (so no request can see the store before the registry does), then
 * restore each session through its own queue and start placement (renew, adopt, take over).
 * `stop()` may be called at any moment, even while starting: it waits for the
 * start step under way, skips the rest, and stops in order (see `stop`).
 */
import type { FastifyInstance } from 'fastify';
import type { ServiceConfig } from './config.js';
import { EventService } from '../webhooks/event-service.js';
import { buildApi } from '../http/api.js';
import { InspectionHub } from '../inspector/inspection-hub.js';
import { inspectorOpenPaths, registerInspector } from '../inspector/inspector-plugin.js';
import { outboxHistory } from '../inspector/earlier-history.js';
import { createStatelyBridge } from '../inspector/stately-bridge.js';
import type { Logger } from '../logging/logger.js';
import { createConnectionLogic, defaultStaleLinkAfterMs } from '../whatsapp/connection.actor.js';
import { registerMessageMetrics } from '../metrics/message-metrics.js';
import { registerOwnershipMetrics } from '../metrics/ownership-metrics.js';
import { Messaging } from '../messages/messaging.js';
import { registerStorageMetrics } from '../metrics/storage-metrics.js';
import { registerWebhookMetrics } from '../metrics/webhook-metrics.js';
import type { SessionStore } from '../store/session-store.js';
import { resolveSocketOptions } from '../whatsapp/socket-options.js';
import { openBackend } from './backend.js';
import { Cluster } from '../service/cluster.js';
import { Placement } from '../service/placement.js';
import { SessionRegistry, type RegistryOptions } from '../service/registry.js';
import { sessionStates, type SessionState } from '../../machines/session.states.js';
import type { SessionChange } from '../session/session-change.js';
import type { RemoteStatus, SessionView } from '../session/session-view.js';

/** How often expired queued messages are failed and old sent ones forgotten. */
const messageHousekeepingIntervalMs = 60_000;

export interface Service {
  registry: SessionRegistry;
  messaging: Messaging;
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
  /** Tests: wrap the store (a disk that fails on demand); the wrapper's failures are counted like the store's. */
  wrapStore?: (store: SessionStore) => SessionStore;
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
  const backend = openBackend(config, logger, extra.wrapStore);
  const { ownership, store } = backend;
  const socketOptions = resolveSocketOptions({
    waWebSocketUrl: config.waWebSocketUrl,
    waRootPublicKey: config.waRootPublicKey,
    keepAliveIntervalMs: config.waKeepAliveIntervalMs,
    connectTimeoutMs: config.connectTimeoutMs,
    printQrInTerminal: config.printQr,
    markOnlineOnConnect: config.markOnlineOnConnect,
    syncHistory: config.syncHistory,
    browser: [config.browserName, 'Chrome', '1.0.0'],
  });
  const registry: SessionRegistry = new SessionRegistry({
    store,
    logger,
    policy: config.policy,
    maxConcurrentConnects: config.maxConcurrentConnects,
    // `events` is made below (it listens to this registry); this runs only once sessions do.
    beforeRelease: () => events.settled(),
    inspect: (key, event) => {
      hub.inspect(key, event);
      stately?.inspect(event);
    },
    connection:
      extra.connection ??
      ((sessions) => {
        const hooks = sessions.connectionHooks();
        return createConnectionLogic({
          ...hooks,
          socketOptions,
          baileysLogger: logger.child({ component: 'baileys' }, { level: config.baileysLogLevel }),
          logger,
          staleLinkAfterMs: extra.staleLinkAfterMs ?? defaultStaleLinkAfterMs(socketOptions),
          admission: sessions.admission,
          getMessage: (userId, sessionId, key) => messaging.getMessage({ userId, sessionId }, key),
          onSocket: (userId, sessionId, socket, session) => {
            hooks.onSocket?.(userId, sessionId, socket, session);
            // Messages follow the socket the owner accepted (a stale attempt's socket is not the session's).
            messaging.onSocket({ userId, sessionId }, sessions.owner({ userId, sessionId })?.liveSocket ?? null);
          },
        });
      }),
  });
  const events = new EventService({
    sessionsDir: config.sessionsDir,
    registry,
    node: ownership.holder,
    settings: config.webhooks,
    logger,
    onWriteFailure: (error) => backend.faults.failed('outbox', error),
    onWriteRecovered: () => backend.faults.succeeded('outbox'),
    ...(backend.postgres
      ? {
          postgres: {
            pool: backend.postgres.pool,
            newClient: backend.postgres.newClient,
            leaseTtlMs: config.leaseTtlMs,
            leaseRenewIntervalMs: config.leaseRenewIntervalMs,
            liveHolders: async () => (await ownership.liveHolders()).map((live) => live.holder),
          },
        }
      : {}),
  });
  // On a cluster the outbox carries every node's events: each session run elsewhere is shown as its node announced it.
  const remoteStates = events.outbox.onAppended((appended) => {
    for (const event of appended) {
      if (event.type !== 'session.status' || event.node === ownership.holder) continue;
      const status = remoteStatusOf(event.payload);
      if (status) registry.remoteStatus(event, event.node, status);
    }
  });
  const messaging: Messaging = new Messaging({
    queue: store.messages,
    registry,
    settings: config.messages,
    logger: logger.child({ component: 'messages' }),
    publish: (type, key, payload) => events.emitSessionEvent(type, key, payload),
  });
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
  // A session seen run by another node before it announced anything here: its node is asked once
  // for what it runs (one request per node, however many sessions), the events then keep it current.
  let askingPeers: Promise<void> | null = null;
  let askAgain = false;
  let askingStopped = false;
  const askPeers = (): void => {
    if (!cluster || askingStopped) return;
    if (askingPeers) {
      askAgain = true;
      return;
    }
    askingPeers = (async () => {
      const auth = config.apiKey ? { 'x-api-key': config.apiKey } : {};
      for (const views of await cluster.fromPeers<SessionView[]>('/sessions?scope=local', auth)) {
        for (const view of Array.isArray(views) ? views : []) {
          const status = view.owner ? remoteStatusOf(view as unknown as Record<string, unknown>) : null;
          if (status) registry.remoteStatus(view, view.owner!, status);
        }
      }
    })()
      .catch(() => undefined)
      .finally(() => {
        askingPeers = null;
        if (askAgain) {
          askAgain = false;
          askPeers();
        }
      });
  };
  const onUnknownElsewhere = ({ after }: SessionChange) => {
    if (after.terminatedReason === 'ownedElsewhere') askPeers();
  };
  if (cluster) registry.on('change', onUnknownElsewhere);
  let api: FastifyInstance | null = null;
  let stopping: Promise<void> | null = null;
  let starting: Promise<Service> | null = null;

  // The order keeps proving what still runs: stop accepting and cancel what is queued,
  // stop the sockets, flush, release — and only then stop renewing, so no shutdown step,
  // however long, lets another node take a session whose socket still runs here.
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await starting?.catch(() => undefined);
      registry.close();
      await cluster?.stop();
      await api?.close();
      // No new writes to sockets that are about to close: what is queued stays queued for the next owner.
      await messaging.stop();
      // Before the sessions stop: a shutdown is the process's, not the sessions' (the next owner announces them).
      remoteStates();
      registry.off('change', onUnknownElsewhere);
      askingStopped = true;
      await askingPeers;
      await events.stop();
      await registry.shutdown();
      await placement.stop();
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
      const inspector = { openPaths: inspectorOpenPaths, register: (app: FastifyInstance) => registerInspector(app, registry, hub, messaging, outboxHistory(events.outbox, ownership.holder)) };
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
          extraMetrics: (metrics) => {
            const stopOwnership = registerOwnershipMetrics(metrics, { owned: () => registry.heldLeases().length, events: placement, sessions: registry });
            const stopMessages = registerMessageMetrics(metrics, messaging);
            const stopStorage = registerStorageMetrics(metrics, backend.faults, () => registry.list());
            const stopWebhooks = registerWebhookMetrics(metrics, events);
            return () => {
              stopOwnership();
              stopMessages();
              stopStorage();
              stopWebhooks();
            };
          },
          events,
          messaging,
        }),
      );
      const url = await step(() => listenQuietly(api!, config.port, config.host));
      if (backend.postgres) await step(() => backend.postgres!.ownership.advertise(config.advertiseUrl ?? url));
      await step(async () => cluster?.start());
      extra.onListening?.(url);
      placement.start();
      messaging.startHousekeeping(messageHousekeepingIntervalMs, () => registry.heldLeases());
      void restored.then(() => events.announceRestored());
      void restored.then((count) => logger.info({ restored: count, store: store.location, holder: ownership.holder }, `${count} session(s) restored`));
      return { registry, messaging, api: api!, url, restored, stop };
    })();
    return starting;
  };

  return { registry, messaging, run, stop };
}

/** A session.status payload as the view's remote status; null when it is not one (an older node's, damaged). */
function remoteStatusOf(payload: Record<string, unknown>): RemoteStatus | null {
  const { state, status, attempt, nextRetryAt, lastDisconnect, terminatedReason } = payload;
  if (typeof state !== 'string' || !(sessionStates as readonly string[]).includes(state) || typeof status !== 'string') return null;
  return {
    state: state as SessionState,
    status,
    attempt: typeof attempt === 'number' ? attempt : 0,
    nextRetryAt: typeof nextRetryAt === 'string' ? nextRetryAt : null,
    lastDisconnect: (lastDisconnect as RemoteStatus['lastDisconnect']) ?? null,
    terminatedReason: typeof terminatedReason === 'string' ? terminatedReason : null,
  };
}

/**
 * Fastify logs "Server listening at …" once per address; the service logs its own line (with its
 * holder id) through onListening instead, so an operator sees one "listening" line.
 */
async function listenQuietly(api: FastifyInstance, port: number, host: string): Promise<string> {
  const level = api.log.level;
  api.log.level = 'warn';
  try {
    return await api.listen({ port, host });
  } finally {
    api.log.level = level;
  }
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
