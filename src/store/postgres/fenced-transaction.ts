/**
 * The fence in front of every write: one transaction that first proves the
 * lease, then writes. The lease row is read FOR SHARE, so a takeover (which
 * updates that row, bumping the epoch) waits for a write in flight to commit,
 * and every write after the takeover finds no row for its epoch and is refused.
 * A node that lost a session can therefore never write into it again — not
 * even "just after" the takeover, which files cannot promise.
 */
import type { Pool, PoolClient } from 'pg';
import { LeaseLostError, type Lease } from '../ownership.js';

const fenceSql = `SELECT 1 FROM wa_vigil_leases
  WHERE user_id = $1 AND session_id = $2 AND holder = $3 AND epoch = $4
  FOR SHARE`;

/** Runs `work` in a transaction that holds `lease`; throws LeaseLostError (nothing written) when it is not the current lease. */
export async function fencedTransaction<T>(pool: Pool, lease: Lease, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    try {
      await client.query('BEGIN');
      const fence = await client.query(fenceSql, [lease.key.userId, lease.key.sessionId, lease.holder, lease.epoch]);
      if (fence.rowCount === 0) throw new LeaseLostError(lease);
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      // A connection that cannot even roll back is dropped, not given back to the pool.
      await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
      throw error;
    }
  } finally {
    client.release(broken);
  }
}
