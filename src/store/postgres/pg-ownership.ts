/**
 * Ownership on PostgreSQL: one lease row per session (wa_vigil_leases: holder,
 * epoch) and one row per live node (wa_vigil_nodes: a heartbeat counter `beat`).
 *
 * Liveness is observed, never computed from a timestamp: each renew adds one to
 * the node's `beat`, and another node judges a holder dead only when it has seen
 * that counter unchanged for the holder's TTL, timed on its own monotonic clock
 * from the moment it first saw the value. A clock step on any host or on the
 * database changes nothing. A holder whose row is gone (it stopped cleanly, or
 * its row was pruned after 10 × TTL of silence) holds nothing.
 *
 *   renew     on a pool of its own (never behind session writes), bounded by a
 *             timeout: beat + 1 on this node's row keeps every lease it holds; a
 *             read of the node rows feeds the observations; a read of the lease
 *             rows tells which were taken (lost). A renew that hangs is abandoned
 *             and fails.
 *   acquire   UPDATE … SET holder = me, epoch = epoch + 1 WHERE the lease is free,
 *             mine, its holder has no row, or its holder's beat still equals the
 *             value this node watched unchanged for a TTL — so a holder that beats
 *             at the last moment keeps its session. Only while this node's own row
 *             exists and its own last beat is recent. Its wait for a row lock (a
 *             write in flight under the old epoch holds the row FOR SHARE) is short:
 *             a row held by a stuck transaction is left for a later tick, never
 *             waited on with a pooled connection.
 *   release   holder = null, epoch + 1, then NOTIFY so other nodes look at once.
 *
 * Writes are fenced by the store itself: each write transaction first locks the
 * lease row with its holder and epoch — see fenced-transaction.ts.
 */
import { performance } from 'node:perf_hooks';
import type { Pool } from 'pg';
import type { Logger } from '../../logging/logger.js';
import { newHolderId } from '../files/file-ownership.js';
import { LeaseLostError, type AcquireResult, type Lease, type LiveHolder, type Ownership } from '../ownership.js';
import type { SessionKey } from '../session-key.js';
import { pgTimeouts } from './pool-config.js';

/** Default lease TTL on PostgreSQL: a node silent this long loses its sessions. */
export const defaultPgLeaseTtlMs = 15_000;
/** The channel a node NOTIFYs when it lets sessions go, so others take them at once. */
export const leaseChannel = 'wa_vigil_leases';
/** A node row unchanged this many TTLs (as observed) is deleted: the node is long gone. */
export const pruneAfterTtls = 10;

/** SQLSTATE lock_not_available: a lock wait reached lock_timeout. */
const lockNotAvailable = '55P03';

/** This node may not take a lease: its own row is gone, or it has not beaten recently enough to be sure others see it alive. */
export class HolderNotAliveError extends Error {
  readonly code = 'ERR_HOLDER_NOT_ALIVE';
  constructor(
    readonly holder: string,
    reason: string,
  ) {
    super(`holder ${holder} cannot acquire: ${reason}`);
    this.name = 'HolderNotAliveError';
  }
}

/** A renew that did not finish in time: abandoned, and counted as failed. */
export class RenewTimeoutError extends Error {
  readonly code = 'ERR_RENEW_TIMEOUT';
  constructor(readonly timeoutMs: number) {
    super(`renew took longer than ${timeoutMs} ms and was abandoned`);
    this.name = 'RenewTimeoutError';
  }
}

export interface PgOwnershipOptions {
  pool: Pool;
  /** The renew's own connections, so a renew never waits for a slot behind session writes. Default `pool`. */
  renewPool?: Pool;
  /** Default defaultPgLeaseTtlMs. */
  ttlMs?: number;
  /** Fixed holder id (tests, tools); default host-pid-random. */
  holder?: string;
  /** Monotonic milliseconds (tests step it); default performance.now. Never the wall clock. */
  now?: () => number;
  /** A renew abandoned after this long. Default pgTimeouts(ttlMs).renewTimeoutMs. */
  renewTimeoutMs?: number;
  /** An acquire's longest wait for the lease row's lock. Default pgTimeouts(ttl).acquireLockTimeoutMs. */
  acquireLockTimeoutMs?: number;
  /** Told when a lease row is locked by a transaction that does not end (an operator's look-up, a dead host). */
  logger?: Logger;
}

interface Observation {
  beat: string;
  /** When this node first saw `beat` (its monotonic clock, at the answer). */
  since: number;
  /** The holder's declared TTL, when it declares one. */
  ttlMs: number | null;
}

interface NodeRow {
  holder: string;
  beat: string;
  ttl_ms: number | null;
}

export class PgOwnership implements Ownership {
  readonly holder: string;
  readonly ttlMs: number;
  private readonly pool: Pool;
  private readonly renewPool: Pool;
  private readonly now: () => number;
  private readonly renewTimeoutMs: number;
  private readonly acquireLockTimeoutMs: number;
  private readonly logger: Logger | undefined;
  private url: string | null = null;
  /** Other holders' heartbeat counters as this node saw them, and since when. */
  private readonly observed = new Map<string, Observation>();
  /** Monotonic start of this node's last heartbeat that landed; null before the first and after stop(). */
  private beatAt: number | null = null;
  /** Sessions whose lease row was found locked, so the log says it once per episode, not every tick. */
  private readonly lockedRows = new Set<string>();

  constructor(options: PgOwnershipOptions) {
    this.pool = options.pool;
    this.renewPool = options.renewPool ?? options.pool;
    this.holder = options.holder ?? newHolderId();
    this.ttlMs = options.ttlMs ?? defaultPgLeaseTtlMs;
    this.now = options.now ?? (() => performance.now());
    const timeouts = pgTimeouts(this.ttlMs);
    this.renewTimeoutMs = options.renewTimeoutMs ?? timeouts.renewTimeoutMs;
    this.acquireLockTimeoutMs = options.acquireLockTimeoutMs ?? timeouts.acquireLockTimeoutMs;
    this.logger = options.logger;
  }

  /** Where other nodes reach this node's API (forwarded operations). */
  async advertise(url: string): Promise<void> {
    this.url = url;
    await this.heartbeat();
  }

  async start(): Promise<void> {
    await this.heartbeat();
  }

  /** This node is gone: whatever it still holds is free at once. */
  async stop(): Promise<void> {
    this.beatAt = null;
    await this.pool.query('DELETE FROM wa_vigil_nodes WHERE holder = $1', [this.holder]);
    await this.pool.query(`SELECT pg_notify('${leaseChannel}', $1)`, [this.holder]);
  }

  async acquire(key: SessionKey): Promise<AcquireResult> {
    this.assertRecentBeat();
    const dead = this.deadHolders();
    const id = `${key.userId}/${key.sessionId}`;
    const client = await this.pool.connect();
    let broken: Error | undefined;
    let taken: { epoch: string } | undefined;
    let locked = false;
    try {
      await client.query('BEGIN');
      await client.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.round(this.acquireLockTimeoutMs))}`);
      const result = await client.query<{ epoch: string }>(
        `UPDATE wa_vigil_leases AS l SET holder = $3, epoch = l.epoch + 1
          WHERE l.user_id = $1 AND l.session_id = $2
            AND EXISTS (SELECT 1 FROM wa_vigil_nodes me WHERE me.holder = $3)
            AND (l.holder IS NULL OR l.holder = $3
                 OR NOT EXISTS (SELECT 1 FROM wa_vigil_nodes n WHERE n.holder = l.holder)
                 OR EXISTS (SELECT 1 FROM wa_vigil_nodes n JOIN unnest($4::text[], $5::bigint[]) AS d(holder, beat) USING (holder)
                             WHERE n.holder = l.holder AND n.beat = d.beat))
          RETURNING l.epoch`,
        [key.userId, key.sessionId, this.holder, dead.map((d) => d.holder), dead.map((d) => d.beat)],
      );
      await client.query('COMMIT');
      taken = result.rows[0];
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
      if ((error as { code?: string }).code !== lockNotAvailable) throw error;
      locked = true;
    } finally {
      // Given back before any further query: an acquire never holds two pooled connections.
      client.release(broken);
    }
    if (locked) {
      // A transaction holds the lease row and does not end: a write of a host that died without
      // closing its connection, or a client outside wa-vigil. Waiting for it would pin a pooled
      // connection; the server ends our own nodes' idle transactions, and a later tick tries again.
      const holder = await this.currentHolder(key);
      if (holder === undefined) {
        this.lockedRows.delete(id);
        return { acquired: false, gone: true };
      }
      if (!this.lockedRows.has(id)) {
        this.lockedRows.add(id);
        this.logger?.warn(
          { userId: key.userId, sessionId: key.sessionId, holder, lockWaitMs: this.acquireLockTimeoutMs },
          'The lease row is locked by a database transaction that does not end: not taking the session until it does (see pg_stat_activity for wa_vigil_leases)',
        );
      }
      return { acquired: false, owner: holder ?? 'a database client' };
    }
    if (taken) {
      this.lockedRows.delete(id);
      return { acquired: true, lease: { key: { userId: key.userId, sessionId: key.sessionId }, holder: this.holder, epoch: Number(taken.epoch) } };
    }
    const current = await this.pool.query<{ holder: string | null; alive: boolean }>(
      'SELECT l.holder, EXISTS (SELECT 1 FROM wa_vigil_nodes WHERE holder = $3) AS alive FROM wa_vigil_leases l WHERE l.user_id = $1 AND l.session_id = $2',
      [key.userId, key.sessionId, this.holder],
    );
    const row = current.rows[0];
    if (!row) {
      this.lockedRows.delete(id);
      return { acquired: false, gone: true };
    }
    if (!row.alive) throw new HolderNotAliveError(this.holder, 'its node row is gone (it stopped, or was silent long enough to be pruned)');
    return { acquired: false, owner: row.holder ?? 'another node' };
  }

  async confirm(lease: Lease): Promise<void> {
    const held = await this.pool.query('SELECT 1 FROM wa_vigil_leases WHERE user_id = $1 AND session_id = $2 AND holder = $3 AND epoch = $4', [
      lease.key.userId,
      lease.key.sessionId,
      lease.holder,
      lease.epoch,
    ]);
    if (held.rowCount === 0) throw new LeaseLostError(lease);
  }

  /** Beats, observes the other nodes, and reports the leases lost; rejects (RenewTimeoutError) when it takes longer than the renew timeout. */
  async renew(leases: readonly Lease[]): Promise<Lease[]> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RenewTimeoutError(this.renewTimeoutMs)), this.renewTimeoutMs);
    });
    const work = this.renewOnce(leases);
    // The abandoned work still ends by itself (query timeouts); its outcome no longer matters.
    work.catch(() => undefined);
    try {
      return await Promise.race([work, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async renewOnce(leases: readonly Lease[]): Promise<Lease[]> {
    await this.heartbeat();
    const nodes = await this.renewPool.query<NodeRow>('SELECT holder, beat, ttl_ms FROM wa_vigil_nodes');
    this.observeAll(nodes.rows);
    this.prune();
    if (leases.length === 0) return [];
    const mine = await this.renewPool.query<{ user_id: string; session_id: string; epoch: string }>(
      'SELECT user_id, session_id, epoch FROM wa_vigil_leases WHERE holder = $1',
      [this.holder],
    );
    const kept = new Set(mine.rows.map((r) => `${r.user_id}/${r.session_id}/${r.epoch}`));
    return leases.filter((l) => !kept.has(`${l.key.userId}/${l.key.sessionId}/${l.epoch}`));
  }

  async release(lease: Lease): Promise<void> {
    const released = await this.pool.query(
      'UPDATE wa_vigil_leases SET holder = NULL, epoch = epoch + 1 WHERE user_id = $1 AND session_id = $2 AND holder = $3 AND epoch = $4',
      [lease.key.userId, lease.key.sessionId, lease.holder, lease.epoch],
    );
    if (released.rowCount) await this.pool.query(`SELECT pg_notify('${leaseChannel}', $1)`, [this.holder]);
  }

  async liveOwner(key: SessionKey): Promise<string | null> {
    return (await this.liveOwners([key]))[0] ?? null;
  }

  async liveOwners(keys: readonly SessionKey[]): Promise<Array<string | null>> {
    if (keys.length === 0) return [];
    const owners = await this.pool.query<{ user_id: string; session_id: string; holder: string; beat: string | null; ttl_ms: number | null }>(
      `SELECT l.user_id, l.session_id, l.holder, n.beat, n.ttl_ms
         FROM wa_vigil_leases l JOIN unnest($1::text[], $2::text[]) AS k(user_id, session_id) USING (user_id, session_id)
         LEFT JOIN wa_vigil_nodes n ON n.holder = l.holder
        WHERE l.holder IS NOT NULL`,
      [keys.map((k) => k.userId), keys.map((k) => k.sessionId)],
    );
    const at = this.now();
    const byKey = new Map<string, string>();
    for (const row of owners.rows) {
      if (row.beat === null) {
        this.observed.delete(row.holder);
        continue;
      }
      if (row.holder !== this.holder) this.observe({ holder: row.holder, beat: row.beat, ttl_ms: row.ttl_ms }, at);
      if (this.isAlive(row.holder)) byKey.set(`${row.user_id}/${row.session_id}`, row.holder);
    }
    return keys.map((k) => byKey.get(`${k.userId}/${k.sessionId}`) ?? null);
  }

  async liveHolders(): Promise<LiveHolder[]> {
    const nodes = await this.pool.query<NodeRow & { url: string | null }>('SELECT holder, url, beat, ttl_ms FROM wa_vigil_nodes ORDER BY holder');
    this.observeAll(nodes.rows);
    return nodes.rows.filter((n) => this.isAlive(n.holder)).map((n) => ({ holder: n.holder, url: n.url }));
  }

  /** Live nodes with how many sessions each owns now (GET /cluster). */
  async members(): Promise<Array<LiveHolder & { sessions: number; renewedAt: string }>> {
    const nodes = await this.pool.query<NodeRow & { url: string | null; renewed_at: Date; sessions: string }>(
      `SELECT n.holder, n.url, n.beat, n.ttl_ms, n.renewed_at, (SELECT count(*) FROM wa_vigil_leases l WHERE l.holder = n.holder) AS sessions
         FROM wa_vigil_nodes n ORDER BY n.holder`,
    );
    this.observeAll(nodes.rows);
    return nodes.rows
      .filter((n) => this.isAlive(n.holder))
      .map((n) => ({ holder: n.holder, url: n.url, sessions: Number(n.sessions), renewedAt: n.renewed_at.toISOString() }));
  }

  /** How long this node has seen `holder`'s counter unchanged (null: not watched, or this node). */
  silenceOf(holder: string): number | null {
    const seen = this.observed.get(holder);
    return seen ? this.now() - seen.since : null;
  }

  /** This node, and every lease it holds, is alive for one more TTL (and says where it listens). */
  private async heartbeat(): Promise<void> {
    const started = this.now();
    await this.renewPool.query(
      `INSERT INTO wa_vigil_nodes (holder, url, beat, ttl_ms, expires_at) VALUES ($1, $2, 1, $3::integer, now() + make_interval(secs => $3::integer / 1000.0))
       ON CONFLICT (holder) DO UPDATE SET url = EXCLUDED.url, beat = wa_vigil_nodes.beat + 1, ttl_ms = EXCLUDED.ttl_ms,
         renewed_at = now(), expires_at = EXCLUDED.expires_at`,
      [this.holder, this.url, this.ttlMs],
    );
    // Others start timing this beat only once they see it, which is after it was sent.
    this.beatAt = started;
  }

  /**
   * Others may judge this node dead once its counter stood still for a TTL; an
   * acquire must leave them no chance to, so it needs a beat well inside that.
   */
  private assertRecentBeat(): void {
    if (this.beatAt === null) throw new HolderNotAliveError(this.holder, 'it has not announced itself (start) or has stopped');
    const silentMs = this.now() - this.beatAt;
    if (silentMs >= this.ttlMs - this.renewTimeoutMs) {
      throw new HolderNotAliveError(this.holder, `its last heartbeat landed ${Math.round(silentMs)} ms ago, too close to the ${this.ttlMs} ms TTL`);
    }
  }

  private observe(row: NodeRow, at: number): void {
    const seen = this.observed.get(row.holder);
    if (!seen || seen.beat !== String(row.beat)) this.observed.set(row.holder, { beat: String(row.beat), since: at, ttlMs: row.ttl_ms });
  }

  /** A full read of the node rows: every row observed, and holders without a row forgotten. */
  private observeAll(rows: readonly NodeRow[]): void {
    const at = this.now();
    const present = new Set<string>();
    for (const row of rows) {
      present.add(row.holder);
      if (row.holder !== this.holder) this.observe(row, at);
    }
    for (const holder of this.observed.keys()) if (!present.has(holder)) this.observed.delete(holder);
  }

  /** The TTL after which `seen`'s holder is dead: its own when it declares one, never shorter than this node's. */
  private ttlOf(seen: Observation): number {
    return Math.max(this.ttlMs, seen.ttlMs ?? 0);
  }

  private isAlive(holder: string): boolean {
    if (holder === this.holder) return true;
    const seen = this.observed.get(holder);
    // Seen for the first time just now counts as a fresh beat: its silence is timed from here.
    return !seen || this.now() - seen.since < this.ttlOf(seen);
  }

  /** Holders whose counter this node has seen unchanged for their TTL, with the value it saw. */
  private deadHolders(): Array<{ holder: string; beat: string }> {
    const dead: Array<{ holder: string; beat: string }> = [];
    for (const [holder, seen] of this.observed) if (!this.isAlive(holder)) dead.push({ holder, beat: seen.beat });
    return dead;
  }

  /** Deletes the rows of nodes silent for pruneAfterTtls TTLs (as observed here), if they are still that silent. */
  private prune(): void {
    const now = this.now();
    for (const [holder, seen] of this.observed) {
      if (now - seen.since < pruneAfterTtls * this.ttlOf(seen)) continue;
      void this.pool
        .query('DELETE FROM wa_vigil_nodes WHERE holder = $1 AND beat = $2', [holder, seen.beat])
        .then((deleted) => {
          if (!deleted.rowCount) return;
          if (this.observed.get(holder) === seen) this.observed.delete(holder);
          this.logger?.info({ holder, silentMs: Math.round(now - seen.since) }, 'Removed the row of a node silent for ten lease TTLs');
        })
        .catch(() => undefined);
    }
  }

  /** The lease row's holder read without a lock; undefined when the session is gone. */
  private async currentHolder(key: SessionKey): Promise<string | null | undefined> {
    const current = await this.pool.query<{ holder: string | null }>('SELECT holder FROM wa_vigil_leases WHERE user_id = $1 AND session_id = $2', [
      key.userId,
      key.sessionId,
    ]);
    return current.rowCount === 0 ? undefined : (current.rows[0]!.holder ?? null);
  }
}
