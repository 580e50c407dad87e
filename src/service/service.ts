/**
 * The whole service wired together: store → manager → HTTP API. `main.ts`
 * runs it from the environment; tests and the demo build it in-process.
 */
import type { FastifyInstance } from 'fastify';
import type { ServiceConfig } from '../config.js';
import { buildApi } from '../http/api.js';
import { InspectionHub } from '../inspector/inspection-hub.js';
import { inspectorOpenPaths, registerInspector } from '../inspector/inspector-plugin.js';
import { createStatelyBridge } from '../inspector/stately-bridge.js';
import type { Logger } from '../logging/logger.js';
import { SessionStore } from '../store/session-store.js';
import { resolveSocketOptions } from '../whatsapp/socket-options.js';
import { SessionManager, type SessionManagerOptions } from './session-manager.js';

export interface Service {
  manager: SessionManager;
  api: FastifyInstance;
  /** Where the API listens, once started. */
  url: string;
  stop(): Promise<void>;
}

export async function startService(
  config: ServiceConfig,
  logger: Logger,
  extra: Pick<SessionManagerOptions, 'connectionLogic' | 'staleLinkAfterMs'> = {},
): Promise<Service> {
  const hub = new InspectionHub();
  const stately = config.inspectWsUrl ? createStatelyBridge({ url: config.inspectWsUrl, logger }) : null;
  const store = new SessionStore(config.sessionsDir);
  const manager = new SessionManager({
    store,
    logger,
    policy: config.policy,
    socketOptions: resolveSocketOptions({
      waWebSocketUrl: config.waWebSocketUrl,
      keepAliveIntervalMs: config.waKeepAliveIntervalMs,
      connectTimeoutMs: config.connectTimeoutMs,
      printQrInTerminal: config.printQr,
      markOnlineOnConnect: config.markOnlineOnConnect,
      syncHistory: config.syncHistory,
      browser: [config.browserName, 'Chrome', '1.0.0'],
    }),
    maxConcurrentConnects: config.maxConcurrentConnects,
    baileysLogLevel: config.baileysLogLevel,
    inspect: (key, event) => {
      hub.inspect(key, event);
      stately?.inspect(event);
    },
    ...extra,
  });
  const inspector = { openPaths: inspectorOpenPaths, register: (app: FastifyInstance) => registerInspector(app, manager, hub) };
  const api = await buildApi({
    manager,
    logger,
    apiKey: config.apiKey,
    plugins: [inspector],
    limits: { maxConnections: config.maxHttpConnections, maxEventStreams: config.maxEventStreams },
  });
  const url = await api.listen({ port: config.port, host: config.host });
  const restored = await manager.restore();
  logger.info({ url, restored, sessionsDir: store.root }, `wa-vigil listening on ${url}, ${restored} session(s) restored`);
  return {
    manager,
    api,
    url,
    stop: async () => {
      await api.close();
      await manager.shutdown();
      stately?.stop();
    },
  };
}
