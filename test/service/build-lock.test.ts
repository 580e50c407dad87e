/**
 * The build lock (scripts/build-lock.mjs): a second build of one folder waits
 * while the first one's process lives, and takes over a lock whose owner died
 * (a build killed half-way must not block every later start).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';

const lockModule = resolve('scripts/build-lock.mjs');
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wa-vigil-lock-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A process that takes the lock, prints "waiting" if it has to, then "held", and releases it. */
function taker(lockDir: string) {
  const code = `
    const { acquireLock } = await import(${JSON.stringify(lockModule)});
    const release = acquireLock(${JSON.stringify(lockDir)}, { pollMs: 20, onWait: () => console.log('waiting') });
    console.log('held');
    release();`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.once('close', (c) => done(c)));
  return { output: () => output, exited };
}

async function holdWith(lockDir: string, owner: ChildProcess | number): Promise<void> {
  await mkdir(lockDir, { recursive: true });
  await writeFile(join(lockDir, 'pid'), String(typeof owner === 'number' ? owner : owner.pid));
}

it('waits while the holder lives, and gets the lock once the holder is gone', async () => {
  const lockDir = join(dir, 'live', '.build-lock');
  const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
  await holdWith(lockDir, holder);
  const second = taker(lockDir);
  const deadline = Date.now() + 20_000;
  while (!second.output().includes('waiting') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(second.output()).toBe('waiting\n');
  holder.kill('SIGKILL');
  expect(await second.exited).toBe(0);
  expect(second.output()).toBe('waiting\nheld\n');
}, 30_000);

it('a lock left by a process that no longer exists is taken over at once', async () => {
  const lockDir = join(dir, 'stale', '.build-lock');
  const gone = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((r) => gone.once('close', r));
  await holdWith(lockDir, gone.pid!);
  const next = taker(lockDir);
  expect(await next.exited).toBe(0);
  expect(next.output()).toBe('held\n');
}, 30_000);
