/**
 * A session's Baileys credentials in one folder, in the layout of Baileys'
 * useMultiFileAuthState (creds.json plus `<type>-<id>.json` per signal key,
 * BufferJSON-encoded), so an existing Baileys auth folder drops in and works.
 * Unlike it, every write is atomic (see atomic-file.ts): a crash mid-write
 * cannot leave a half-written creds.json behind.
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { BufferJSON, initAuthCreds, proto, type AuthenticationCreds, type SignalDataTypeMap } from '@whiskeysockets/baileys';
import { checkCredentials, CorruptCredentialsError } from '../corruption.js';
import type { SessionAuthState } from '../session-store.js';
import { drain, readFileIfExists, readPlainFileIfExists, removeFile, serialised, tempFileTag, writeFileAtomic } from './atomic-file.js';

export const credsFileName = 'creds.json';

/** The same file names Baileys' useMultiFileAuthState uses. */
export function keyFileName(type: string, id: string): string {
  return `${type}-${id}.json`.replace(/\//g, '__').replace(/:/g, '-');
}

/** The store contract's auth state; `existed` says whether creds.json was there. */
export type FileAuthState = SessionAuthState;

export { CorruptCredentialsError };

/**
 * What creds.json holds (after the writes queued to it): null when there is none (an
 * unpaired session), else checked credentials. Anything else is CorruptCredentialsError —
 * a link, a folder or a FIFO, an empty or truncated file, JSON that is not credentials.
 */
async function readCreds(path: string): Promise<AuthenticationCreds | null> {
  const text = await readPlainFileIfExists(path, (what) => new CorruptCredentialsError(`${credsFileName} is ${what}`));
  if (text === null) return null;
  if (text.length === 0) throw new CorruptCredentialsError(`${credsFileName} is empty`);
  let value: unknown;
  try {
    value = JSON.parse(text, BufferJSON.reviver);
  } catch {
    throw new CorruptCredentialsError(`${credsFileName} is not valid JSON`);
  }
  checkCredentials(value, credsFileName);
  return value as AuthenticationCreds;
}

/**
 * @param guard runs before every write and delete; it throws (LeaseLostError) when
 *              this process no longer owns the session, and the write is refused.
 */
export async function openFileAuthState(folder: string, guard: () => Promise<void> = async () => {}): Promise<FileAuthState> {
  const root = resolve(folder);
  const inside = (file: string) => {
    const path = resolve(root, file);
    if (!path.startsWith(root + sep)) throw new Error(`refusing to touch ${file}: outside the session folder`);
    return path;
  };
  let wiped = false;
  await mkdir(root, { recursive: true, mode: 0o700 });

  const read = async (file: string): Promise<unknown> => {
    const text = await readFileIfExists(inside(file));
    if (text === null) return null;
    try {
      return JSON.parse(text, BufferJSON.reviver);
    } catch {
      throw new CorruptCredentialsError(`${file} is not valid JSON`);
    }
  };
  const write = async (file: string, value: unknown) => {
    if (wiped) return;
    await writeFileAtomic(inside(file), JSON.stringify(value, BufferJSON.replacer));
  };
  const remove = (file: string) => removeFile(inside(file));
  // The lease check is async: run the session's checks one after another (whichever handle asks),
  // so the writes after them are queued in the order they were asked for — two batches writing
  // one key: the later one wins, as without a check.
  const checked = (): Promise<void> => serialised(join(root, '.lease-check'), guard);

  await removeAbandonedTempFiles(root);
  const stored = await readCreds(inside(credsFileName));
  const creds = stored ?? initAuthCreds();

  return {
    existed: stored !== null,
    state: {
      creds,
      keys: {
        get: async <T extends keyof SignalDataTypeMap>(type: T, ids: string[]) => {
          const entries = await Promise.all(
            ids.map(async (id) => {
              let value = await read(keyFileName(type, id));
              if (type === 'app-state-sync-key' && value) value = proto.Message.AppStateSyncKeyData.fromObject(value as object);
              return [id, value ?? undefined] as const;
            }),
          );
          return Object.fromEntries(entries) as { [id: string]: SignalDataTypeMap[T] };
        },
        set: async (data) => {
          await checked();
          const tasks: Promise<void>[] = [];
          for (const [type, entries] of Object.entries(data)) {
            for (const [id, value] of Object.entries(entries ?? {})) {
              const file = keyFileName(type, id);
              tasks.push(value ? write(file, value) : remove(file));
            }
          }
          await Promise.all(tasks);
        },
      },
    },
    saveCreds: async () => {
      await checked();
      await write(credsFileName, creds);
    },
    flush: () => drain(root),
    wipe: async () => {
      await checked();
      wiped = true;
      await drain(root);
      const files = await readdir(root).catch(() => [] as string[]);
      await Promise.all(files.filter((f) => f.endsWith('.json') && f !== 'session.json').map(remove));
    },
  };
}

/**
 * Temp files a crash left between write and rename: their target still holds the
 * old content. This process's own temp files are writes still in flight: kept.
 */
async function removeAbandonedTempFiles(root: string): Promise<void> {
  const files = await readdir(root).catch(() => [] as string[]);
  const abandoned = files.filter((f) => f.startsWith('.') && f.includes('.json.') && f.endsWith('.tmp') && !f.includes(`.${tempFileTag}.`));
  await Promise.all(abandoned.map((f) => rm(join(root, f), { force: true })));
}
