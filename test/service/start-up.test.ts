/**
 * What an operator sees when the service starts, as a real process: the first
 * line in the configured format, "listening" once, a start-up failure as one
 * line naming its cause (exit 1), and a `.env` read from the folder it starts
 * in with the environment winning over it.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { removeDir } from '../support/service-harness.js';

const mainTs = resolve('src/main.ts');
// Absolute, so the service can start in a folder of its own (where its .env is).
const tsxLoader = import.meta.resolve('tsx');

interface Run {
  stdout: string[];
  stderr: string[];
  exited: Promise<number | null>;
  kill(): void;
}

function startMain(options: { cwd: string; env: Record<string, string> }): Run {
  const env: Record<string, string | undefined> = { ...process.env, LOG_LEVEL: 'info', ...options.env };
  for (const name of ['SESSIONS_DIR', 'DATABASE_URL', 'API_KEY', 'LOG_FORMAT', 'HOST']) if (!(name in options.env)) delete env[name];
  const child = spawn(process.execPath, ['--import', tsxLoader, mainTs], { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout: string[] = [];
  const stderr: string[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => stdout.push(line));
  createInterface({ input: child.stderr }).on('line', (line) => stderr.push(line));
  const exited = new Promise<number | null>((done) => child.once('close', (code) => done(code)));
  return { stdout, stderr, exited, kill: () => child.kill('SIGTERM') };
}

async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const isoTime = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
let dir: string;
let holder: Server;
let busyPort: number;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wa-vigil-start-'));
  holder = createServer().listen(0, '127.0.0.1');
  await once(holder, 'listening');
  busyPort = (holder.address() as { port: number }).port;
});
afterAll(async () => {
  holder.close();
  await removeDir(dir);
});

interface Line {
  level: number;
  time: string;
  msg: string;
  code?: string;
}

/** Every stdout line parsed as JSON (a line that is not fails the test), and the one at level ≥ error. */
function jsonLines(run: Run): { lines: Line[]; failure: Line } {
  const lines = run.stdout.map((line) => JSON.parse(line) as Line);
  const failures = lines.filter((line) => line.level >= 50);
  expect(failures).toHaveLength(1);
  return { lines, failure: failures[0]! };
}

it('a port already in use: one JSON line naming the port, the last one, nothing on stderr, exit 1', async () => {
  const run = startMain({ cwd: dir, env: { PORT: String(busyPort), LOG_FORMAT: 'json', SESSIONS_DIR: join(dir, 'busy') } });
  expect(await run.exited).toBe(1);
  expect(run.stderr).toEqual([]);
  const { lines, failure } = jsonLines(run);
  expect(lines[0]).toMatchObject({ level: 30, msg: 'wa-vigil starting' });
  expect(lines.every((line) => isoTime.test(line.time))).toBe(true);
  expect(lines.at(-1)).toBe(failure);
  expect(failure).toMatchObject({ level: 60, code: 'EADDRINUSE' });
  expect(failure.msg).toBe(`wa-vigil could not start: port ${busyPort} is already in use on 127.0.0.1 (set PORT to another one, or stop what holds it)`);
}, 60_000);

it('LOG_FORMAT=pretty: the first line is already pretty, like the failure after it', async () => {
  const run = startMain({ cwd: dir, env: { PORT: String(busyPort), LOG_FORMAT: 'pretty', SESSIONS_DIR: join(dir, 'busy') } });
  expect(await run.exited).toBe(1);
  expect(run.stdout[0]).toMatch(/^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] INFO: wa-vigil starting$/);
  expect(run.stdout.every((line) => /^\[\d{4}-\d\d-\d\dT[^\]]+Z\] [A-Z]+: /.test(line))).toBe(true);
  expect(run.stdout.at(-1)).toMatch(new RegExp(`^\\[[^\\]]+\\] FATAL: wa-vigil could not start: port ${busyPort} is already in use`));
}, 60_000);

it('a database that refuses: one line naming its host and port, never the password', async () => {
  const closed = createServer().listen(0, '127.0.0.1');
  await once(closed, 'listening');
  const port = (closed.address() as { port: number }).port;
  closed.close();
  const run = startMain({ cwd: dir, env: { PORT: '0', LOG_FORMAT: 'json', DATABASE_URL: `postgres://wa:s3cret-pw@127.0.0.1:${port}/wa` } });
  expect(await run.exited).toBe(1);
  const { failure } = jsonLines(run);
  expect(failure.code).toBe('ECONNREFUSED');
  expect(failure.msg).toBe(`wa-vigil could not start: the database at 127.0.0.1:${port} refused the connection (ECONNREFUSED): is PostgreSQL running there?`);
  expect([...run.stdout, ...run.stderr].join('\n')).not.toContain('s3cret-pw');
}, 60_000);

it('reads ./.env where it starts, the environment wins over it, and says "listening" once', async () => {
  const cwd = await mkdtemp(join(dir, 'dotenv-'));
  // PORT in the file would not even parse: only the environment's PORT=0 lets it start.
  await writeFile(join(cwd, '.env'), ['# from the file', 'PORT=99999', 'SESSIONS_DIR=./from-dotenv', 'LOG_FORMAT="json"', ''].join('\n'));
  const run = startMain({ cwd, env: { PORT: '0' } });
  try {
    await until(() => run.stdout.some((line) => line.includes('session(s) restored')), 45_000);
    const lines = run.stdout.map((line) => JSON.parse(line) as { msg: string; time: string; store?: string });
    expect(lines.every((line) => isoTime.test(line.time))).toBe(true);
    expect(lines.filter((line) => /listening/i.test(line.msg))).toHaveLength(1);
    expect(lines.find((line) => line.store)?.store).toBe(join(cwd, 'from-dotenv'));
  } finally {
    run.kill();
  }
  expect(await run.exited).toBe(0);
}, 60_000);
