/**
 * Vitest globalSetup: at most one embedded PostgreSQL server per vitest run,
 * started only when a test file first asks for it (most runs need none), and
 * stopped when the run ends.
 *
 * The starter lives in vitest's main process, so test files in parallel workers
 * share one server instead of racing to start their own: a worker asks the loopback
 * starter below (see postgres.ts), which starts the server once (in a child process:
 * see embedded-postgres-main.ts) and answers every caller with the same address.
 * With TEST_DATABASE_URL set nothing is started.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgresProcess, type EmbeddedServerProcess } from '../../fixtures/embedded-postgres-process.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** POST here for the embedded server's admin URL (starts it on first call). */
    postgresStarterUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let server: Promise<EmbeddedServerProcess> | null = null;
  const starter = createServer((request, response) => {
    if (request.method !== 'POST') {
      response.writeHead(405).end();
      return;
    }
    server ??= startEmbeddedPostgresProcess();
    server.then(
      ({ adminUrl }) => response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ adminUrl })),
      (error: Error) => response.writeHead(500, { 'content-type': 'text/plain' }).end(error.message),
    );
  });
  await new Promise<void>((resolve) => starter.listen(0, '127.0.0.1', resolve));
  project.provide('postgresStarterUrl', `http://127.0.0.1:${(starter.address() as AddressInfo).port}/`);

  return async () => {
    starter.close();
    if (server) await (await server.catch(() => null))?.stop();
  };
}
