/**
 * Ownership on one machine's file system, with no pid liveness test and no clock
 * shared between processes.
 *
 * Holder heartbeat: each process start picks a random holder id, writes
 * `<root>/.holders/<holder>` (naming its TTL) and on every renew moves that file's mtime
 * to a value that only grows — a counter kept in the mtime (one utimes, as cheap as the
 * renew can be), never compared with any clock.
 * Liveness is observed, never computed from a timestamp: an observer remembers
 * what it last read there and when it saw it change, on its own monotonic clock.
 * A holder is dead when its heartbeat has not changed for the TTL as timed by the
 * observer (or its file is gone: a clean stop removes it). A wall-clock step on the
 * host changes nothing, and a file's mtime is read only as part of an opaque token.
 * A process that just started has no history: it watches a holder for a full TTL
 * before calling it dead, so a crashed holder's sessions are taken over within
 * TTL + one renew interval of the survivor starting to watch (TTL + two intervals
 * after the crash for a survivor that was already running: the change it last saw
 * may be up to one interval late).
 *
 * Session lease: the highest `lease.<epoch>` file in the session folder, naming
 * its holder. It is written complete to a temp file and then hard-linked to its
 * name: link() fails with EEXIST when another contender made that epoch first, so
 * exactly one of two processes booting together wins, and no reader ever sees an
 * empty lease. Older epochs are removed after a win; a release links one more
 * epoch that names nobody, so epochs only grow.
 *
 * A claim is valid only while no higher epoch exists. A contender that read an old
 * epoch and was delayed before its link() may find the name free again (a takeover
 * removed the lower epochs): its file is then below the current one, so the claim
 * is dropped right after the link, and confirm()/renew() refuse it all the same.
 * A holder has lost a session once its own file is gone or any higher epoch
 * exists; that is checked on every renew and before every write. A file system has
 * no transactions: the check before a write narrows the window but cannot close it
 * — the honest limit of this default, and one reason a cluster runs on PostgreSQL.
 *
 * Storage faults: when the heartbeat cannot be moved because the file system is
 * read-only (EROFS) or out of space or quota (ENOSPC, EDQUOT: only when the file must
 * be made anew — an mtime change needs no block), renew() does not fail. On one machine
 * every contender writes to this same file system: a takeover has to create a
 * lease file, which fails the same way, so nobody can have taken a session over.
 * Meanwhile this process restarts its observation of every other holder (their
 * heartbeats cannot move either), so when the disk comes back it watches each for a
 * full TTL again — time for their renews to come through — before calling anyone
 * dead. Leases are still checked (reading works), and a lost one is reported.
 * The reasoning holds while every process sees the same fault: a volume mounted read-only
 * for this process alone while another writes it (two containers, different mount flags) is
 * outside it — there a takeover is seen at the next renew, one interval late.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { hostname } from 'node:os';
import { link, lstat, mkdir, open, readdir, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../../logging/logger.js';
import { syncFolder } from './atomic-file.js';
import { heartbeatTempName, heartbeatTempWriter, leaseTempName, leaseTempWriter, removedFolderWriter } from './leftovers.js';
import { LeaseLostError, type AcquireResult, type Lease, type LiveHolder, type Ownership } from '../ownership.js';
import { checkedSessionKey, type SessionKey } from '../session-key.js';

export const holdersFolderName = '.holders';
/** Default time after which a silent holder counts as dead (README: "takeover"). */
export const defaultLeaseTtlMs = 10_000;
/** Heartbeats unchanged this many TTLs are clutter: removed (their holders' leases were takeable long before). */
export const heartbeatSweepTtls = 10;
/**
 * Reads of a session's highest lease that may find it removed under them (a newer epoch
 * was claimed in between) before giving up for now: a real race settles in one or two.
 */
export const maxLeaseReads = 5;
/** A lease file is a line of JSON; anything larger is not one of ours. */
const maxLeaseBytes = 4_096;

const leaseFilePattern = /^lease\.(\d+)$/;
const holderPattern = /^[A-Za-z0-9_.-]{1,100}$/;
/** Error codes of a storage fault that every process on this file system meets alike. */
const storageFaultCodes = new Set(['EROFS', 'ENOSPC', 'EDQUOT']);
/** Follow no link, never block on a FIFO: a lease or heartbeat is a plain file or it is damage. */
const plainReadFlags = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

export interface FileOwnershipOptions {
  /** See Ownership.ttlMs. Default defaultLeaseTtlMs. */
  ttlMs?: number;
  /** Fixed holder id (tests); default host-pid-random. */
  holder?: string;
  /** Monotonic milliseconds that time other holders' silence; default performance.now (never the wall clock). */
  clock?: () => number;
  /** Where unreadable leases and storage faults are reported; default silent. */
  logger?: Logger;
  /** The link() that puts a lease in place (tests pause it to order a race); default fs link. */
  link?: (existingPath: string, newPath: string) => Promise<void>;
}

interface LeaseFile {
  epoch: number;
  holder: string | null;
}

/** What this process last saw of another holder's heartbeat, and when (its own clock) it last changed. */
interface Observation {
  token: string;
  changedAtMs: number;
  /** The longer of our TTL and the one the holder announces: each side fences on its own. */
  ttlMs: number;
  /** The TTL the holder's heartbeat announces (null for a heartbeat from an older version). */
  announcedTtlMs: number | null;
  /** The heartbeat file's inode: its content (the announced TTL) is read again only when it is a new file. */
  ino: number | null;
}

/** A lease file that is not what this store writes (a link, a folder, unreadable), or one that keeps vanishing. */
export class LeaseUnreadableError extends Error {
  readonly code = 'ERR_LEASE_UNREADABLE';
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`lease ${file} cannot be read: ${reason}`);
    this.name = 'LeaseUnreadableError';
  }
}

export function newHolderId(): string {
  const host = hostname().replace(/[^A-Za-z0-9_-]/g, '').slice(0, 32) || 'host';
  return `${host}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | null)?.code;
}

export class FileOwnership implements Ownership {
  readonly holder: string;
  readonly ttlMs: number;
  private readonly root: string;
  private readonly holders: string;
  private readonly clock: () => number;
  private readonly logger: Logger | null;
  private readonly linkFile: (existingPath: string, newPath: string) => Promise<void>;
  private readonly since = new Date().toISOString();
  /** The mtime this process last gave its heartbeat: each renew sets a greater one. */
  private touchedMs = 0;
  private readonly observed = new Map<string, Observation>();
  private readonly reading = new Map<string, Promise<Observation | null>>();
  /** Dead holders whose leftovers were swept already. */
  private readonly swept = new Set<string>();
  private sweeping: Promise<number> | null = null;
  private watching: Promise<void> | null = null;
  /** Unreadable leases already logged (one line each, not one per tick). */
  private readonly reported = new Set<string>();
  private fault: string | null = null;

  constructor(root: string, options: FileOwnershipOptions = {}) {
    this.root = resolve(root);
    this.holders = join(this.root, holdersFolderName);
    this.holder = options.holder ?? newHolderId();
    this.ttlMs = options.ttlMs ?? defaultLeaseTtlMs;
    this.clock = options.clock ?? (() => performance.now());
    this.logger = options.logger ?? null;
    this.linkFile = options.link ?? link;
    if (!holderPattern.test(this.holder) || this.holder.startsWith('.')) throw new RangeError('holder: letters, digits, _ . - only, not starting with .');
    if (!(this.ttlMs > 0)) throw new RangeError('ttlMs: must be positive');
  }

  /** The storage fault that keeps this holder's heartbeat from being rewritten (EROFS, ENOSPC), or null. */
  get storageFault(): string | null {
    return this.fault;
  }

  private heartbeatFile(holder: string): string {
    return join(this.holders, holder);
  }

  private folderOf(key: SessionKey): string {
    const checked = checkedSessionKey(key.userId, key.sessionId);
    return join(this.root, checked.userId, checked.sessionId);
  }

  async start(): Promise<void> {
    await mkdir(this.holders, { recursive: true, mode: 0o700 });
    await this.writeHeartbeat();
    // Leftovers of writers that are certainly gone (no heartbeat) go now; those of a crashed
    // holder whose heartbeat is still there go once it has been watched silent for a TTL.
    await this.sweepLeftovers().catch((error: unknown) => this.logger?.warn({ err: String(error) }, 'Sweeping leftovers of dead processes failed'));
  }

  async stop(): Promise<void> {
    await rm(this.heartbeatFile(this.holder), { force: true });
  }

  /** Writes the heartbeat whole (temp file, then rename). No fsync: after a power cut every holder is dead anyway. */
  private async writeHeartbeat(): Promise<void> {
    const body = JSON.stringify({ holder: this.holder, pid: process.pid, host: hostname(), since: this.since, ttlMs: this.ttlMs });
    const temp = join(this.holders, heartbeatTempName(this.holder));
    try {
      await writeFile(temp, body, { mode: 0o600, flag: 'wx' });
      await rename(temp, this.heartbeatFile(this.holder));
    } catch (error) {
      await rm(temp, { force: true }).catch(() => undefined);
      throw error;
    }
  }

  /**
   * Moves the heartbeat's mtime to a value greater than any it had: the wall clock when it is
   * ahead, else one millisecond on (a clock stepped back changes nothing; the value is a counter).
   */
  private async touchHeartbeat(): Promise<void> {
    const next = Math.max(Date.now(), this.touchedMs + 1);
    await utimes(this.heartbeatFile(this.holder), new Date(next), new Date(next));
    this.touchedMs = next;
  }

  async acquire(key: SessionKey): Promise<AcquireResult> {
    const folder = this.folderOf(key);
    // Two contenders for one epoch: the loser re-reads to name the winner.
    for (let tries = 0; tries < 5; tries++) {
      const current = await this.current(folder);
      if (current === 'gone') return { acquired: false, gone: true };
      if (current && current.holder && current.holder !== this.holder && (await this.isAlive(current.holder))) {
        return { acquired: false, owner: current.holder };
      }
      const epoch = (current?.epoch ?? 0) + 1;
      if (await this.claim(folder, { epoch, holder: this.holder })) {
        await this.removeEpochsBelow(folder, epoch);
        return { acquired: true, lease: { key: { userId: key.userId, sessionId: key.sessionId }, holder: this.holder, epoch } };
      }
    }
    const winner = await this.current(folder);
    if (winner === 'gone') return { acquired: false, gone: true };
    return { acquired: false, owner: winner?.holder ?? 'another process' };
  }

  async confirm(lease: Lease): Promise<void> {
    if (!(await this.stillHeld(lease))) throw new LeaseLostError(lease);
  }

  async renew(leases: readonly Lease[]): Promise<Lease[]> {
    await this.heartbeat();
    const held = await Promise.all(leases.map((lease) => this.stillHeld(lease)));
    // Off the renew's path: a renew late by as much as its fence margin stops every socket.
    this.watching ??= this.watchHolders()
      .catch((error: unknown) => this.logger?.warn({ err: String(error) }, 'Watching other holders failed'))
      .finally(() => {
        this.watching = null;
      });
    return leases.filter((_, i) => !held[i]);
  }

  /** The watch of other holders that the last renew started (tests wait for it). */
  watched(): Promise<void> {
    return this.watching ?? Promise.resolve();
  }

  /** Proves this holder alive; a storage fault is reported and survived (see the file comment), anything else thrown. */
  private async heartbeat(): Promise<void> {
    try {
      await this.touchHeartbeat().catch(async (error: unknown) => {
        // Swept while this process was paused (SIGSTOP, a VM suspend), or its folder removed: write it anew.
        if (errorCode(error) !== 'ENOENT') throw error;
        await mkdir(this.holders, { recursive: true, mode: 0o700 });
        await this.writeHeartbeat();
      });
      if (this.fault) this.logger?.info({ cause: this.fault }, 'Heartbeat written again: the storage fault is over');
      this.fault = null;
    } catch (error) {
      const code = errorCode(error);
      if (code === undefined || !storageFaultCodes.has(code)) throw error;
      if (!this.fault) {
        this.logger?.warn(
          { cause: code, folder: this.holders },
          'Heartbeat cannot be written (storage fault): sessions keep running, since no process can create a lease on this file system either; free space or remount read-write',
        );
      }
      this.fault = code;
      this.restartObservations();
    }
  }

  /** Our heartbeat could not move: neither could anyone's on this file system. Call nobody dead until watched a full TTL again. */
  private restartObservations(): void {
    const now = this.clock();
    for (const seen of this.observed.values()) seen.changedAtMs = now;
  }

  async release(lease: Lease): Promise<void> {
    const folder = this.folderOf(lease.key);
    if (!(await this.stillHeld(lease))) return;
    // A marker epoch naming nobody: the next holder takes epoch + 2, so epochs never repeat.
    if (await this.claim(folder, { epoch: lease.epoch + 1, holder: null })) await this.removeEpochsBelow(folder, lease.epoch + 1);
  }

  /** The live holder of the session, or null; throws LeaseUnreadableError when its lease cannot be read. */
  async liveOwner(key: SessionKey): Promise<string | null> {
    const current = await this.current(this.folderOf(key));
    if (!current || current === 'gone' || !current.holder) return null;
    if (current.holder === this.holder) return this.holder;
    return (await this.isAlive(current.holder)) ? current.holder : null;
  }

  /**
   * liveOwner for a process that has just started and keeps no history (the migrate tool):
   * an owner alive only because it has not been watched long enough is watched for the TTL
   * its heartbeat announces (ours when it announces none), then judged on what changed.
   */
  async watchedLiveOwner(key: SessionKey): Promise<string | null> {
    const owner = await this.liveOwner(key);
    if (owner === null || owner === this.holder) return owner;
    const first = await this.observe(owner);
    if (!first) return null;
    const watchMs = first.announcedTtlMs ?? this.ttlMs;
    const leftMs = first.changedAtMs + watchMs - this.clock();
    if (leftMs > 0) await new Promise((resolve) => setTimeout(resolve, leftMs));
    const again = await this.observe(owner);
    return again !== null && this.clock() - again.changedAtMs < watchMs ? owner : null;
  }

  /** As liveOwner; a session whose lease cannot be read counts as having no live owner (its acquire then fails and says why). */
  liveOwners(keys: readonly SessionKey[]): Promise<Array<string | null>> {
    return Promise.all(keys.map((key) => this.liveOwner(key).catch((error: unknown) => (error instanceof LeaseUnreadableError ? null : Promise.reject(error)))));
  }

  /** Holders seen alive. On one machine nobody forwards requests, so no URL is given. */
  async liveHolders(): Promise<LiveHolder[]> {
    const names = await this.heartbeatNames();
    const alive = await Promise.all(names.map(async (name) => ((await this.isAlive(name)) ? name : null)));
    return alive.filter((name): name is string => name !== null).map((holder) => ({ holder, url: null }));
  }

  private async heartbeatNames(): Promise<string[]> {
    const names = await readdir(this.holders).catch(() => [] as string[]);
    return names.filter((name) => !name.startsWith('.') && holderPattern.test(name));
  }

  /** The highest epoch's lease; null when the session never had one; 'gone' when the folder does not exist. */
  private async current(folder: string): Promise<LeaseFile | null | 'gone'> {
    let top: number | undefined;
    for (let reads = 0; reads < maxLeaseReads; reads++) {
      let names: string[];
      try {
        names = await readdir(folder);
      } catch (error) {
        if (errorCode(error) === 'ENOENT') return 'gone';
        throw error;
      }
      top = highestEpoch(names);
      if (top === undefined) return null;
      const read = await readLease(join(folder, `lease.${top}`));
      if (read === 'vanished') continue; // removed between readdir and read: a newer epoch exists, look again
      if (typeof read === 'string') throw this.unreadable(folder, `lease.${top}`, read);
      return { epoch: top, holder: read.holder };
    }
    throw this.unreadable(folder, `lease.${top}`, `removed under every one of ${maxLeaseReads} reads`);
  }

  private unreadable(folder: string, name: string, reason: string): LeaseUnreadableError {
    const file = join(folder, name).slice(this.root.length + 1);
    const error = new LeaseUnreadableError(file, reason);
    const id = `${file}: ${reason}`;
    if (!this.reported.has(id)) {
      if (this.reported.size >= 1_000) this.reported.clear();
      this.reported.add(id);
      this.logger?.warn({ file, reason }, 'Session lease cannot be read: the session is not restored until the file is repaired or removed');
    }
    return error;
  }

  /** Creates `lease.<epoch>` complete, or returns false when that epoch exists already or a higher one does. */
  private async claim(folder: string, lease: LeaseFile): Promise<boolean> {
    const temp = join(folder, leaseTempName(lease.epoch, this.holder));
    const name = join(folder, `lease.${lease.epoch}`);
    try {
      const file = await open(temp, 'wx', 0o600);
      try {
        await file.writeFile(JSON.stringify({ ...lease, at: new Date().toISOString() }));
        await file.sync();
      } finally {
        await file.close();
      }
      await this.linkFile(temp, name);
      await syncFolder(folder);
      // A contender delayed between reading the old epoch and linking finds the name free again
      // once a takeover removed the lower epochs: its lease would sit below the current one.
      if (await this.higherEpochExists(folder, lease.epoch)) {
        await rm(name, { force: true });
        return false;
      }
      return true;
    } catch (error) {
      const code = errorCode(error);
      if (code === 'EEXIST' || code === 'ENOENT') return false;
      throw error;
    } finally {
      await rm(temp, { force: true });
    }
  }

  private async higherEpochExists(folder: string, epoch: number): Promise<boolean> {
    const names = await readdir(folder).catch(() => [] as string[]);
    return (highestEpoch(names) ?? 0) > epoch;
  }

  /** Its own epoch's file is there and no higher epoch exists (a name, whatever it is: a stranger's file counts against us). */
  private async stillHeld(lease: Lease): Promise<boolean> {
    let names: string[];
    try {
      names = await readdir(this.folderOf(lease.key));
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return false;
      throw error;
    }
    return names.includes(`lease.${lease.epoch}`) && (highestEpoch(names) ?? 0) <= lease.epoch;
  }

  private async removeEpochsBelow(folder: string, epoch: number): Promise<void> {
    const names = await readdir(folder).catch(() => [] as string[]);
    await Promise.all(
      names.filter((name) => Number(leaseFilePattern.exec(name)?.[1] ?? Infinity) < epoch).map((name) => rm(join(folder, name), { force: true })),
    );
  }

  private async isAlive(holder: string): Promise<boolean> {
    if (holder === this.holder) return true;
    if (!holderPattern.test(holder) || holder.startsWith('.')) return false;
    const seen = await this.observe(holder);
    return seen !== null && this.clock() - seen.changedAtMs < seen.ttlMs;
  }

  /** Reads a holder's heartbeat now (one read shared by every concurrent asker); null when it has none. */
  private observe(holder: string): Promise<Observation | null> {
    const inFlight = this.reading.get(holder);
    if (inFlight) return inFlight;
    const read = readHeartbeat(this.heartbeatFile(holder), this.observed.get(holder) ?? null)
      .then((heartbeat) => {
        if (heartbeat === null) {
          this.observed.delete(holder);
          return null;
        }
        // Timed from when the read came back, never earlier: the change may have been that late.
        const now = this.clock();
        const previous = this.observed.get(holder);
        const ttlMs = Math.max(this.ttlMs, heartbeat.ttlMs ?? 0);
        if (previous && previous.token === heartbeat.token) {
          previous.ttlMs = ttlMs;
          previous.announcedTtlMs = heartbeat.ttlMs;
          previous.ino = heartbeat.ino;
          return previous;
        }
        const seen = { token: heartbeat.token, ino: heartbeat.ino, changedAtMs: now, ttlMs, announcedTtlMs: heartbeat.ttlMs };
        this.observed.set(holder, seen);
        this.swept.delete(holder);
        return seen;
      })
      .finally(() => this.reading.delete(holder));
    this.reading.set(holder, read);
    return read;
  }

  /**
   * Every renew: watch all heartbeats (so a crashed holder's silence is timed even when
   * none of its sessions is asked about), sweep what newly dead holders left, and remove
   * heartbeats silent for many TTLs.
   */
  private async watchHolders(): Promise<void> {
    const names = (await this.heartbeatNames()).filter((name) => name !== this.holder);
    let newlyDead = false;
    await Promise.all(
      names.map(async (name) => {
        const seen = await this.observe(name);
        if (!seen) return;
        const silentMs = this.clock() - seen.changedAtMs;
        if (silentMs >= seen.ttlMs && !this.swept.has(name)) newlyDead = true;
        if (silentMs >= heartbeatSweepTtls * seen.ttlMs) {
          await rm(this.heartbeatFile(name), { force: true });
          this.observed.delete(name);
        }
      }),
    );
    for (const name of this.observed.keys()) if (!names.includes(name)) this.observed.delete(name);
    if (newlyDead) void this.sweepLeftovers().catch((error: unknown) => this.logger?.warn({ err: String(error) }, 'Sweeping leftovers of dead processes failed'));
  }

  /** Whether `writer` (null: a name from before holders were recorded) is certainly gone: no heartbeat, or watched silent for its TTL. */
  private async writerGone(writer: string | null): Promise<boolean> {
    if (writer === null) return true;
    if (writer === this.holder) return false;
    return !(await this.isAlive(writer));
  }

  /**
   * Removes what dead writers left after a crash: deleted session folders (`.removed-*`, which
   * still hold credentials), half-made leases (`.lease.*.tmp`) and heartbeat temp files.
   * Never a live holder's, whose removal or claim may be in flight. Resolves to the number removed.
   */
  sweepLeftovers(): Promise<number> {
    this.sweeping ??= this.sweep().finally(() => {
      this.sweeping = null;
    });
    return this.sweeping;
  }

  private async sweep(): Promise<number> {
    const doomed: string[] = [];
    const deadWriters = new Set<string>();
    const consider = async (path: string, writer: string | null | undefined) => {
      if (writer === undefined || !(await this.writerGone(writer))) return;
      doomed.push(path);
      if (writer !== null) deadWriters.add(writer);
    };
    const rootEntries = await readdir(this.root, { withFileTypes: true }).catch(() => []);
    for (const entry of rootEntries) {
      if (entry.name.startsWith('.removed-')) await consider(join(this.root, entry.name), removedFolderWriter(entry.name));
    }
    for (const name of await readdir(this.holders).catch(() => [] as string[])) {
      if (!name.startsWith('.')) continue;
      const path = join(this.holders, name);
      // A holder's first heartbeat is a temp file before it has any heartbeat at all: a young one
      // is a start under way (two replicas booting at once), not what a crash left.
      if (await modifiedWithin(path, this.ttlMs)) continue;
      await consider(path, heartbeatTempWriter(name) ?? undefined);
    }
    for (const user of rootEntries) {
      if (!user.isDirectory() || user.name.startsWith('.')) continue;
      const userFolder = join(this.root, user.name);
      for (const session of await readdir(userFolder).catch(() => [] as string[])) {
        const folder = join(userFolder, session);
        for (const name of await readdir(folder).catch(() => [] as string[])) {
          if (name.startsWith('.lease.')) await consider(join(folder, name), leaseTempWriter(name));
        }
      }
    }
    await Promise.all(doomed.map((path) => rm(path, { recursive: true, force: true })));
    for (const writer of deadWriters) this.swept.add(writer);
    for (const [name, seen] of this.observed) if (this.clock() - seen.changedAtMs >= seen.ttlMs) this.swept.add(name);
    if (doomed.length > 0) this.logger?.info({ removed: doomed.length }, 'Removed what dead processes left behind (deleted session folders, half-made leases)');
    return doomed.length;
  }
}

/** Whether the file was written less than `ms` ago (wall clock; false when it is gone). */
async function modifiedWithin(path: string, ms: number): Promise<boolean> {
  const info = await lstat(path).catch(() => null);
  return info !== null && Date.now() - info.mtimeMs < ms;
}

function highestEpoch(names: readonly string[]): number | undefined {
  let top: number | undefined;
  for (const name of names) {
    const epoch = leaseFilePattern.exec(name)?.[1];
    if (epoch !== undefined && (top === undefined || Number(epoch) > top)) top = Number(epoch);
  }
  return top;
}

/** A plain file's text; 'vanished' when it is not there; otherwise why it cannot be a lease or heartbeat. */
async function readPlainFile(path: string): Promise<{ text: string; mtimeMs: number } | 'vanished' | string> {
  let handle;
  try {
    handle = await open(path, plainReadFlags);
  } catch (error) {
    const code = errorCode(error);
    if (code === 'ENOENT') return 'vanished';
    return code === 'ELOOP' ? 'a symbolic link, not a file' : `cannot be opened (${code ?? String(error)})`;
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) return 'not a regular file';
    if (info.size > maxLeaseBytes) return `too large (${info.size} bytes)`;
    return { text: await handle.readFile('utf8'), mtimeMs: info.mtimeMs };
  } catch (error) {
    return `cannot be read (${errorCode(error) ?? String(error)})`;
  } finally {
    await handle.close();
  }
}

async function readLease(path: string): Promise<LeaseFile | 'vanished' | string> {
  const read = await readPlainFile(path);
  if (typeof read === 'string') return read;
  try {
    const parsed = JSON.parse(read.text) as { epoch?: unknown; holder?: unknown };
    return { epoch: Number(parsed.epoch), holder: typeof parsed.holder === 'string' ? parsed.holder : null };
  } catch {
    // A lease is linked complete, so unparsable content is damage: it names nobody (the next epoch may be taken).
    return { epoch: 0, holder: null };
  }
}

/**
 * A heartbeat as an opaque token: its inode, size and mtime (which its holder moves on every
 * renew), from one lstat; null when there is none. The content (the TTL it announces) is read
 * only for a file not seen before. A heartbeat that is not a plain file gives a token that
 * never changes: no proof of life.
 */
async function readHeartbeat(
  path: string,
  known: { ino: number | null; announcedTtlMs: number | null } | null,
): Promise<{ token: string; ino: number | null; ttlMs: number | null } | null> {
  let info;
  try {
    info = await lstat(path);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return null;
    return { token: `unreadable: ${errorCode(error) ?? String(error)}`, ino: null, ttlMs: null };
  }
  if (!info.isFile()) return { token: 'unreadable: not a regular file', ino: null, ttlMs: null };
  const token = `${info.ino}:${info.size}:${info.mtimeMs}`;
  if (known && known.ino === info.ino) return { token, ino: info.ino, ttlMs: known.announcedTtlMs };
  const read = await readPlainFile(path);
  let ttlMs: number | null = null;
  if (typeof read !== 'string') {
    try {
      const announced = (JSON.parse(read.text) as { ttlMs?: unknown }).ttlMs;
      if (typeof announced === 'number' && Number.isFinite(announced) && announced > 0) ttlMs = Math.min(announced, 24 * 3_600_000);
    } catch {
      // A heartbeat from an older version (empty) or damaged: its mtime is still observed.
    }
  }
  return { token, ino: info.ino, ttlMs };
}
