/**
 * A database address for people: logs, the service's `location`, the CLI's
 * output. The password never appears, whatever form the address came in.
 */
import type { Pool } from 'pg';

/** The URL with its password removed (`postgres://app@db:5432/wa`); an unparsable one is not echoed at all. */
export function redactDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = '';
    return parsed.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

/** Where a pool connects, without the password. */
export function describePool(pool: Pool): string {
  const options = pool.options;
  if (options.connectionString) return redactDatabaseUrl(options.connectionString);
  const user = options.user ?? process.env.PGUSER ?? '';
  const host = options.host ?? process.env.PGHOST ?? 'localhost';
  const port = options.port ?? process.env.PGPORT ?? 5432;
  const database = options.database ?? process.env.PGDATABASE ?? '';
  return `postgres://${user ? `${user}@` : ''}${host}:${port}/${database}`;
}

/** Whether a command-line argument names a database rather than a folder. */
export function isDatabaseUrl(text: string): boolean {
  return /^postgres(ql)?:\/\//i.test(text);
}
