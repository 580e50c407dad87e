/**
 * Outgoing messages as files in the session's folder:
 *
 *   messages/queued/<id>.json   accepted, not yet acknowledged by WhatsApp's server
 *   messages/done/<id>.json     sent, delivered, read or failed (kept for retry receipts)
 *
 * One file per message, written atomically (temp, fsync, rename, fsync folder),
 * so a kill -9 leaves each message whole; the queue's depth is a directory
 * listing, not a read of every message. A message leaves `queued/` only after
 * its `done/` file is written: a crash in between leaves both, and `done/` wins.
 * Every write confirms the session's lease first and runs after the session's
 * earlier message writes (one queue per session).
 */
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Lease, Ownership } from '../ownership.js';
import type { SessionKey } from '../session-key.js';
import {
  checkedMessageId,
  checkedRecord,
  mergeChange,
  newQueuedMessage,
  QueueFullError,
  type MessageChange,
  type MessageQueue,
  type MessageStatus,
  type NewOutgoingMessage,
  type OutgoingMessage,
} from '../message-queue.js';
import { readFileIfExists, removeFile, serialised, writeFileAtomic } from './atomic-file.js';

const messagesFolderName = 'messages';

export class FileMessageQueue implements MessageQueue {
  constructor(
    private readonly folderOf: (key: SessionKey) => string,
    private readonly ownership: Ownership,
  ) {}

  async accept(lease: Lease, message: NewOutgoingMessage, maxQueued: number): Promise<{ created: boolean; message: OutgoingMessage }> {
    const id = checkedMessageId(message.id);
    return this.write(lease, async () => {
      const existing = await this.get(lease.key, id);
      if (existing) return { created: false, message: existing };
      const queued = this.folder(lease.key, 'queued');
      await mkdir(queued, { recursive: true, mode: 0o700 });
      if ((await jsonFiles(queued)).length >= maxQueued) throw new QueueFullError(maxQueued);
      const stored = newQueuedMessage({ ...message, id });
      await writeFileAtomic(join(queued, `${id}.json`), JSON.stringify(stored));
      return { created: true, message: stored };
    });
  }

  async get(key: SessionKey, id: string): Promise<OutgoingMessage | null> {
    const checked = checkedMessageId(id);
    return (await this.read(key, 'done', checked)) ?? (await this.read(key, 'queued', checked));
  }

  async list(key: SessionKey, status?: MessageStatus): Promise<OutgoingMessage[]> {
    const done = await this.readAll(key, 'done');
    const doneIds = new Set(done.map((m) => m.id));
    const queued = (await this.readAll(key, 'queued')).filter((m) => !doneIds.has(m.id));
    const all = [...queued, ...done].filter((m) => status === undefined || m.status === status);
    return all.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  async update(lease: Lease, id: string, change: MessageChange): Promise<OutgoingMessage | null> {
    const checked = checkedMessageId(id);
    return this.write(lease, async () => {
      const current = await this.get(lease.key, checked);
      if (!current) return null;
      const next = mergeChange(current, change);
      if (next.status === 'queued') {
        await writeFileAtomic(join(this.folder(lease.key, 'queued'), `${checked}.json`), JSON.stringify(next));
        return next;
      }
      const done = this.folder(lease.key, 'done');
      await mkdir(done, { recursive: true, mode: 0o700 });
      await writeFileAtomic(join(done, `${checked}.json`), JSON.stringify(next));
      await removeFile(join(this.folder(lease.key, 'queued'), `${checked}.json`));
      return next;
    });
  }

  async restore(lease: Lease, records: readonly OutgoingMessage[]): Promise<void> {
    const checked = records.map(checkedRecord);
    return this.write(lease, async () => {
      const ids = new Set<string>();
      for (const record of checked) {
        if (ids.has(record.id) || (await this.get(lease.key, record.id))) throw new Error(`message ${record.id} is already in the session, not overwritten`);
        ids.add(record.id);
      }
      for (const record of checked) {
        // Where accept and update would have left it: queued/ until the server acknowledged it, done/ after.
        const folder = this.folder(lease.key, record.status === 'queued' ? 'queued' : 'done');
        await mkdir(folder, { recursive: true, mode: 0o700 });
        await writeFileAtomic(join(folder, `${record.id}.json`), JSON.stringify(record));
      }
    });
  }

  prune(lease: Lease, before: Date): Promise<number> {
    return this.write(lease, async () => {
      const cutoff = before.toISOString();
      let pruned = 0;
      for (const message of await this.readAll(lease.key, 'done')) {
        if (message.createdAt >= cutoff) continue;
        await removeFile(join(this.folder(lease.key, 'done'), `${message.id}.json`));
        await removeFile(join(this.folder(lease.key, 'queued'), `${message.id}.json`));
        pruned += 1;
      }
      return pruned;
    });
  }

  private folder(key: SessionKey, part: 'queued' | 'done'): string {
    return join(this.folderOf(key), messagesFolderName, part);
  }

  /** One session's message writes in call order, each behind a confirmed lease. */
  private write<T>(lease: Lease, task: () => Promise<T>): Promise<T> {
    return serialised(join(this.folderOf(lease.key), messagesFolderName), async () => {
      await this.ownership.confirm(lease);
      return task();
    });
  }

  private async read(key: SessionKey, part: 'queued' | 'done', id: string): Promise<OutgoingMessage | null> {
    const text = await readFileIfExists(join(this.folder(key, part), `${id}.json`));
    if (text === null) return null;
    try {
      return JSON.parse(text) as OutgoingMessage;
    } catch {
      // Whole files are all this store writes: anything else here is not one of its messages.
      return null;
    }
  }

  private async readAll(key: SessionKey, part: 'queued' | 'done'): Promise<OutgoingMessage[]> {
    const folder = this.folder(key, part);
    const messages: OutgoingMessage[] = [];
    for (const name of await jsonFiles(folder)) {
      const message = await this.read(key, part, name.slice(0, -'.json'.length));
      if (message) messages.push(message);
    }
    return messages;
  }
}

/** The `<id>.json` files of a folder (temp files and strays are not messages); none when it does not exist. */
async function jsonFiles(folder: string): Promise<string[]> {
  try {
    return (await readdir(folder)).filter((name) => name.endsWith('.json') && !name.startsWith('.'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
