/**
 * Ownership on PostgreSQL: one lease row per session (wa_vigil_leases: holder,
 * epoch) and one row per live node (wa_vigil_nodes: expires_at). A lease is live
 * while its holder's node row has not expired. Every time is the database's
 * `now()`, never a node's clock, so clock skew between machines cannot make two
 * nodes believe they own one session.
 *
 *   renew     one UPDATE of this node's own row keeps every lease it holds; a read
 *             of the lease rows then tells which were taken (lost). Renewing never
 *             waits for a session write, however many are in flight.
 *   acquire   UPDATE … SET holder = me, epoch = epoch + 1 WHERE the lease is free,
 *             mine, or its holder's node expired … RETURNING epoch. It waits for
 *             writes in flight under the old epoch (they lock the row FOR SHARE), so
 *             none can land after a takeover.
 *   release   holder = null, epoch + 1, then NOTIFY so other nodes look at once.
 *
 * Writes are fenced by the store itself: each write transaction first locks the
 * lease row with its holder and epoch — see fenced-transaction.ts.
 */
import type { Pool } from 'pg';
import { newHolderId } from '../files/file-ownership.js';
import { LeaseLostError, type AcquireResult, type Lease, type LiveHolder, type Ownership } from '../ownership.js';
import type { SessionKey } from '../session-key.js';

/** Default lease TTL on PostgreSQL: a node silent this long loses its sessions. */
export const defaultPgLeaseTtlMs = 15_000;
/** The channel a node NOTIFYs when it lets sessions go, so others take them at once. */
export const leaseChannel = 'wa_vigil_leases';

/** SQL: the lease's holder is a node whose row has not expired. */
const holderAlive = 'EXISTS (SELECT 1 FROM wa_vigil_nodes n WHERE n.holder = l.holder AND n.expires_at > now())';

export interface PgOwnershipOptions {
  pool: Pool;
  /** Default defaultPgLeaseTtlMs. */
  ttlMs?: number;
  /** Fixed holder id (tests, tools); default host-pid-random. */
  holder?: string;
}

export class PgOwnership implements Ownership {
  readonly holder: string;
  readonly ttlMs: number;
  private readonly pool: Pool;
  private url: string | null = null;

  constructor(options: PgOwnershipOptions) {
    this.pool = options.pool;
    this.holder = options.holder ?? newHolderId();
    this.ttlMs = options.ttlMs ?? defaultPgLeaseTtlMs;
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
    await this.pool.query('DELETE FROM wa_vigil_nodes WHERE holder = $1', [this.holder]);
    await this.pool.query(`SELECT pg_notify('${leaseChannel}', $1)`, [this.holder]);
  }

  async acquire(key: SessionKey): Promise<AcquireResult> {
    const taken = await this.pool.query<{ epoch: string }>(
      `UPDATE wa_vigil_leases AS l SET holder = $3, epoch = epoch + 1
        WHERE l.user_id = $1 AND l.session_id = $2 AND (l.holder IS NULL OR l.holder = $3 OR NOT ${holderAlive})
        RETURNING l.epoch`,
      [key.userId, key.sessionId, this.holder],
    );
    const row = taken.rows[0];
    if (row) return { acquired: true, lease: { key: { userId: key.userId, sessionId: key.sessionId }, holder: this.holder, epoch: Number(row.epoch) } };
    const current = await this.pool.query<{ holder: string | null }>('SELECT holder FROM wa_vigil_leases WHERE user_id = $1 AND session_id = $2', [
      key.userId,
      key.sessionId,
    ]);
    if (current.rowCount === 0) return { acquired: false, gone: true };
    return { acquired: false, owner: current.rows[0]!.holder ?? 'another node' };
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

  async renew(leases: readonly Lease[]): Promise<Lease[]> {
    await this.heartbeat();
    if (leases.length === 0) return [];
    const mine = await this.pool.query<{ user_id: string; session_id: string; epoch: string }>(
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
    const owners = await this.pool.query<{ user_id: string; session_id: string; holder: string }>(
      `SELECT l.user_id, l.session_id, l.holder
         FROM wa_vigil_leases l JOIN unnest($1::text[], $2::text[]) AS k(user_id, session_id) USING (user_id, session_id)
        WHERE l.holder IS NOT NULL AND ${holderAlive}`,
      [keys.map((k) => k.userId), keys.map((k) => k.sessionId)],
    );
    const byKey = new Map(owners.rows.map((r) => [`${r.user_id}/${r.session_id}`, r.holder]));
    return keys.map((k) => byKey.get(`${k.userId}/${k.sessionId}`) ?? null);
  }

  async liveHolders(): Promise<LiveHolder[]> {
    const nodes = await this.pool.query<{ holder: string; url: string | null }>('SELECT holder, url FROM wa_vigil_nodes WHERE expires_at > now() ORDER BY holder');
    return nodes.rows.map((n) => ({ holder: n.holder, url: n.url }));
  }

  /** Live nodes with how many sessions each owns now (GET /cluster). */
  async members(): Promise<Array<LiveHolder & { sessions: number; renewedAt: string }>> {
    const nodes = await this.pool.query<{ holder: string; url: string | null; renewed_at: Date; sessions: string }>(
      `SELECT n.holder, n.url, n.renewed_at, (SELECT count(*) FROM wa_vigil_leases l WHERE l.holder = n.holder) AS sessions
         FROM wa_vigil_nodes n WHERE n.expires_at > now() ORDER BY n.holder`,
    );
    return nodes.rows.map((n) => ({ holder: n.holder, url: n.url, sessions: Number(n.sessions), renewedAt: n.renewed_at.toISOString() }));
  }

  /** This node, and every lease it holds, is alive for one more TTL (and says where it listens). */
  private async heartbeat(): Promise<void> {
    await this.pool.query(
      `INSERT INTO wa_vigil_nodes (holder, url, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3::double precision / 1000))
       ON CONFLICT (holder) DO UPDATE SET url = EXCLUDED.url, renewed_at = now(), expires_at = EXCLUDED.expires_at`,
      [this.holder, this.url, this.ttlMs],
    );
  }
}
