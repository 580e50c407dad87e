/**
 * Sessions in PostgreSQL, for several nodes on one database: metadata in
 * wa_vigil_sessions (so any node can list every session), credentials in
 * wa_vigil_creds and wa_vigil_keys (see pg-auth-state.ts), and each session's
 * lease row in wa_vigil_leases, made with the session.
 *
 * Reads need nothing. Every write is one transaction that first proves the
 * writer's lease (holder and epoch; see fenced-transaction.ts) and is refused
 * with LeaseLostError, writing nothing, once another node has taken the session.
 * The tables come from migrate.ts; the lease rows' life (acquire, renew,
 * takeover) belongs to the PostgreSQL Ownership this store is given.
 */
import type { Pool } from 'pg';
import type { Lease, Ownership } from '../ownership.js';
import { checkedSessionKey, keyString, type SessionKey } from '../session-key.js';
import type { SessionAuthState, SessionMeta, SessionStore } from '../session-store.js';
import { describePool } from './database-url.js';
import { fencedTransaction } from './fenced-transaction.js';
import { openPgAuthState } from './pg-auth-state.js';
import { PostgresMessageQueue } from './pg-message-queue.js';
import { WriteQueues } from './write-queue.js';

export interface PostgresSessionStoreOptions {
  /** A pool on a database migrated by migrate(). The caller owns it (and its 'error' listener). */
  pool: Pool;
  /** The PostgreSQL ownership; only handed on as `store.ownership` (the fence reads the lease rows itself). */
  ownership: Ownership;
}

interface SessionRow {
  user_id: string;
  session_id: string;
  created_at: Date;
  should_run: boolean;
  terminated_reason: string | null;
  meta: Record<string, unknown>;
}

/** A new session's row and its lease row (nobody holds it, epoch 0), in one statement: both or neither. */
const createSql = `WITH made AS (
    INSERT INTO wa_vigil_sessions (user_id, session_id, created_at, should_run) VALUES ($1, $2, now(), false)
    ON CONFLICT DO NOTHING RETURNING user_id, session_id
  )
  INSERT INTO wa_vigil_leases (user_id, session_id) SELECT user_id, session_id FROM made`;

const updateMetaSql = `UPDATE wa_vigil_sessions SET created_at = $3, should_run = $4, terminated_reason = $5, meta = $6
  WHERE user_id = $1 AND session_id = $2`;

export class PostgresSessionStore implements SessionStore {
  readonly pool: Pool;
  readonly ownership: Ownership;
  readonly messages: PostgresMessageQueue;
  private readonly queues = new WriteQueues();

  constructor({ pool, ownership }: PostgresSessionStoreOptions) {
    this.pool = pool;
    this.ownership = ownership;
    this.messages = new PostgresMessageQueue(pool, this.queues);
  }

  /** The database, without its password. */
  get location(): string {
    return describePool(this.pool);
  }

  /** Every session, ordered by code point like the file store's folder names. */
  async list(): Promise<SessionKey[]> {
    const { rows } = await this.pool.query<{ user_id: string; session_id: string }>(
      'SELECT user_id, session_id FROM wa_vigil_sessions ORDER BY user_id COLLATE "C", session_id COLLATE "C"',
    );
    return rows.map((row) => ({ userId: row.user_id, sessionId: row.session_id }));
  }

  /**
   * Makes the session (not running, made now) with its free lease; true when it did
   * not exist before. Its metadata reads as a stopped session until written.
   */
  async create(key: SessionKey): Promise<boolean> {
    const { userId, sessionId } = checkedSessionKey(key.userId, key.sessionId);
    const result = await this.pool.query(createSql, [userId, sessionId]);
    return result.rowCount === 1;
  }

  async readMeta(key: SessionKey): Promise<SessionMeta | null> {
    const { rows } = await this.pool.query<SessionRow>(
      'SELECT user_id, session_id, created_at, should_run, terminated_reason, meta FROM wa_vigil_sessions WHERE user_id = $1 AND session_id = $2',
      [key.userId, key.sessionId],
    );
    const row = rows[0];
    if (!row) return null;
    return {
      ...row.meta,
      userId: row.user_id,
      sessionId: row.session_id,
      createdAt: row.created_at.toISOString(),
      shouldRun: row.should_run,
      terminatedReason: row.terminated_reason,
    };
  }

  /** Stores the metadata; the fields without a column of their own (last disconnect…) go to `meta`. */
  async writeMeta(lease: Lease, meta: SessionMeta): Promise<void> {
    const { userId: _u, sessionId: _s, createdAt, shouldRun, terminatedReason, ...rest } = meta;
    await this.queues.for(keyString(lease.key)).run(() =>
      fencedTransaction(this.pool, lease, (client) =>
        client.query(updateMetaSql, [lease.key.userId, lease.key.sessionId, createdAt, shouldRun, terminatedReason, JSON.stringify(rest)]),
      ),
    );
  }

  openAuthState(lease: Lease, onRefused: (error: unknown) => void = () => {}): Promise<SessionAuthState> {
    return openPgAuthState({ pool: this.pool, lease, queue: this.queues.for(keyString(lease.key)), onRefused });
  }

  /** txid_current() gives the transaction an id, so its commit is written to the WAL: a real write, and a cheap one. */
  async probeWrite(): Promise<void> {
    await this.pool.query('SELECT txid_current()');
  }

  async hasCredentials(key: SessionKey): Promise<boolean> {
    const { rowCount } = await this.pool.query('SELECT 1 FROM wa_vigil_creds WHERE user_id = $1 AND session_id = $2', [key.userId, key.sessionId]);
    return rowCount === 1;
  }

  /** Removes the session; its credentials, keys and lease go with it (ON DELETE CASCADE). */
  async remove(lease: Lease): Promise<void> {
    await this.queues.for(keyString(lease.key)).run(() =>
      fencedTransaction(this.pool, lease, (client) =>
        client.query('DELETE FROM wa_vigil_sessions WHERE user_id = $1 AND session_id = $2', [lease.key.userId, lease.key.sessionId]),
      ),
    );
  }
}
