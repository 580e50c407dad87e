/**
 * The outbox on files: `sessions/.outbox/<first id>.events`, one segment file
 * per batch of appends, one event per line (JSON). A segment is written whole
 * to a temp file, fsynced, renamed into place, and the folder fsynced, then
 * never changed: a kill at any instant leaves each segment whole or absent.
 * Group commit: appends that arrive while a segment is being written go
 * together into the next one, so a burst of transitions costs one write and
 * two fsyncs, not two per event. Cursors live in `cursors.json` beside them,
 * replaced atomically. Prune deletes whole segments.
 *
 * Every retained event is also kept in memory, in id order, so reads cost no I/O.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { readFileIfExists, syncFolder, writeFileAtomic } from '../../store/files/atomic-file.js';
import { eventIdPattern } from '../event-id.js';
import type { FleetEvent } from '../fleet-event.js';
import type { Outbox } from '../outbox.js';

export const outboxFolderName = '.outbox';
export const segmentSuffix = '.events';
const cursorsFileName = 'cursors.json';
/** The highest id ever pruned, so a resume from below it is known to have a gap, after restarts too. */
const prunedFileName = 'pruned.json';

export interface FileOutboxOptions {
  /** Events every subscription is done with are kept this long for GET /events resume. Default 1 h. */
  retentionMs?: number;
}

export const defaultRetentionMs = 60 * 60 * 1000;

interface Pending {
  events: readonly FleetEvent[];
  resolve: () => void;
  reject: (error: unknown) => void;
}

export class FileOutbox implements Outbox {
  readonly folder: string;
  private readonly retentionMs: number;
  private events: FleetEvent[] = [];
  /** The segment files, oldest first, with the id of the last event in each. */
  private segments: Array<{ name: string; lastId: string }> = [];
  private cursors = new Map<string, string | null>();
  private pruned: string | null = null;
  private queue: Pending[] = [];
  private writing: Promise<void> | null = null;
  private made: Promise<unknown> | null = null;
  private cursorWrite: Promise<void> = Promise.resolve();
  private cursorQueued: Promise<void> | null = null;
  private readonly listeners = new Set<(events: readonly FleetEvent[]) => void>();

  constructor(sessionsDir: string, options: FileOutboxOptions = {}) {
    this.folder = join(sessionsDir, outboxFolderName);
    this.retentionMs = options.retentionMs ?? defaultRetentionMs;
  }

  async open(): Promise<void> {
    // Made on the first write, not here: a service nobody subscribes to and whose sessions never change leaves no trace.
    const names = (await readdir(this.folder).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? [] : Promise.reject(error)))).sort();
    for (const name of names) {
      // A temp file is a write a crash interrupted before its rename: those events were never emitted.
      if (name.endsWith('.tmp')) {
        await rm(join(this.folder, name), { force: true });
        continue;
      }
      if (!name.endsWith(segmentSuffix) || !eventIdPattern.test(name.slice(0, -segmentSuffix.length))) continue;
      let events: FleetEvent[];
      try {
        events = (await readFile(join(this.folder, name), 'utf8'))
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line) as FleetEvent);
      } catch {
        // Unreadable despite the rename protocol (a disk fault): start without it rather than not at all.
        continue;
      }
      if (events.length === 0) continue;
      this.events.push(...events);
      this.segments.push({ name, lastId: events.at(-1)!.id });
    }
    this.events.sort((a, b) => compare(a.id, b.id));
    const pruned = await readFileIfExists(join(this.folder, prunedFileName));
    if (pruned) this.pruned = (JSON.parse(pruned) as { through: string }).through;
    const text = await readFileIfExists(join(this.folder, cursorsFileName));
    if (text) this.cursors = new Map(Object.entries(JSON.parse(text) as Record<string, string | null>));
  }

  append(events: readonly FleetEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    const done = new Promise<void>((resolve, reject) => this.queue.push({ events, resolve, reject }));
    this.writing ??= this.writeBatches();
    return done;
  }

  async read(afterId: string | null, limit: number): Promise<FleetEvent[]> {
    const start = afterId === null ? 0 : firstAbove(this.events, afterId);
    return this.events.slice(start, start + limit);
  }

  newestId(): string | null {
    return this.events.at(-1)?.id ?? null;
  }

  oldestId(): string | null {
    return this.events[0]?.id ?? null;
  }

  /** Kept across restarts. */
  prunedThrough(): string | null {
    return this.pruned;
  }

  cursor(subscriptionId: string): string | null | undefined {
    return this.cursors.has(subscriptionId) ? this.cursors.get(subscriptionId)! : undefined;
  }

  ack(subscriptionId: string, eventId: string | null): Promise<void> {
    this.cursors.set(subscriptionId, eventId);
    return this.saveCursors();
  }

  dropCursor(subscriptionId: string): Promise<void> {
    this.cursors.delete(subscriptionId);
    return this.saveCursors();
  }

  depth(): number {
    const slowest = this.slowestCursor();
    if (slowest === undefined) return 0;
    return this.events.length - (slowest === null ? 0 : firstAbove(this.events, slowest));
  }

  async prune(now: number): Promise<number> {
    const slowest = this.slowestCursor();
    const passedBy = slowest === undefined ? this.events.length : slowest === null ? 0 : firstAbove(this.events, slowest);
    let prunable = 0;
    while (prunable < passedBy && Date.parse(this.events[prunable]!.time) < now - this.retentionMs) prunable += 1;
    if (prunable === 0) return 0;
    // Whole segments only: the ones whose last event is prunable.
    const limit = this.events[prunable - 1]!.id;
    const gone = this.segments.filter((segment) => segment.lastId <= limit);
    if (gone.length === 0) return 0;
    const through = gone.at(-1)!.lastId;
    this.segments = this.segments.slice(gone.length);
    const count = firstAbove(this.events, through);
    this.events = this.events.slice(count);
    this.pruned = through;
    await this.ensureFolder();
    await writeFileAtomic(join(this.folder, prunedFileName), JSON.stringify({ through }));
    await Promise.all(gone.map((segment) => rm(join(this.folder, segment.name), { force: true })));
    return count;
  }

  async close(): Promise<void> {
    while (this.writing) await this.writing;
    await this.cursorWrite;
  }

  onAppended(listener: (events: readonly FleetEvent[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** undefined: no subscription; null: one that has passed nothing. */
  private slowestCursor(): string | null | undefined {
    let slowest: string | undefined;
    for (const cursor of this.cursors.values()) {
      if (cursor === null) return null;
      if (slowest === undefined || compare(cursor, slowest) < 0) slowest = cursor;
    }
    return slowest;
  }

  private async writeBatches(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      const events = batch.flatMap((pending) => pending.events);
      const name = `${events[0]!.id}${segmentSuffix}`;
      try {
        await this.writeSegment(name, events);
      } catch (error) {
        for (const pending of batch) pending.reject(error);
        continue;
      }
      // Ids were made in order and segments are written one at a time, so this keeps the array sorted.
      this.events.push(...events);
      this.segments.push({ name, lastId: events.at(-1)!.id });
      for (const pending of batch) pending.resolve();
      for (const listener of this.listeners) listener(events);
    }
    this.writing = null;
  }

  private ensureFolder(): Promise<unknown> {
    this.made ??= mkdir(this.folder, { recursive: true, mode: 0o700 }).catch((error: unknown) => {
      this.made = null;
      throw error;
    });
    return this.made;
  }

  private async writeSegment(name: string, events: readonly FleetEvent[]): Promise<void> {
    await this.ensureFolder();
    const path = join(this.folder, name);
    const temp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
    const file = await open(temp, 'wx', 0o600);
    try {
      await file.writeFile(events.map((event) => JSON.stringify(event)).join('\n') + '\n');
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, path);
    await syncFolder(this.folder);
  }

  /**
   * One write at a time, each of the whole set as it is when the write starts:
   * acks that arrive while one is queued share it (a burst of acks is one fsync).
   */
  private saveCursors(): Promise<void> {
    if (this.cursorQueued) return this.cursorQueued;
    const path = join(this.folder, cursorsFileName);
    const queued = this.cursorWrite
      .catch(() => undefined)
      .then(async () => {
        this.cursorQueued = null;
        await this.ensureFolder();
        return writeFileAtomic(path, JSON.stringify(Object.fromEntries(this.cursors)));
      });
    this.cursorQueued = queued;
    this.cursorWrite = queued;
    return queued;
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Index of the first event whose id is above `id` (binary search). */
function firstAbove(events: readonly FleetEvent[], id: string): number {
  let low = 0;
  let high = events.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (events[mid]!.id <= id) low = mid + 1;
    else high = mid;
  }
  return low;
}
