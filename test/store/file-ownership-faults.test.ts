/**
 * A read-only or full file system under the leases: renewing the heartbeat fails, and
 * that is a storage fault, not a reason to stop sessions — nobody on this file system
 * can create a lease either. The fault is injected into node:fs/promises for paths under
 * the test's folder (a real remount needs root).
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { createLogger } from '../../src/logging/logger.js';
import { FileOwnership } from '../../src/store/files/file-ownership.js';
import type { Lease } from '../../src/store/ownership.js';
import { LogCapture, removeDir, tempSessionsDir } from '../support/service-harness.js';

const fault = vi.hoisted(() => ({ code: null as string | null, under: '', touchWorks: false }));

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const failing = (path: unknown) => fault.code !== null && fault.under !== '' && String(path).startsWith(fault.under);
  const refuse = () => Object.assign(new Error(`${fault.code}: injected`), { code: fault.code });
  const guard =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>, isWrite: (...args: A) => boolean = () => true) =>
    (...args: A): Promise<R> =>
      failing(args[0]) && isWrite(...args) ? Promise.reject(refuse()) : fn(...args);
  const writes = (flags: unknown) => typeof flags === 'string' && /[wax+]/.test(flags);
  return {
    ...real,
    writeFile: guard(real.writeFile),
    rename: guard(real.rename),
    link: guard(real.link),
    open: guard(real.open, (_path: unknown, flags?: unknown) => writes(flags)),
    // A full disk still takes a metadata change; a read-only one takes nothing.
    utimes: (...args: Parameters<typeof real.utimes>) => (failing(args[0]) && !fault.touchWorks ? Promise.reject(refuse()) : real.utimes(...args)),
  };
});

const key = { userId: 'ana', sessionId: 'main' };
let dir: string;

beforeEach(async () => {
  dir = await tempSessionsDir();
  await mkdir(join(dir, key.userId, key.sessionId), { recursive: true });
});
afterEach(async () => {
  fault.code = null;
  await removeDir(dir);
});

class ManualClock {
  ms = 0;
  readonly now = () => this.ms;
}

async function setUp() {
  const logs = new LogCapture();
  const clock = new ManualClock();
  const a = new FileOwnership(dir, { holder: 'a', ttlMs: 1_000, clock: clock.now, logger: createLogger({ level: 'debug', destination: logs }) });
  const b = new FileOwnership(dir, { holder: 'b', ttlMs: 1_000, clock: clock.now });
  await a.start();
  await b.start();
  const acquired = await a.acquire(key);
  if (!acquired.acquired) throw new Error('expected the lease');
  fault.under = dir;
  return { logs, clock, a, b, lease: acquired.lease };
}

/** Both processes tick every 250 ms for `ms`, as placement does. */
async function tick(clock: ManualClock, a: FileOwnership, b: FileOwnership, lease: Lease, ms: number): Promise<void> {
  for (let elapsed = 0; elapsed < ms; elapsed += 250) {
    clock.ms += 250;
    expect(await a.renew([lease])).toEqual([]);
    await b.renew([]);
    await b.watched();
    expect(await b.liveOwner(key)).toBe('a');
  }
}

it('EROFS while renewing keeps the sessions, says so once, and nobody takes over during the fault or after it', async () => {
  const { logs, clock, a, b, lease } = await setUp();
  fault.code = 'EROFS';
  // Four TTLs read-only: renew succeeds for what it can prove (the leases), and reports the fault.
  await tick(clock, a, b, lease, 4_000);
  expect(a.storageFault).toBe('EROFS');
  await expect(b.acquire(key)).resolves.toEqual({ acquired: false, owner: 'a' });
  expect(logs.lines.filter((line) => line.includes('Heartbeat cannot be written'))).toHaveLength(1);

  // Remounted read-write: b must not call `a` dead on the silence it timed during the fault.
  fault.code = null;
  expect(await b.acquire(key)).toEqual({ acquired: false, owner: 'a' });
  await tick(clock, a, b, lease, 2_000);
  expect(a.storageFault).toBeNull();
  expect(logs.text).toContain('the storage fault is over');
  await expect(a.confirm(lease)).resolves.toBeUndefined();
});

it('ENOSPC: the heartbeat keeps moving (an mtime needs no block), and one that must be made anew is a storage fault, not a lost lease', async () => {
  const { clock, a, b, lease } = await setUp();
  fault.code = 'ENOSPC';
  fault.touchWorks = true;
  await tick(clock, a, b, lease, 4_000);
  expect(a.storageFault).toBeNull();
  await expect(b.acquire(key)).resolves.toEqual({ acquired: false, owner: 'a' });
  // Its heartbeat swept while it was paused: writing it anew needs a block.
  await rm(join(dir, '.holders', 'a'));
  expect(await a.renew([lease])).toEqual([]);
  expect(a.storageFault).toBe('ENOSPC');
  await expect(a.confirm(lease)).resolves.toBeUndefined();
});

it('a storage fault is no cover for a lost lease: renew still reports a session another holder took', async () => {
  const { clock, a, b, lease } = await setUp();
  // b takes the session over after watching `a` silent (a writes nothing), before the disk goes read-only.
  await b.renew([]);
  await b.watched();
  clock.ms += 1_000;
  await b.renew([]);
  await b.watched();
  expect((await b.acquire(key)).acquired).toBe(true);
  fault.code = 'EROFS';
  expect(await a.renew([lease])).toEqual([lease]);
});
