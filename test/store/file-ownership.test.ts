/**
 * Leases on files: exactly one winner, no pid test, takeover of a dead holder
 * within the TTL as the observer times it, and a lost lease refuses every later write.
 */
import { link, mkdir, readdir, readFile, symlink, utimes, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { createLogger } from '../../src/logging/logger.js';
import { tempFileTag } from '../../src/store/files/atomic-file.js';
import { FileOwnership, holdersFolderName, LeaseUnreadableError, type FileOwnershipOptions } from '../../src/store/files/file-ownership.js';
import { heartbeatTempName, leaseTempName, removedFolderName } from '../../src/store/files/leftovers.js';
import { LeaseLostError, type Lease } from '../../src/store/ownership.js';
import { FileSessionStore } from '../../src/store/files/file-session-store.js';
import { LogCapture, removeDir, tempSessionsDir } from '../support/service-harness.js';

const key = { userId: 'ana', sessionId: 'main' };
let dir: string;

beforeEach(async () => {
  dir = await tempSessionsDir();
  await mkdir(join(dir, key.userId, key.sessionId), { recursive: true });
});
afterEach(() => removeDir(dir));

/** A monotonic clock the test moves by hand (each holder may have its own). */
class ManualClock {
  ms = 0;
  readonly now = () => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

async function holder(name: string, ttlMs = 1_000, options: FileOwnershipOptions = {}): Promise<FileOwnership> {
  const ownership = new FileOwnership(dir, { holder: name, ttlMs, ...options });
  await ownership.start();
  return ownership;
}

/**
 * `observer` watches `silent` (which writes nothing more: SIGKILLed, SIGSTOPped, a dead container)
 * for one TTL on the observer's clock, renewing as placement would.
 */
async function watchSilence(observer: FileOwnership, clock: ManualClock, ttlMs = 1_000): Promise<void> {
  await observer.renew([]);
  await observer.watched();
  clock.advance(ttlMs);
  await observer.renew([]);
  await observer.watched();
}

function leaseOf(result: Awaited<ReturnType<FileOwnership['acquire']>>): Lease {
  if (!result.acquired) throw new Error('expected the lease');
  return result.lease;
}

it('of many holders acquiring one session at the same moment, exactly one wins and the others name it', async () => {
  // Nobody renews here: a TTL longer than the test keeps every contender alive throughout.
  const holders = await Promise.all(Array.from({ length: 8 }, (_, i) => holder(`h${i}`, 60_000)));
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
  const clock = new ManualClock();
  const a = await holder('a');
  const b = await holder('b', 1_000, { clock: clock.now });
  const lease = leaseOf(await a.acquire(key));
  expect(await b.acquire(key)).toEqual({ acquired: false, owner: 'a' });
  expect(await b.liveOwner(key)).toBe('a');

  await watchSilence(b, clock);
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
  // The container restarts: pid 1 again, a new random holder id, and no history of the old one.
  const clock = new ManualClock();
  const after = await holder(`host-1-bbbb`, 1_000, { clock: clock.now });
  expect(await after.acquire(key)).toEqual({ acquired: false, owner: 'host-1-aaaa' });
  clock.advance(999);
  expect(await after.acquire(key)).toEqual({ acquired: false, owner: 'host-1-aaaa' });
  clock.advance(1);
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
  const clock = new ManualClock();
  const a = await holder('a');
  const b = await holder('b', 1_000, { clock: clock.now });
  const storeA = new FileSessionStore(dir, a);
  const lease = leaseOf(await a.acquire(key));
  const refused: unknown[] = [];
  const auth = await storeA.openAuthState(lease, (error) => refused.push(error));
  await auth.saveCreds();
  const folder = join(dir, key.userId, key.sessionId);
  const credsBefore = await readFile(join(folder, 'creds.json'), 'utf8');

  await watchSilence(b, clock);
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

it('a claim delayed before its link() never revives a deleted epoch: exactly one owner, and the late claim passes neither confirm nor renew', async () => {
  const folder = join(dir, key.userId, key.sessionId);
  // The first owner of lease.1 is dead (it stopped; its heartbeat is gone).
  const first = await holder('first', 60_000);
  leaseOf(await first.acquire(key));
  await first.stop();

  // A reads lease.1, finds its owner dead, and is paused just before link().
  let atLink!: () => void;
  let resume!: () => void;
  const reachedLink = new Promise<void>((done) => (atLink = done));
  const paused = new Promise<void>((done) => (resume = done));
  let links = 0;
  const a = await holder('A', 60_000, {
    link: async (from, to) => {
      if (links++ === 0) {
        atLink();
        await paused;
      }
      await link(from, to);
    },
  });
  const late = a.acquire(key);
  await reachedLink;

  // B takes epoch 2 and stops cleanly (marker epoch 3); restarted as C it takes epoch 4 and removes the lower ones.
  const b = await holder('B', 60_000);
  const leaseB = leaseOf(await b.acquire(key));
  expect(leaseB.epoch).toBe(2);
  await b.release(leaseB);
  await b.stop();
  const c = await holder('C', 60_000);
  const leaseC = leaseOf(await c.acquire(key));
  expect(leaseC.epoch).toBe(4);
  expect((await readdir(folder)).filter((f) => f.startsWith('lease.'))).toEqual(['lease.4']);

  // A resumes: the name lease.2 is free again.
  resume();
  expect(await late).toEqual({ acquired: false, owner: 'C' });
  const staleA: Lease = { key, holder: 'A', epoch: 2 };
  await expect(a.confirm(staleA)).rejects.toBeInstanceOf(LeaseLostError);
  expect(await a.renew([staleA])).toEqual([staleA]);
  await expect(c.confirm(leaseC)).resolves.toBeUndefined();
  expect(await c.renew([leaseC])).toEqual([]);
  expect((await readdir(folder)).filter((f) => f.startsWith('lease.'))).toEqual(['lease.4']);

  // Even if the late claimer died right after its link() (its file left behind), a lower epoch never counts as held.
  await writeFile(join(folder, 'lease.2'), JSON.stringify({ epoch: 2, holder: 'A' }));
  await expect(a.confirm(staleA)).rejects.toBeInstanceOf(LeaseLostError);
  expect(await a.renew([staleA])).toEqual([staleA]);
  expect(await a.liveOwner(key)).toBe('C');
  await expect(c.confirm(leaseC)).resolves.toBeUndefined();
});

it('wall-clock steps of an hour either way never make a live holder look dead', async () => {
  const clock = new ManualClock();
  const a = await holder('a', 1_000);
  const b = await holder('b', 1_000, { clock: clock.now });
  const lease = leaseOf(await a.acquire(key));
  const heartbeat = join(dir, holdersFolderName, 'a');
  vi.useFakeTimers({ toFake: ['Date'] });
  try {
    // Twelve renews of `a`, 250 ms apart on b's clock (3 TTLs), the host clock jumping an hour back and forth.
    for (let step = 0; step < 12; step++) {
      const hourMs = (step % 2 === 0 ? 1 : -1) * 3_600_000;
      vi.setSystemTime(Date.now() + hourMs);
      expect(await a.renew([lease])).toEqual([]);
      const stepped = new Date(Date.now() + hourMs);
      await utimes(heartbeat, stepped, stepped);
      clock.advance(250);
      expect(await b.acquire(key)).toEqual({ acquired: false, owner: 'a' });
      expect(await b.renew([])).toEqual([]);
    }
  } finally {
    vi.useRealTimers();
  }
  await expect(a.confirm(lease)).resolves.toBeUndefined();
  expect((await b.liveHolders()).map((h) => h.holder).sort()).toEqual(['a', 'b']);
});

it('a crashed holder\'s sessions are taken within TTL + one renew of watching, even when its heartbeat looks an hour newer', async () => {
  const ttlMs = 1_000;
  const renewMs = 250;
  const clock = new ManualClock();
  const a = await holder('a', ttlMs);
  const b = await holder('b', ttlMs, { clock: clock.now });
  leaseOf(await a.acquire(key));
  await b.renew([]);
  // `a` crashes: it writes nothing more. A clock stepped back makes its heartbeat look an hour ahead.
  const ahead = new Date(Date.now() + 3_600_000);
  await utimes(join(dir, holdersFolderName, 'a'), ahead, ahead);
  let takenAtMs: number | null = null;
  while (takenAtMs === null && clock.ms <= 10 * ttlMs) {
    clock.advance(renewMs);
    await b.renew([]);
    if ((await b.acquire(key)).acquired) takenAtMs = clock.ms;
  }
  expect(takenAtMs).not.toBeNull();
  expect(takenAtMs!).toBeGreaterThanOrEqual(ttlMs);
  expect(takenAtMs!).toBeLessThanOrEqual(ttlMs + renewMs);
});

it('a dangling lease link, a folder or a FIFO named lease.N is a bounded error logged once, never a spin', async () => {
  const logs = new LogCapture();
  const logger = createLogger({ level: 'debug', destination: logs });
  const o = await holder('a', 1_000, { logger });
  const kinds = {
    dangling: (path: string) => symlink(join(dir, 'nowhere'), path),
    linked: async (path: string) => {
      await writeFile(join(dir, 'elsewhere.json'), JSON.stringify({ epoch: 7, holder: null }));
      await symlink(join(dir, 'elsewhere.json'), path);
    },
    folder: (path: string) => mkdir(path),
    fifo: async (path: string) => {
      execFileSync('mkfifo', [path]);
    },
  };
  const cpuBefore = process.cpuUsage();
  for (const [sessionId, make] of Object.entries(kinds)) {
    const broken = { userId: 'bad', sessionId };
    await mkdir(join(dir, 'bad', sessionId), { recursive: true });
    await make(join(dir, 'bad', sessionId, 'lease.7'));
    const spinning = new Promise<string>((done) => setTimeout(() => done('still spinning after 3 s'), 3_000).unref());
    for (let attempt = 0; attempt < 20; attempt++) {
      const outcome = await Promise.race([o.acquire(broken).then((result) => result, (error: unknown) => error), spinning]);
      expect(outcome, sessionId).toBeInstanceOf(LeaseUnreadableError);
      expect((outcome as LeaseUnreadableError).code).toBe('ERR_LEASE_UNREADABLE');
      expect(await o.liveOwners([broken, key])).toEqual([null, null]);
    }
    await expect(o.liveOwner(broken)).rejects.toBeInstanceOf(LeaseUnreadableError);
  }
  // 80 attempts (20 placement ticks each, per session) cost well under a second of CPU: < 1 % at one tick per 2 s.
  const cpu = process.cpuUsage(cpuBefore);
  expect((cpu.user + cpu.system) / 1_000).toBeLessThan(1_000);
  const lines = logs.lines.filter((line) => line.includes('Session lease cannot be read'));
  expect(lines).toHaveLength(4);
  expect(lines.join('\n')).toContain('symbolic link');
  expect(lines.join('\n')).toContain('not a regular file');
  // A healthy session next to them is unaffected.
  expect((await o.acquire(key)).acquired).toBe(true);
});

it('after a crash, deleted session folders and half-made leases of dead writers are swept; a live writer\'s are kept', async () => {
  const folder = join(dir, key.userId, key.sessionId);
  const live = await holder('live', 1_000);
  await holder('crashed', 1_000); // its heartbeat stays: it was SIGKILLed
  const leftovers = async (writer: string | null) => {
    const removed = join(dir, writer ? removedFolderName(writer) : '.removed-0123456789ab');
    await mkdir(removed);
    await writeFile(join(removed, 'creds.json'), '{"secret":"x"}');
    await writeFile(join(folder, writer ? leaseTempName(3, writer) : '.lease.3.0123456789ab.tmp'), '{}');
  };
  for (const writer of ['gone', 'crashed', 'live', null]) await leftovers(writer);
  const names = async () => [...(await readdir(dir)).filter((f) => f.startsWith('.removed-')), ...(await readdir(folder)).filter((f) => f.startsWith('.lease.'))];
  const writers = async () => (await names()).map((name) => /(gone|crashed|live)/.exec(name)?.[1] ?? 'old').sort();

  // At boot: what no live heartbeat can claim goes at once (a stopped holder's, names from older versions).
  const clock = new ManualClock();
  const booted = await holder('booted', 1_000, { clock: clock.now });
  expect(await writers()).toEqual(['crashed', 'crashed', 'live', 'live']);

  // The crashed holder's go once it has been watched silent for a TTL; the live one's stay.
  await booted.renew([]);
  await booted.watched();
  clock.advance(1_000);
  await live.renew([]);
  await booted.renew([]);
  await booted.watched();
  await booted.sweepLeftovers();
  expect(await writers()).toEqual(['live', 'live']);
});

it('a replica whose first heartbeat is being written when another boots keeps it: only an old heartbeat temp file is swept', async () => {
  const holders = join(dir, holdersFolderName);
  await holder('first', 60_000);
  // What a holder starting at this moment has on disk: its heartbeat, written as a temp file, not yet renamed.
  const starting = join(holders, heartbeatTempName('second'));
  await writeFile(starting, '{}');
  const booted = await holder('third', 60_000);
  await booted.sweepLeftovers();
  expect(await readdir(holders)).toContain(starting.slice(holders.length + 1));
  // The same file a TTL old is what a crash during a start left: swept.
  const anHourAgo = new Date(Date.now() - 3_600_000);
  await utimes(starting, anHourAgo, anHourAgo);
  await booted.sweepLeftovers();
  expect(await readdir(holders)).not.toContain(starting.slice(holders.length + 1));
});

it('a holders folder removed under a running process is made again on its next renew', async () => {
  const a = await holder('a');
  const lease = leaseOf(await a.acquire(key));
  await removeDir(join(dir, holdersFolderName));
  expect(await a.renew([lease])).toEqual([]);
  expect(await readdir(join(dir, holdersFolderName))).toEqual(['a']);
});
