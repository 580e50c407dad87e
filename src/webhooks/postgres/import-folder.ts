/**
 * Upgrading a cluster from per-node subscriptions: before this version each
 * node kept its own in `sessions/.webhooks/`, with cursors in the outbox table
 * under its folder's scope (`sessions/.outbox-scope`). At its first start on
 * this version a node moves them into the cluster's set: each subscription not
 * already there is created with the cursor it had (so it goes on from where it
 * was, now with every node's events after it), the folder's cursors are
 * deleted (prune no longer waits for them), and the folder is renamed
 * `.webhooks.imported` (`-<ms>` after it when that exists) so it is neither read again nor able to bring back a
 * subscription deleted since. Nodes sharing a folder import it once.
 */
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import type { Logger } from '../../logging/logger.js';
import { cursorScopeFileName } from '../../outbox/postgres/cursor-scope.js';
import { readFileIfExists } from '../../store/files/atomic-file.js';
import { folderFiles, subscriptionsFolderName } from '../subscriptions.js';
import { clusterCursorScope } from './pg-subscriptions.js';

export const importedFolderName = `${subscriptionsFolderName}.imported`;

/** Returns the ids imported now. */
export async function importFolderSubscriptions(pool: pg.Pool, sessionsDir: string, logger: Logger): Promise<string[]> {
  const { entries } = await folderFiles(sessionsDir).readAll();
  const scope = (await readFileIfExists(join(sessionsDir, cursorScopeFileName)))?.trim() ?? null;
  const imported: string[] = [];
  for (const { id, text } of entries) {
    let parsed: { id?: unknown; url?: unknown; secret?: unknown };
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      logger.error({ subscription: id }, 'Webhook subscription file unreadable; not imported into the cluster (it stays in .webhooks.imported)');
      continue;
    }
    if (parsed.id !== id || typeof parsed.url !== 'string' || typeof parsed.secret !== 'string') continue;
    // The row, a free lease, and the cursor it had under the folder's scope (else after the newest event).
    const { rowCount } = await pool.query(
      `WITH made AS (
         INSERT INTO wa_vigil_webhooks (id, body) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING RETURNING id
       ), lease AS (
         INSERT INTO wa_vigil_webhook_leases (subscription_id) SELECT id FROM made ON CONFLICT DO NOTHING
       )
       INSERT INTO wa_vigil_event_cursors (scope, subscription_id, cursor)
       SELECT $3, id, coalesce(
         (SELECT cursor FROM wa_vigil_event_cursors WHERE scope = $4 AND subscription_id = $1),
         (SELECT max(seq) FROM wa_vigil_events))
       FROM made
       ON CONFLICT (scope, subscription_id) DO NOTHING`,
      [id, text, clusterCursorScope, scope],
    );
    if (rowCount === 1) imported.push(id);
  }
  if (scope !== null) await pool.query('DELETE FROM wa_vigil_event_cursors WHERE scope = $1', [scope]);
  if (entries.length > 0) {
    const from = join(sessionsDir, subscriptionsFolderName);
    for (const to of [importedFolderName, `${importedFolderName}-${Date.now()}`]) {
      try {
        await rename(from, join(sessionsDir, to));
        break;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        // Another node on this folder renamed it first: done.
        if (code === 'ENOENT') break;
        // A copy of an earlier import is there: the next name.
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
      }
    }
    logger.info({ imported: imported.length, found: entries.length }, "Webhook subscriptions of this node's folder moved into the cluster's (the folder is kept as .webhooks.imported)");
  }
  return imported;
}
