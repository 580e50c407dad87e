/**
 * The sessions/ folder: `sessions/<userId>/<sessionId>/` per session, holding
 * its Baileys credentials, its `session.json` and its lock.
 */
import { mkdir, readdir, rm, rmdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { readFileIfExists, writeFileAtomic } from './atomic-file.js';
import { openFileAuthState, type FileAuthState } from './file-auth-state.js';
import { acquireSessionLock, type SessionLock } from './session-lock.js';
import { checkedSessionKey, idPattern, type SessionKey } from './session-key.js';

export const metaFileName = 'session.json';

/** What the service remembers of a session besides its credentials. */
export interface SessionMeta {
  userId: string;
  sessionId: string;
  createdAt: string;
  /** Whether it should be running: restored on boot when true. */
  shouldRun: boolean;
  /** Why it last ended, when it did. */
  terminatedReason: string | null;
}

export class SessionStore {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  folderOf(key: SessionKey): string {
    const checked = checkedSessionKey(key.userId, key.sessionId);
    return join(this.root, checked.userId, checked.sessionId);
  }

  async ensureFolder(key: SessionKey): Promise<string> {
    const folder = this.folderOf(key);
    await mkdir(folder, { recursive: true, mode: 0o700 });
    return folder;
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

  async writeMeta(meta: SessionMeta): Promise<void> {
    const folder = await this.ensureFolder(meta);
    await writeFileAtomic(join(folder, metaFileName), JSON.stringify(meta, null, 2));
  }

  openAuthState(key: SessionKey): Promise<FileAuthState> {
    return openFileAuthState(this.folderOf(key));
  }

  lock(key: SessionKey): Promise<SessionLock> {
    return acquireSessionLock(this.folderOf(key));
  }

  async remove(key: SessionKey): Promise<void> {
    const folder = this.folderOf(key);
    await rm(folder, { recursive: true, force: true });
    // The user's folder goes with its last session; rmdir refuses (ENOTEMPTY) while another session is in it.
    await rmdir(dirname(folder)).catch(() => undefined);
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
