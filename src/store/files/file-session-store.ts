/**
 * The sessions/ folder: `sessions/<userId>/<sessionId>/` per session, holding
 * its Baileys credentials, its `session.json` and its lease files.
 *
 * Reads need nothing; every write takes the session's lease and confirms it
 * first (see ../ownership.ts), so a process that lost a session writes nothing more.
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, rename, rm, rmdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { checkedMeta, CorruptMetaError } from '../corruption.js';
import type { Lease, Ownership } from '../ownership.js';
import { checkedSessionKey, idPattern, type SessionKey } from '../session-key.js';
import type { SessionAuthState, SessionMeta, SessionStore } from '../session-store.js';
import { readPlainFileIfExists, writeFileAtomic } from './atomic-file.js';
import { credsFileName, openFileAuthState } from './file-auth-state.js';
import { FileMessageQueue } from './file-message-queue.js';
import { removedFolderName } from './leftovers.js';

export const metaFileName = 'session.json';
/** The file a degraded process writes (and removes) to learn that the disk takes writes again. */
export const storageProbeFileName = '.storage-probe';

export class FileSessionStore implements SessionStore {
  readonly root: string;
  readonly messages: FileMessageQueue;

  constructor(
    root: string,
    readonly ownership: Ownership,
  ) {
    this.root = resolve(root);
    this.messages = new FileMessageQueue((key) => this.folderOf(key), ownership);
  }

  get location(): string {
    return this.root;
  }

  folderOf(key: SessionKey): string {
    const checked = checkedSessionKey(key.userId, key.sessionId);
    return join(this.root, checked.userId, checked.sessionId);
  }

  /** Makes the session's folder; true when it did not exist before. */
  async create(key: SessionKey): Promise<boolean> {
    // Not recursive first: on a read-only file system a recursive mkdir reports ENOENT, hiding the EROFS.
    await mkdir(join(this.root, key.userId), { mode: 0o700 }).catch(async (error: NodeJS.ErrnoException) => {
      if (error.code === 'EEXIST') return;
      if (error.code !== 'ENOENT') throw error;
      await mkdir(join(this.root, key.userId), { recursive: true, mode: 0o700 });
    });
    try {
      await mkdir(this.folderOf(key), { mode: 0o700 });
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    }
  }

  /** The metadata; null when there is no session.json (a create that never finished); CorruptMetaError when it is damaged. */
  async readMeta(key: SessionKey): Promise<SessionMeta | null> {
    const path = join(this.folderOf(key), metaFileName);
    const text = await readPlainFileIfExists(path, (what) => new CorruptMetaError(`${metaFileName} is ${what}`));
    if (text === null) return null;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new CorruptMetaError(text.length === 0 ? `${metaFileName} is empty` : `${metaFileName} is not valid JSON`);
    }
    return checkedMeta(parsed, key, metaFileName);
  }

  async writeMeta(lease: Lease, meta: SessionMeta): Promise<void> {
    await this.ownership.confirm(lease);
    await writeFileAtomic(join(this.folderOf(lease.key), metaFileName), JSON.stringify(meta, null, 2));
  }

  /**
   * The session's credentials; every write confirms `lease` first and is refused
   * (LeaseLostError, also handed to `onRefused`) once it is lost.
   */
  openAuthState(lease: Lease, onRefused: (error: unknown) => void = () => {}): Promise<SessionAuthState> {
    return openFileAuthState(this.folderOf(lease.key), () =>
      this.ownership.confirm(lease).catch((error: unknown) => {
        onRefused(error);
        throw error;
      }),
    );
  }

  /** Whether the session's folder holds Baileys credentials (creds.json). */
  async hasCredentials(key: SessionKey): Promise<boolean> {
    // Whatever is there counts, a damaged file too: it is reported, never taken for "unpaired".
    return (await lstat(join(this.folderOf(key), credsFileName)).catch(() => null)) !== null;
  }

  /**
   * Removes the session's folder at once (renamed away first, so no half-deleted session is ever
   * listed). The trash is named after this holder: if the process dies before the rm finishes,
   * another one sweeps it once this holder is seen dead (FileOwnership.sweepLeftovers), never before.
   */
  async remove(lease: Lease): Promise<void> {
    await this.ownership.confirm(lease);
    const trash = join(this.root, removedFolderName(this.ownership.holder));
    await rename(this.folderOf(lease.key), trash);
    await rm(trash, { recursive: true, force: true });
    // An empty user folder is clutter; one that still holds sessions stays (rmdir refuses).
    await rmdir(join(this.root, lease.key.userId)).catch(() => undefined);
  }

  /** Writes (fsynced) and removes a small file at the root: the disk takes writes. */
  async probeWrite(): Promise<void> {
    const path = join(this.root, storageProbeFileName);
    await writeFileAtomic(path, new Date().toISOString());
    await rm(path, { force: true });
  }

  /** Removes the folder of a create that never finished: one with no session.json and no creds.json. */
  async discard(key: SessionKey): Promise<void> {
    const folder = this.folderOf(key);
    const names = await readdir(folder).catch(() => null);
    if (!names || names.includes(metaFileName) || names.includes(credsFileName)) return;
    const trash = join(this.root, `.removed-${randomBytes(6).toString('hex')}`);
    await rename(folder, trash);
    await rm(trash, { recursive: true, force: true });
    await rmdir(join(this.root, key.userId)).catch(() => undefined);
  }

  /** Every session folder with valid ids, in name order; anything else under the root is ignored. */
  async list(): Promise<SessionKey[]> {
    const keys: SessionKey[] = [];
    for (const userId of await subfolders(this.root)) {
      if (!idPattern.test(userId)) continue;
      for (const sessionId of await subfolders(join(this.root, userId))) {
        if (idPattern.test(sessionId)) keys.push({ userId, sessionId });
      }
    }
    return keys;
  }
}

async function subfolders(folder: string): Promise<string[]> {
  try {
    const entries = await readdir(folder, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  } catch {
    return [];
  }
}
