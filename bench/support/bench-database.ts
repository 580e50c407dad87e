/**
 * A throw-away database for a benchmark: BENCH_DATABASE_URL, else TEST_DATABASE_URL, else an
 * embedded PostgreSQL (fsync on, as a real server would run) — migrated, described (version,
 * fsync) for the report, and dropped afterwards.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrate } from '../../src/store/postgres/migrate.js';
import { redactDatabaseUrl } from '../../src/store/postgres/database-url.js';
import { startEmbeddedPostgresProcess, type EmbeddedServerProcess } from '../../fixtures/embedded-postgres-process.js';

export interface BenchDatabase {
  url: string;
  pool: pg.Pool;
  /** "postgres://…/ (PostgreSQL 15.8, fsync on)" for the report. */
  description: string;
  drop(): Promise<void>;
}

export async function benchDatabase(options: { poolSize: number; name: string }): Promise<BenchDatabase> {
  let embedded: EmbeddedServerProcess | null = null;
  let adminUrl = process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL;
  if (!adminUrl) {
    embedded = await startEmbeddedPostgresProcess({ fsync: true });
    adminUrl = embedded.adminUrl;
  }
  const dbName = `wa_vigil_${options.name}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const url = new URL(adminUrl);
  url.pathname = `/${dbName}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: options.poolSize });
  pool.on('error', () => undefined);
  await migrate(pool);
  const serverVersion = (await pool.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version;
  const fsync = (await pool.query<{ fsync: string }>('SHOW fsync')).rows[0]!.fsync;
  return {
    url: url.toString(),
    pool,
    description: `${redactDatabaseUrl(adminUrl)} (PostgreSQL ${serverVersion}, fsync ${fsync}${embedded ? ', embedded' : ''})`,
    async drop() {
      await pool.end();
      await admin.query(`DROP DATABASE ${dbName} WITH (FORCE)`);
      await admin.end();
      await embedded?.stop();
    },
  };
}
