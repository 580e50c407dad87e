/**
 * Schema migrations: the numbered SQL files in migrations/ (`001_sessions.sql`…),
 * applied in order, each once, recorded in `wa_vigil_migrations`.
 *
 * All of it runs in one transaction under an advisory lock, so nodes booting
 * together against one database take turns: the first applies, the others wait
 * and then find nothing left to do. A file that fails rolls everything back.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Pool, QueryConfig } from 'pg';

/** Any constant shared by every wa-vigil node; "wavigil" in ASCII, so it is recognisable in pg_locks. */
export const migrationLockId = 0x77617669676c;

/** Client-side bound of a migration step (the pool's own query timeout is for ownership work, well under a TTL). */
export const migrationQueryTimeoutMs = 10 * 60_000;

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const fileNamePattern = /^(\d{3})_[a-z0-9_]+\.sql$/;

/**
 * tsc does not copy .sql files: from dist/ the folder is read in the sources,
 * the same way the inspector finds its public/ folder.
 */
export function migrationsFolder(): string {
  const beside = fileURLToPath(new URL('./migrations/', import.meta.url));
  return existsSync(beside) ? beside : fileURLToPath(new URL('../../../../src/store/postgres/migrations/', import.meta.url));
}

/** The migrations in `folder`, in version order; a malformed name or a repeated number is an error. */
export async function readMigrations(folder = migrationsFolder()): Promise<Migration[]> {
  const migrations: Migration[] = [];
  for (const name of (await readdir(folder)).sort()) {
    if (!name.endsWith('.sql')) continue;
    const match = fileNamePattern.exec(name);
    if (!match) throw new Error(`migration ${name}: the name must be NNN_words.sql`);
    const version = Number(match[1]);
    if (migrations.some((m) => m.version === version)) throw new Error(`migration ${name}: version ${version} is used twice`);
    migrations.push({ version, name, sql: await readFile(join(folder, name), 'utf8') });
  }
  return migrations;
}

/** Applies every migration the database has not seen; returns the names applied now. */
export async function migrate(pool: Pool, migrations?: Migration[]): Promise<string[]> {
  const pending = migrations ?? (await readMigrations());
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    // Not bounded like the node's other statements: nodes booting together wait here for the
    // first one's migration, and a migration of a large table may take long. It runs once, at boot.
    await client.query('SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 0');
    await client.query({ text: 'SELECT pg_advisory_xact_lock($1)', values: [migrationLockId], query_timeout: migrationQueryTimeoutMs } as QueryConfig);
    await client.query(`CREATE TABLE IF NOT EXISTS wa_vigil_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await client.query<{ version: number }>('SELECT version FROM wa_vigil_migrations');
    const done = new Set(rows.map((r) => r.version));
    const applied: string[] = [];
    for (const migration of pending) {
      if (done.has(migration.version)) continue;
      // No parameters: the simple query protocol, so one file may hold several statements.
      await client.query({ text: migration.sql, query_timeout: migrationQueryTimeoutMs } as QueryConfig);
      await client.query('INSERT INTO wa_vigil_migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
      applied.push(migration.name);
    }
    await client.query('COMMIT');
    return applied;
  } catch (error) {
    // A connection that cannot even roll back is not given back to the pool.
    await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
    throw error;
  } finally {
    client.release(broken);
  }
}
