/**
 * One process per session. Two processes driving the same credentials log in
 * twice, WhatsApp replaces one (440), it reconnects and replaces the other:
 * the conflict ping-pong. A lock file in the session folder prevents it.
 *
 * The lock is `.lock` holding the owner's pid. It is created exclusively
 * (O_EXCL); a lock whose pid is no longer alive on this host is stale and
 * taken over.
 */
import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

export const lockFileName = '.lock';

export interface SessionLock {
  release(): Promise<void>;
}

export class SessionLockedError extends Error {
  readonly code = 'ERR_SESSION_LOCKED';
  constructor(readonly ownerPid: number) {
    super(`session is held by process ${ownerPid}`);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function acquireSessionLock(folder: string): Promise<SessionLock> {
  const path = join(folder, lockFileName);
  for (let tries = 0; tries < 3; tries++) {
    try {
      const file = await open(path, 'wx', 0o600);
      await file.writeFile(JSON.stringify({ pid: process.pid, since: new Date().toISOString() }));
      await file.sync();
      await file.close();
      return {
        release: async () => {
          const owner = await readOwner(path);
          if (owner === process.pid) await rm(path, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = await readOwner(path);
      if (owner === process.pid) throw new SessionLockedError(owner);
      if (owner !== null && isAlive(owner)) throw new SessionLockedError(owner);
      await rm(path, { force: true }); // stale: its process is gone
    }
  }
  throw new SessionLockedError(-1);
}

async function readOwner(path: string): Promise<number | null> {
  try {
    const { pid } = JSON.parse(await readFile(path, 'utf8')) as { pid?: unknown };
    return typeof pid === 'number' ? pid : null;
  } catch {
    return null;
  }
}
