/**
 * A fresh, empty database per test file: `CREATE DATABASE wa_vigil_test_<random>`,
 * dropped by `drop()`. On the server at TEST_DATABASE_URL when set (CI, and this
 * project's machines: postgres://postgres@127.0.0.1:5432/test), else on the one
 * embedded server of this vitest run (see postgres-global-setup.ts).
 *
 *   let db: TestDatabase;
 *   beforeAll(async () => (db = await testDatabase()));
 *   afterAll(() => db.drop());
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { migrate } from '../../src/store/postgres/migrate.js';

export interface TestDatabase {
  /** Connection URL of the new database (hand it to child processes). */
  readonly url: string;
  /** A pool on it, closed by drop(). */
  readonly pool: pg.Pool;
  /** Closes the pool and drops the database, even if connections are still open. */
  drop(): Promise<void>;
}

export interface TestDatabaseOptions {
  /** Apply src/store/postgres/migrations first (default true). */
  migrate?: boolean;
}

export async function testDatabase(options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const adminUrl = process.env.TEST_DATABASE_URL || (await embeddedAdminUrl());
  const name = `wa_vigil_test_${randomBytes(6).toString('hex')}`;
  await withAdmin(adminUrl, (admin) => admin.query(`CREATE DATABASE ${name}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 10 });
  // An idle connection's error (a server restart) must not crash the test process.
  pool.on('error', () => undefined);
  if (options.migrate !== false) await migrate(pool);
  let dropped = false;
  return {
    url: url.toString(),
    pool,
    drop: async () => {
      if (dropped) return;
      dropped = true;
      await pool.end();
      await withAdmin(adminUrl, (admin) => admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

async function embeddedAdminUrl(): Promise<string> {
  const starter = inject('postgresStarterUrl');
  if (!starter) throw new Error('no PostgreSQL: set TEST_DATABASE_URL, or run under vitest.config.ts (its globalSetup starts one)');
  const response = await fetch(starter, { method: 'POST' });
  if (!response.ok) throw new Error(`embedded PostgreSQL: ${await response.text()}`);
  return ((await response.json()) as { adminUrl: string }).adminUrl;
}

async function withAdmin<T>(adminUrl: string, task: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await task(client);
  } finally {
    await client.end();
  }
}
