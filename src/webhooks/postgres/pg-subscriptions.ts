/**
 * Webhook subscriptions in PostgreSQL: one set for the cluster
 * (`wa_vigil_webhooks`, migration 006), behind the same SubscriptionFiles
 * interface as the folder, so SubscriptionStore works unchanged on either.
 *
 * A subscription is created in one statement with its delivery lease (free)
 * and its cursor, placed after the newest event committed then: it receives
 * what happens from then on, whichever node delivers it. `write` updates an
 * existing row only (a node that still has in memory a subscription another
 * node deleted cannot bring it back by pausing it); `remove` deletes the row,
 * its lease (cascade) and its cursor together.
 *
 * Cursors stay in the outbox's table (`wa_vigil_event_cursors`, so prune and
 * OUTBOX_MAX_BYTES count them like any other) under one scope for the whole
 * cluster, `cluster`, keyed by subscription id; only the delivery lease's
 * holder writes them (delivery-leases.ts).
 */
import type pg from 'pg';
import type { SubscriptionFiles } from '../subscriptions.js';

/** The outbox cursor scope of the cluster's subscriptions (a folder's scope is 32 hex digits: never this). */
export const clusterCursorScope = 'cluster';

export function pgSubscriptionFiles(pool: pg.Pool): Required<SubscriptionFiles> {
  return {
    async readAll() {
      const { rows } = await pool.query<{ id: string; body: string }>('SELECT id, body FROM wa_vigil_webhooks ORDER BY created_at, id');
      return { entries: rows.map((row) => ({ id: row.id, text: row.body })), legacy: null };
    },
    async create(id, text) {
      // Appends commit in seq order (pg-outbox.ts), so max(seq) in this statement's snapshot is a clean cut:
      // every event after it commits later and is delivered.
      await pool.query(
        `WITH made AS (
           INSERT INTO wa_vigil_webhooks (id, body) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING RETURNING id
         ), lease AS (
           INSERT INTO wa_vigil_webhook_leases (subscription_id) SELECT id FROM made ON CONFLICT DO NOTHING
         )
         INSERT INTO wa_vigil_event_cursors (scope, subscription_id, cursor)
         SELECT $3, id, (SELECT max(seq) FROM wa_vigil_events) FROM made
         ON CONFLICT (scope, subscription_id) DO NOTHING`,
        [id, text, clusterCursorScope],
      );
    },
    async write(id, text) {
      await pool.query('UPDATE wa_vigil_webhooks SET body = $2 WHERE id = $1', [id, text]);
    },
    async remove(id) {
      // Two statements, not one: the first waits for a fenced cursor write in flight (it holds the lease row),
      // and only a statement started after that write committed sees the cursor row it made. In one statement
      // that row outlived the subscription, and prune would wait for it for ever.
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query('DELETE FROM wa_vigil_webhooks WHERE id = $1', [id]);
        await client.query('DELETE FROM wa_vigil_event_cursors WHERE scope = $2 AND subscription_id = $1', [id, clusterCursorScope]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },
    async dropLegacy() {},
  };
}
