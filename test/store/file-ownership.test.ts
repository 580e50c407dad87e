/**
 * Leases on files: exactly one winner, no pid test, takeover of a dead holder
 * within the TTL, and a lost lease refuses every later write.
 */
import { mkdir, readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { tempFileTag } from '../../src/store/files/atomic-file.js';
import { FileOwnership, holdersFolderName } from '../../src/store/files/file-ownership.js';
import { LeaseLostError, type Lease } from '../../src/store/ownership.js';
import { FileSessionStore } from '../../src/store/files/file-session-store.js';
import { removeDir, tempSessionsDir } from '../support/service-harness.js';

const key = { userId: 'ana', sessionId: 'main' };
let dir: string;

beforeEach(async () => {
  dir = await tempSessionsDir();
  await mkdir(join(dir, key.userId, key.sessionId), { recursive: true });
});
afterEach(() => removeDir(dir));

async function holder(name: string, ttlMs = 1_000): Promise<FileOwnership> {
  const ownership = new FileOwnership(dir, { holder: name, ttlMs });
  await ownership.start();
  return ownership;
}

/** Makes a holder look silent for `ms` (what a SIGKILL, SIGSTOP or a dead container looks like). */
async function silence(name: string, ms: number): Promise<void> {
  const past = new Date(Date.now() - ms);
  await utimes(join(dir, holdersFolderName, name), past, past);
}

function leaseOf(result: Awaited<ReturnType<FileOwnership['acquire']>>): Lease {
  if (!result.acquired) throw new Error('expected the lease');
  return result.lease;
}

it('of many holders acquiring one session at the same moment, exactly one wins and the others name it', async () => {
  const holders = await Promise.all(Array.from({ length: 8 }, (_, i) => holder(`h${i}`)));
  for (let round = 0; round < 20; round++) {
    const results = await Promise.all(holders.map((h) => h.acquire(key)));
    const winners = results.filter((r) => r.acquired);
    expect(winners).toHaveLength(1);
    const winner = leaseOf(winners[0]!).holder;
    for (const r of results) if (!r.acquired && 'owner' in r) expect(r.owner).toBe(winner);
    await holders.find((h) => h.holder === winner)!.release(leaseOf(winners[0]!));
  }
});

it('a live holder keeps its session; a silent one loses it after the TTL, whatever its pid', async () => {
  const a = await holder('a');
  const b = await holder('b');
  const lease = leaseOf(await a.acquire(key));
  expect(await b.acquire(key)).toEqual({ acquired: false, owner: 'a' });
  expect(await b.liveOwner(key)).toBe('a');

  await silence('a', 1_500);
  const taken = leaseOf(await b.acquire(key));
  expect(taken.epoch).toBeGreaterThan(lease.epoch);
  // The old holder learns it lost, on its next renew and on its next write.
  expect(await a.renew([lease])).toEqual([lease]);
  await expect(a.confirm(lease)).rejects.toBeInstanceOf(LeaseLostError);
  await expect(b.confirm(taken)).resolves.toBeUndefined();
});

it('a restarted process is a new holder, even with the same pid: it takes over once the old heartbeat is stale', async () => {
  const before = await holder(`host-1-aaaa`);
  leaseOf(await before.acquire(key));
  // The container restarts: pid 1 again, a new random holder id.
  const after = await holder(`host-1-bbbb`);
  expect(await after.acquire(key)).toEqual({ acquired: false, owner: 'host-1-aaaa' });
  await silence('host-1-aaaa', 1_500);
  expect((await after.acquire(key)).acquired).toBe(true);
});

it('a release lets another holder take the session at once, and epochs never repeat', async () => {
  const a = await holder('a');
  const b = await holder('b');
  const first = leaseOf(await a.acquire(key));
  await a.release(first);
  const second = leaseOf(await b.acquire(key));
  expect(second.epoch).toBeGreaterThan(first.epoch + 1);
  await expect(a.confirm(first)).rejects.toBeInstanceOf(LeaseLostError);
  // Only the current epoch's file is left.
  expect((await readdir(join(dir, key.userId, key.sessionId))).filter((f) => f.startsWith('lease.'))).toEqual([`lease.${second.epoch}`]);
});

it('a stopped holder is dead at once: its sessions are free without waiting for the TTL', async () => {
  const a = await holder('a', 60_000);
  const b = await holder('b', 60_000);
  leaseOf(await a.acquire(key));
  await a.stop();
  expect((await b.acquire(key)).acquired).toBe(true);
});

it('a lease is never seen half-written, and a session without a folder is gone', async () => {
  const a = await holder('a');
  const lease = leaseOf(await a.acquire(key));
  const text = await readFile(join(dir, key.userId, key.sessionId, `lease.${lease.epoch}`), 'utf8');
  expect(JSON.parse(text)).toMatchObject({ holder: 'a', epoch: lease.epoch });
  expect(await a.acquire({ userId: 'ana', sessionId: 'nothere' })).toEqual({ acquired: false, gone: true });
});

it('after losing its lease a process writes no credential and no metadata', async () => {
  const a = await holder('a');
  const b = await holder('b');
  const storeA = new FileSessionStore(dir, a);
  const lease = leaseOf(await a.acquire(key));
  const refused: unknown[] = [];
  const auth = await storeA.openAuthState(lease, (error) => refused.push(error));
  await auth.saveCreds();
  const folder = join(dir, key.userId, key.sessionId);
  const credsBefore = await readFile(join(folder, 'creds.json'), 'utf8');

  await silence('a', 1_500);
  leaseOf(await b.acquire(key));
  (auth.state.creds as { registrationId: number }).registrationId = 4242;
  await expect(auth.saveCreds()).rejects.toBeInstanceOf(LeaseLostError);
  await expect(auth.state.keys.set({ 'pre-key': { '1': { public: Buffer.alloc(32), private: Buffer.alloc(32) } } })).rejects.toBeInstanceOf(LeaseLostError);
  await expect(storeA.writeMeta(lease, { ...key, createdAt: 'x', shouldRun: false, terminatedReason: null })).rejects.toBeInstanceOf(LeaseLostError);
  expect(refused).toHaveLength(2);
  expect(await readFile(join(folder, 'creds.json'), 'utf8')).toBe(credsBefore);
  expect(await readdir(folder)).not.toContain('pre-key-1.json');
  expect(await readdir(folder)).not.toContain('session.json');
});

it('opening credentials keeps this process\'s writes in flight and sweeps only a dead writer\'s temp files', async () => {
  const a = await holder('a');
  const store = new FileSessionStore(dir, a);
  const folder = join(dir, key.userId, key.sessionId);
  const ours = `.pre-key-9.json.${tempFileTag}.0002.tmp`;
  await writeFile(join(folder, '.creds.json.deadbeef.0001.tmp'), 'half');
  await writeFile(join(folder, ours), 'in flight');
  const lease = leaseOf(await a.acquire(key));
  await store.openAuthState(lease);
  expect((await readdir(folder)).filter((f) => f.endsWith('.tmp'))).toEqual([ours]);
});
