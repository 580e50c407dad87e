/**
 * Crash-safe file writes. A `kill -9` at any instant leaves each file either
 * its old or its new content, never a torn mix:
 *   write a temp file in the same folder → fsync it → rename over the target →
 *   fsync the folder (so the rename itself survives a power cut).
 * Writes to one path are serialised, so the last write wins in call order.
 */
import { randomBytes } from 'node:crypto';
import { lstat, open, rename, rm, readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

const queues = new Map<string, Promise<unknown>>();

/**
 * Marks this process's temp files (`.<name>.<tag>.<random>.tmp`). Random per start,
 * not the pid: after a container restart the pid is the same, and a sweep must
 * still tell a dead process's leftovers from this process's writes in flight.
 */
export const tempFileTag = randomBytes(4).toString('hex');

/** Runs `task` after every earlier task queued on `path`. */
export function serialised<T>(path: string, task: () => Promise<T>): Promise<T> {
  const previous = queues.get(path) ?? Promise.resolve();
  const next = previous.then(task, task);
  const settled = next.catch(() => undefined);
  queues.set(path, settled);
  void settled.then(() => {
    if (queues.get(path) === settled) queues.delete(path);
  });
  return next;
}

/** Waits for every queued operation on paths inside `folder`. */
export async function drain(folder: string): Promise<void> {
  const prefix = folder.endsWith('/') ? folder : `${folder}/`;
  await Promise.all([...queues.entries()].filter(([path]) => path.startsWith(prefix)).map(([, queued]) => queued));
}

export function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  return serialised(path, async () => {
    const folder = dirname(path);
    const temp = join(folder, `.${basename(path)}.${tempFileTag}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      const file = await open(temp, 'wx', 0o600);
      try {
        await file.writeFile(data);
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(temp, path);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    await syncFolder(folder);
  });
}

export function removeFile(path: string): Promise<void> {
  return serialised(path, () => rm(path, { force: true }));
}

/** The file's text, or null when it does not exist. */
export function readFileIfExists(path: string): Promise<string | null> {
  return serialised(path, async () => {
    try {
      return await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  });
}

/**
 * The file's text, or null when it does not exist, queued behind the writes to it like
 * readFileIfExists. Anything but a plain file (a link, a folder, a FIFO) is `refuse`d
 * without being followed or read: a link may point anywhere, and a FIFO would hang the read.
 */
export function readPlainFileIfExists(path: string, refuse: (what: string) => Error): Promise<string | null> {
  return serialised(path, async () => {
    let info;
    try {
      info = await lstat(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    if (info.isSymbolicLink()) throw refuse('a symbolic link, not a file');
    if (!info.isFile()) throw refuse('not a regular file');
    return readFile(path, 'utf8');
  });
}

/** fsync a folder, so a rename or link in it survives a power cut. */
export async function syncFolder(folder: string): Promise<void> {
  const handle = await open(folder, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
