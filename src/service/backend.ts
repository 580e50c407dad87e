/**
 * Where sessions and their ownership live, chosen by the configuration:
 * files under SESSIONS_DIR (the embedded default, one machine), or PostgreSQL
 * at DATABASE_URL (a cluster of nodes that fail over by lease).
 */
import pg from 'pg';
import type { ServiceConfig } from '../config.js';
import type { Logger } from '../logging/logger.js';
import { FileOwnership } from '../store/files/file-ownership.js';
import { FileSessionStore } from '../store/files/file-session-store.js';
import type { Ownership } from '../store/ownership.js';
import { migrate } from '../store/postgres/migrate.js';
import { PgOwnership } from '../store/postgres/pg-ownership.js';
import { PostgresSessionStore } from '../store/postgres/pg-session-store.js';
import type { SessionStore } from '../store/session-store.js';

/** A readiness probe of the database must answer well within a load balancer's health-check timeout. */
export const readinessTimeoutMs = 2_000;

export interface Backend {
  ownership: Ownership;
  store: SessionStore;
  /** The PostgreSQL side, when there is one. */
  postgres: { pool: pg.Pool; ownership: PgOwnership } | null;
  /** Prepares the storage (migrations); before anything reads it. */
  open(): Promise<void>;
  /** Whether the storage answers now (GET /health). */
  ready(): Promise<{ ok: boolean; message?: string }>;
  close(): Promise<void>;
}

export function openBackend(config: ServiceConfig, logger: Logger): Backend {
  if (!config.databaseUrl) {
    const ownership = new FileOwnership(config.sessionsDir, { ttlMs: config.leaseTtlMs });
    return {
      ownership,
      store: new FileSessionStore(config.sessionsDir, ownership),
      postgres: null,
      open: async () => {},
      ready: async () => ({ ok: true }),
      close: async () => {},
    };
  }
  const pool = new pg.Pool({ connectionString: config.databaseUrl, max: 10 });
  // An idle client that loses its connection (the database restarted) must not take the process down.
  pool.on('error', (error) => logger.warn({ err: error.message }, 'A PostgreSQL connection was lost; the pool reconnects'));
  const ownership = new PgOwnership({ pool, ttlMs: config.leaseTtlMs });
  return {
    ownership,
    store: new PostgresSessionStore({ pool, ownership }),
    postgres: { pool, ownership },
    open: async () => {
      await migrate(pool);
    },
    ready: async () => {
      try {
        await pool.query({ text: 'SELECT 1', query_timeout: readinessTimeoutMs } as pg.QueryConfig);
        return { ok: true };
      } catch (error) {
        return { ok: false, message: `database unreachable: ${error instanceof Error ? error.message : String(error)}` };
      }
    },
    close: () => pool.end(),
  };
}
