/**
 * The one line a failed start logs, for the errors Node and pg really raise:
 * the cause named, what to change said, the database URL's password never shown.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { expect, it } from 'vitest';
import { describeStartFailure, type StartTarget } from '../../src/service/start-failure.js';
import { FileOwnership } from '../../src/store/files/file-ownership.js';

const target: StartTarget = { host: '127.0.0.1', port: 3000, sessionsDir: './sessions', databaseUrl: null };

async function rejection(work: () => Promise<unknown>): Promise<unknown> {
  try {
    await work();
  } catch (error) {
    return error;
  }
  throw new Error('did not fail');
}

it('a port in use, from a real listen', async () => {
  const first = createServer().listen(0, '127.0.0.1');
  await once(first, 'listening');
  const port = (first.address() as { port: number }).port;
  const second = createServer();
  const error = await rejection(() => new Promise((resolve, reject) => second.once('error', reject).listen(port, '127.0.0.1', () => resolve(null))));
  first.close();
  expect(describeStartFailure(error, { ...target, port })).toEqual({
    code: 'EADDRINUSE',
    message: `port ${port} is already in use on 127.0.0.1 (set PORT to another one, or stop what holds it)`,
  });
});

it('a database that refuses, from a real pg connection: host and port named, password not', async () => {
  const closed = createServer().listen(0, '127.0.0.1');
  await once(closed, 'listening');
  const port = (closed.address() as { port: number }).port;
  closed.close();
  const databaseUrl = `postgres://wa:s3cret-pw@127.0.0.1:${port}/wa`;
  const client = new pg.Client({ connectionString: databaseUrl });
  const failure = describeStartFailure(await rejection(() => client.connect()), { ...target, databaseUrl });
  expect(failure).toEqual({ code: 'ECONNREFUSED', message: `the database at 127.0.0.1:${port} refused the connection (ECONNREFUSED): is PostgreSQL running there?` });
});

it("PostgreSQL's own refusal (bad password, no such database) keeps its one-line reason", () => {
  const error = Object.assign(new Error('password authentication failed for user "wa"'), { code: '28P01' });
  expect(describeStartFailure(error, { ...target, databaseUrl: 'postgres://wa:s3cret-pw@db.internal/wa' })).toEqual({
    code: '28P01',
    message: 'the database at db.internal:5432 refused: password authentication failed for user "wa"',
  });
});

it('a sessions folder the service cannot use names the path', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'wa-vigil-failure-'));
  try {
    // A file where the store needs a folder: the same error path an unreadable folder takes (root reads anything).
    const sessionsDir = join(dir, 'sessions');
    await writeFile(sessionsDir, 'not a folder');
    const ownership = new FileOwnership(sessionsDir, { ttlMs: 10_000 });
    const error = await rejection(() => ownership.start());
    await ownership.stop().catch(() => undefined);
    const failure = describeStartFailure(error, { ...target, sessionsDir });
    expect(failure.code).toBe('ENOTDIR');
    expect(failure.message.startsWith(`the sessions folder cannot be used: ${sessionsDir}/`)).toBe(true);
    expect(failure.message.endsWith(`: ENOTDIR (SESSIONS_DIR is ${sessionsDir})`)).toBe(true);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

it('anything else: its message, first line only', () => {
  expect(describeStartFailure(new Error('first line\n    at somewhere'), target)).toEqual({ code: null, message: 'first line' });
});
