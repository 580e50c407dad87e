/**
 * Before webhook subscriptions were the cluster's, each node kept its own in
 * its SESSIONS_DIR, with their cursors in the shared outbox under that folder's
 * scope: an id made once and kept beside them in `.outbox-scope`. A node on
 * this version reads it only to move those subscriptions and their cursors
 * into the cluster's set (src/webhooks/postgres/import-folder.ts); the cluster's
 * cursors all live under one scope, `cluster`.
 */
export const cursorScopeFileName = '.outbox-scope';
