/**
 * Ownership on one machine's file system, with no pid liveness test.
 *
 * Holder heartbeat: each process start picks a random holder id and keeps
 * `<root>/.holders/<holder>` fresh (its mtime is touched on every renew). A holder
 * whose heartbeat is older than ttlMs is dead, whatever its pid was and whoever
 * has that pid now (a container restart makes every process pid 1 again).
 *
 * Session lease: the highest `lease.<epoch>` file in the session folder, naming
 * its holder. It is written complete to a temp file and then hard-linked to its
 * name: link() fails with EEXIST when another contender made that epoch first, so
 * exactly one of two processes booting together wins, and no reader ever sees an
 * empty lease. Older epochs are removed after a win; a release links one more
 * epoch that names nobody, so epochs only grow.
 *
 * A holder has lost a session once the epoch after its own exists or its own
 * file is gone (a takeover removes older epochs). That is checked on every renew
 * and before every write. A file system has no transactions: the check before a
 * write narrows the window but cannot close it — the honest limit of this
 * default, and one reason a cluster runs on PostgreSQL.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { link, mkdir, open, readdir, readFile, rm, stat, utimes } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { syncFolder } from './atomic-file.js';
import { LeaseLostError, type AcquireResult, type Lease, type LiveHolder, type Ownership } from '../ownership.js';
import { checkedSessionKey, type SessionKey } from '../session-key.js';

export const holdersFolderName = '.holders';
/** Default time after which a silent holder counts as dead (README: "takeover"). */
export const defaultLeaseTtlMs = 10_000;

const leaseFilePattern = /^lease\.(\d+)$/;
const holderPattern = /^[A-Za-z0-9_.-]{1,100}$/;

export interface FileOwnershipOptions {
  /** See Ownership.ttlMs. Default defaultLeaseTtlMs. */
  ttlMs?: number;
  /** Fixed holder id (tests); default host-pid-random. */
  holder?: string;
}

interface LeaseFile {
  epoch: number;
  holder: string | null;
}

export function newHolderId(): string {
  const host = hostname().replace(/[^A-Za-z0-9_-]/g, '').slice(0, 32) || 'host';
  return `${host}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

export class FileOwnership implements Ownership {
  readonly holder: string;
  readonly ttlMs: number;
  private readonly root: string;
  private readonly holders: string;

  constructor(root: string, options: FileOwnershipOptions = {}) {
    this.root = resolve(root);
    this.holders = join(this.root, holdersFolderName);
    this.holder = options.holder ?? newHolderId();
    this.ttlMs = options.ttlMs ?? defaultLeaseTtlMs;
    if (!holderPattern.test(this.holder)) throw new RangeError('holder: letters, digits, _ . - only');
    if (!(this.ttlMs > 0)) throw new RangeError('ttlMs: must be positive');
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
    const file = await open(this.heartbeatFile(this.holder), 'w', 0o600);
    await file.writeFile(JSON.stringify({ holder: this.holder, pid: process.pid, host: hostname(), since: new Date().toISOString() }));
    await file.close();
    await this.sweepDeadHolders();
  }

  async stop(): Promise<void> {
    await rm(this.heartbeatFile(this.holder), { force: true });
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
    const now = new Date();
    await utimes(this.heartbeatFile(this.holder), now, now).catch(async (error: unknown) => {
      // Someone swept our heartbeat while we were paused (SIGSTOP, a VM suspend): say we are alive again.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') await this.start();
      else throw error;
    });
    const held = await Promise.all(leases.map((lease) => this.stillHeld(lease)));
    return leases.filter((_, i) => !held[i]);
  }

  async release(lease: Lease): Promise<void> {
    const folder = this.folderOf(lease.key);
    if (!(await this.stillHeld(lease))) return;
    // A marker epoch naming nobody: the next holder takes epoch + 2, so epochs never repeat.
    if (await this.claim(folder, { epoch: lease.epoch + 1, holder: null })) await this.removeEpochsBelow(folder, lease.epoch + 1);
  }

  async liveOwner(key: SessionKey): Promise<string | null> {
    const current = await this.current(this.folderOf(key));
    if (!current || current === 'gone' || !current.holder) return null;
    if (current.holder === this.holder) return this.holder;
    return (await this.isAlive(current.holder)) ? current.holder : null;
  }

  liveOwners(keys: readonly SessionKey[]): Promise<Array<string | null>> {
    return Promise.all(keys.map((key) => this.liveOwner(key)));
  }

  /** Holders whose heartbeat is fresh. On one machine nobody forwards requests, so no URL is given. */
  async liveHolders(): Promise<LiveHolder[]> {
    const names = await readdir(this.holders).catch(() => [] as string[]);
    const alive = await Promise.all(names.map(async (name) => ((await this.isAlive(name)) ? name : null)));
    return alive.filter((name): name is string => name !== null).map((holder) => ({ holder, url: null }));
  }

  /** The highest epoch's lease; null when the session never had one; 'gone' when the folder does not exist. */
  private async current(folder: string): Promise<LeaseFile | null | 'gone'> {
    let names: string[];
    try {
      names = await readdir(folder);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
      throw error;
    }
    const epochs = names
      .map((name) => leaseFilePattern.exec(name)?.[1])
      .filter((e): e is string => e !== undefined)
      .map(Number)
      .sort((a, b) => b - a);
    const top = epochs[0];
    if (top === undefined) return null;
    const lease = await readLease(join(folder, `lease.${top}`));
    // Removed between readdir and read (a newer epoch exists): look again.
    return lease ? { epoch: top, holder: lease.holder } : this.current(folder);
  }

  /** Creates `lease.<epoch>` complete, or returns false when that epoch already exists. */
  private async claim(folder: string, lease: LeaseFile): Promise<boolean> {
    const temp = join(folder, `.lease.${lease.epoch}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      const file = await open(temp, 'wx', 0o600);
      try {
        await file.writeFile(JSON.stringify({ ...lease, at: new Date().toISOString() }));
        await file.sync();
      } finally {
        await file.close();
      }
      await link(temp, join(folder, `lease.${lease.epoch}`));
      await syncFolder(folder);
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' || code === 'ENOENT') return false;
      throw error;
    } finally {
      await rm(temp, { force: true });
    }
  }

  private async stillHeld(lease: Lease): Promise<boolean> {
    const folder = this.folderOf(lease.key);
    const [own, next] = await Promise.all([exists(join(folder, `lease.${lease.epoch}`)), exists(join(folder, `lease.${lease.epoch + 1}`))]);
    return own && !next;
  }

  private async removeEpochsBelow(folder: string, epoch: number): Promise<void> {
    const names = await readdir(folder).catch(() => [] as string[]);
    await Promise.all(
      names.filter((name) => Number(leaseFilePattern.exec(name)?.[1] ?? Infinity) < epoch).map((name) => rm(join(folder, name), { force: true })),
    );
  }

  private async isAlive(holder: string): Promise<boolean> {
    if (!holderPattern.test(holder)) return false;
    if (holder === this.holder) return true;
    try {
      const { mtimeMs } = await stat(this.heartbeatFile(holder));
      return Date.now() - mtimeMs <= this.ttlMs;
    } catch {
      return false;
    }
  }

  /** Heartbeats of holders dead for many TTLs are clutter; their leases are takeable either way. */
  private async sweepDeadHolders(): Promise<void> {
    const names = await readdir(this.holders).catch(() => [] as string[]);
    await Promise.all(
      names.map(async (name) => {
        const path = join(this.holders, name);
        const info = await stat(path).catch(() => null);
        if (info && Date.now() - info.mtimeMs > 10 * this.ttlMs) await rm(path, { force: true });
      }),
    );
  }
}

async function readLease(path: string): Promise<LeaseFile | null> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as { epoch?: unknown; holder?: unknown };
    return { epoch: Number(parsed.epoch), holder: typeof parsed.holder === 'string' ? parsed.holder : null };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    // A lease is linked complete, so unreadable content is damage: treat it as naming nobody.
    return { epoch: 0, holder: null };
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}
