/**
 * How a node talks to PostgreSQL: every wait has a bound, those on the database
 * well under the lease TTL, so one broken client — a host that died with a transaction open, an
 * operator's psql left in BEGIN — can never drain a healthy node's pool and
 * make it fence its own sessions.
 *
 * Server side, set on each of the node's own connections (startup parameters):
 *   statement_timeout                    a statement running longer is cancelled;
 *   lock_timeout                         a wait for a row lock is given up;
 *   idle_in_transaction_session_timeout  a transaction left open ends with its
 *                                        connection, releasing its row locks — so
 *                                        when the host of one of our nodes dies
 *                                        without a FIN, the server frees what it
 *                                        held instead of waiting ~2 h for TCP;
 *   tcp_keepalives_*                     the server notices a vanished client.
 * Client side: a connect timeout, a query timeout (a black-holed connection is
 * dropped, not waited on) and TCP keepalive.
 *
 * All of them follow LEASE_TTL_MS, so a cluster tuned for fast failover gets
 * tighter bounds with no extra setting.
 */
import type { ClientConfig, PoolConfig } from 'pg';

export interface PgTimeouts {
  /** statement_timeout of every statement the node sends. */
  readonly statementTimeoutMs: number;
  /** lock_timeout: the longest any statement of the node waits for a row lock. */
  readonly lockTimeoutMs: number;
  /** An acquire's own, shorter lock wait: a lease row locked by a write in flight is tried again next tick. */
  readonly acquireLockTimeoutMs: number;
  /** idle_in_transaction_session_timeout: the server ends a node's transaction left open this long. */
  readonly idleInTransactionTimeoutMs: number;
  /** Opening a connection. */
  readonly connectTimeoutMs: number;
  /** A query without an answer this long is abandoned and its connection dropped (client side). */
  readonly queryTimeoutMs: number;
  /** A whole renew (heartbeat and lease read) abandoned after this long, counted as failed. */
  readonly renewTimeoutMs: number;
  /** TCP keepalive: first probe after this much silence (client and server). */
  readonly keepAliveIdleMs: number;
}

/**
 * The bounds for a lease TTL and renew interval. Server side (time the database
 * itself spends): a third of the TTL for a statement or an idle transaction, a
 * fifth for a lock wait. Client side, where a loaded machine's stalled event loop
 * counts too, more room: half the TTL for a query, a whole TTL to get a pooled
 * connection (waiting for a slot is normal under load; the bound is for a pool
 * that would otherwise never free one). A renew is abandoned once a retry on the
 * next tick could no longer land before the fence: TTL − 2 × interval, at least a
 * third of the TTL.
 */
export function pgTimeouts(ttlMs: number, renewIntervalMs = Math.floor(ttlMs / 3)): PgTimeouts {
  const third = Math.max(100, Math.floor(ttlMs / 3));
  return {
    statementTimeoutMs: third,
    lockTimeoutMs: Math.max(50, Math.floor(ttlMs / 5)),
    acquireLockTimeoutMs: Math.max(20, Math.min(500, Math.floor(ttlMs / 20))),
    idleInTransactionTimeoutMs: third,
    connectTimeoutMs: Math.max(1_000, ttlMs),
    queryTimeoutMs: Math.max(third + 100, Math.floor(ttlMs / 2)),
    renewTimeoutMs: Math.max(third, ttlMs - 2 * renewIntervalMs),
    keepAliveIdleMs: Math.max(1_000, Math.min(10_000, third)),
  };
}

/** Connection settings for one of the node's connections (pooled, the renew pool, the LISTEN client). */
export function pgClientConfig(connectionString: string, timeouts: PgTimeouts, applicationName = 'wa-vigil'): ClientConfig {
  const keepAliveSeconds = Math.max(1, Math.round(timeouts.keepAliveIdleMs / 1000));
  return {
    connectionString,
    // Who holds what, for an operator reading pg_stat_activity or pg_locks.
    application_name: applicationName.slice(0, 63),
    statement_timeout: timeouts.statementTimeoutMs,
    lock_timeout: timeouts.lockTimeoutMs,
    idle_in_transaction_session_timeout: timeouts.idleInTransactionTimeoutMs,
    query_timeout: timeouts.queryTimeoutMs,
    connectionTimeoutMillis: timeouts.connectTimeoutMs,
    keepAlive: true,
    keepAliveInitialDelayMillis: timeouts.keepAliveIdleMs,
    options: `-c tcp_keepalives_idle=${keepAliveSeconds} -c tcp_keepalives_interval=${keepAliveSeconds} -c tcp_keepalives_count=3`,
  };
}

/** The node's pools: `main` for session reads and writes, `renew` (its own connections) for the heartbeat. */
export function pgPoolConfigs(
  connectionString: string,
  ttlMs: number,
  renewIntervalMs: number,
  holder: string,
): { main: PoolConfig; renew: PoolConfig; timeouts: PgTimeouts } {
  const timeouts = pgTimeouts(ttlMs, renewIntervalMs);
  return {
    timeouts,
    main: { ...pgClientConfig(connectionString, timeouts, `wa-vigil ${holder}`), max: 10 },
    // Two: a renew abandoned at its timeout drops its connection; the next renew must not wait to open one behind it.
    // Its queries may take as long as the renew itself; the renew's deadline is what abandons them.
    renew: { ...pgClientConfig(connectionString, timeouts, `wa-vigil renew ${holder}`), query_timeout: timeouts.renewTimeoutMs, max: 2 },
  };
}
