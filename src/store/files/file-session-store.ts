/**
 * The sessions/ folder: `sessions/<userId>/<sessionId>/` per session, holding
 * its Baileys credentials, its `session.json` and its lease files.
 *
 * Reads need nothing; every write takes the session's lease and confirms it
 * first (see ../ownership.ts), so a process that lost a session writes nothing more.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, rmdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Lease, Ownership } from '../ownership.js';
import { checkedSessionKey, idPattern, type SessionKey } from '../session-key.js';
import type { SessionAuthState, SessionMeta, SessionStore } from '../session-store.js';
import { readFileIfExists, writeFileAtomic } from './atomic-file.js';
import { credsFileName, openFileAuthState } from './file-auth-state.js';

export const metaFileName = 'session.json';

export class FileSessionStore implements SessionStore {
  readonly root: string;

  constructor(
    root: string,
    readonly ownership: Ownership,
  ) {
    this.root = resolve(root);
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
    await mkdir(join(this.root, key.userId), { recursive: true, mode: 0o700 });
    try {
      await mkdir(this.folderOf(key), { mode: 0o700 });
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    }
  }

  async readMeta(key: SessionKey): Promise<SessionMeta | null> {
    const text = await readFileIfExists(join(this.folderOf(key), metaFileName));
    if (text === null) return null;
    try {
      return JSON.parse(text) as SessionMeta;
    } catch {
      return null;
    }
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
    return (await readFileIfExists(join(this.folderOf(key), credsFileName))) !== null;
  }

  /** Removes the session's folder at once (renamed away first, so no half-deleted session is ever listed). */
  async remove(lease: Lease): Promise<void> {
    await this.ownership.confirm(lease);
    const trash = join(this.root, `.removed-${randomBytes(6).toString('hex')}`);
    await rename(this.folderOf(lease.key), trash);
    await rm(trash, { recursive: true, force: true });
    // An empty user folder is clutter; one that still holds sessions stays (rmdir refuses).
    await rmdir(join(this.root, lease.key.userId)).catch(() => undefined);
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
