/**
 * Where sessions and their ownership live, chosen by the configuration:
 * files under SESSIONS_DIR (the embedded default, one machine), or PostgreSQL
 * at DATABASE_URL (a cluster of nodes that fail over by lease).
 */
import pg from 'pg';
import type { ServiceConfig } from './config.js';
import type { Logger } from '../logging/logger.js';
import { FileOwnership, newHolderId } from '../store/files/file-ownership.js';
import { FileSessionStore } from '../store/files/file-session-store.js';
import type { Ownership } from '../store/ownership.js';
import { migrate } from '../store/postgres/migrate.js';
import { PgOwnership } from '../store/postgres/pg-ownership.js';
import { pgClientConfig, pgPoolConfigs } from '../store/postgres/pool-config.js';
import { PostgresSessionStore } from '../store/postgres/pg-session-store.js';
import type { SessionStore } from '../store/session-store.js';
import { StorageFaults, watchOwnership, watchStore } from '../store/storage-faults.js';

/** A readiness probe of the database must answer well within a load balancer's health-check timeout. */
export const readinessTimeoutMs = 2_000;

export interface Backend {
  ownership: Ownership;
  store: SessionStore;
  /** The PostgreSQL side, when there is one. */
  postgres: { pool: pg.Pool; ownership: PgOwnership; newClient: () => pg.Client } | null;
  /** Prepares the storage (migrations); before anything reads it. */
  open(): Promise<void>;
  /** Whether the storage answers now and takes writes (GET /health). */
  ready(): Promise<{ ok: boolean; message?: string }>;
  /** Failed writes by kind; degraded while some kind's writes fail (see storage-faults.ts). */
  faults: StorageFaults;
  close(): Promise<void>;
}

/**
 * @param wrapStore tests: a store that fails on demand, placed under the fault accounting.
 */
export function openBackend(config: ServiceConfig, logger: Logger, wrapStore: (store: SessionStore) => SessionStore = (store) => store): Backend {
  if (!config.databaseUrl) {
    let store: SessionStore | null = null;
    const faults = new StorageFaults({ logger, probe: async () => store?.probeWrite?.() });
    const ownership = watchOwnership(new FileOwnership(config.sessionsDir, { ttlMs: config.leaseTtlMs, logger }), faults);
    store = watchStore(wrapStore(new FileSessionStore(config.sessionsDir, ownership)), faults);
    return {
      ownership,
      store,
      postgres: null,
      open: async () => {},
      ready: () => faults.health(),
      faults,
      close: async () => {},
    };
  }
  // Every connection bounded (statement, lock, idle transaction, connect, query, keepalive: see
  // pool-config.ts), and the renew on connections of its own: a client that holds lease rows
  // and never commits cannot drain this node's pool nor stall its heartbeat.
  const holder = newHolderId();
  const databaseUrl = config.databaseUrl;
  const configs = pgPoolConfigs(databaseUrl, config.leaseTtlMs, config.leaseRenewIntervalMs, holder);
  const pool = new pg.Pool(configs.main);
  const renewPool = new pg.Pool(configs.renew);
  // An idle client that loses its connection (the database restarted) must not take the process down.
  for (const each of [pool, renewPool]) each.on('error', (error) => logger.warn({ err: error.message }, 'A PostgreSQL connection was lost; the pool reconnects'));
  let store: SessionStore | null = null;
  const faults = new StorageFaults({ logger, probe: async () => store?.probeWrite?.() });
  const pgOwnership = new PgOwnership({ pool, renewPool, holder, ttlMs: config.leaseTtlMs, renewTimeoutMs: configs.timeouts.renewTimeoutMs, logger: logger.child({ component: 'ownership' }) });
  const ownership = watchOwnership(pgOwnership, faults);
  store = watchStore(wrapStore(new PostgresSessionStore({ pool, ownership })), faults);
  const newClient = () => new pg.Client(pgClientConfig(databaseUrl, configs.timeouts, `wa-vigil listen ${holder}`));
  return {
    ownership,
    store,
    postgres: { pool, ownership: pgOwnership, newClient },
    faults,
    open: async () => {
      await migrate(pool);
    },
    ready: async () => {
      try {
        await pool.query({ text: 'SELECT 1', query_timeout: readinessTimeoutMs } as pg.QueryConfig);
        return await faults.health();
      } catch (error) {
        return { ok: false, message: `database unreachable: ${error instanceof Error ? error.message : String(error)}` };
      }
    },
    close: async () => {
      await Promise.all([pool.end(), renewPool.end()]);
    },
  };
}
