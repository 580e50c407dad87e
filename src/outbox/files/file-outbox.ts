/**
 * The outbox on files: `sessions/.outbox/<first id>.events`, one event per
 * line (JSON), a handful of segment files however high the event rate.
 *
 * Segments roll. A batch of appends goes to the open (newest) segment: written
 * at its known end and fdatasynced before the append resolves. A segment is
 * closed, and the next batch starts a new one, when it reaches its size
 * (OUTBOX_MAX_BYTES / 24, from 256 KiB to 64 MiB) or its first event is older
 * than a twelfth of the retention (so prune, which deletes whole closed
 * segments, frees space in steps of at most that). Rolling by age stops while
 * 24 segments exist, so the folder holds at most about 50 files.
 *
 * Crash safety. A new segment is written whole to a temp file, fsynced,
 * renamed into place and the folder fsynced; appends to it then only add
 * lines after the synced end. A kill at any instant leaves every event whole
 * or absent: on open, a torn last line (an append a crash cut) is cut off,
 * a line that does not parse is skipped, and temp files are deleted. After a
 * failed write the segment is cut back to its synced end and closed; the next
 * attempt starts a new one.
 * Group commit: appends that arrive while a batch is being written go together
 * into the next write, so a burst of transitions costs one write and one sync.
 *
 * Storage faults (ENOSPC, EIO, EROFS…): the batch stays in memory, in order,
 * ahead of later appends, and is written again with backoff (100 ms doubling to
 * 5 s) until the disk takes it: nothing is lost once space returns. At most
 * maxUnstoredEvents wait in memory; past that the oldest are rejected, counted
 * (stats().droppedEvents) and reported to the caller, never silently.
 *
 * The limit (maxBytes, OUTBOX_MAX_BYTES). Past it, delivered events go first
 * (oldest closed segments, retention or not: a GET /events resume from before
 * them gets a `gap`). If undelivered events alone are over it, the slowest
 * subscription is let go (`onBacklog`: the event service pauses it with reason
 * `backlog`): its cursor no longer holds events, and on resume it continues
 * from the oldest event still kept. Appends are never refused or delayed.
 *
 * Cursors live in `cursors.json` beside them, replaced atomically.
 * Every retained event is also kept in memory, in id order, so reads cost no I/O.
 */
import { randomBytes } from 'node:crypto';
import * as nodeFs from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../logging/logger.js';
import { readFileIfExists, syncFolder, writeFileAtomic } from '../../store/files/atomic-file.js';
import { AppendQueue, type AppendRetryOptions, type PendingAppend } from '../append-queue.js';
import { eventIdPattern } from '../event-id.js';
import type { FleetEvent } from '../fleet-event.js';
import { defaultOutboxMaxBytes, defaultRetentionMs, type Outbox, type OutboxBacklog, type OutboxStats, type SessionEventsQuery } from '../outbox.js';
import type { SessionKey } from '../../store/session-key.js';

export const outboxFolderName = '.outbox';
export const segmentSuffix = '.events';
const cursorsFileName = 'cursors.json';
/** The highest id ever pruned, so a resume from below it is known to have a gap, after restarts too. */
const prunedFileName = 'pruned.json';

/** The file operations the outbox uses; a test swaps in failing ones. */
export interface OutboxFileSystem {
  open(path: string, flags: string, mode?: number): Promise<FileHandle>;
  rename(from: string, to: string): Promise<void>;
  rm(path: string, options: { force: boolean }): Promise<void>;
  readdir(path: string): Promise<string[]>;
  readFile(path: string): Promise<Buffer>;
  truncate(path: string, length: number): Promise<void>;
  mkdir(path: string, options: { recursive: true; mode: number }): Promise<unknown>;
  syncFolder(path: string): Promise<void>;
}

const realFileSystem: OutboxFileSystem = {
  open: (path, flags, mode) => nodeFs.open(path, flags, mode),
  rename: nodeFs.rename,
  rm: nodeFs.rm,
  readdir: (path) => nodeFs.readdir(path),
  readFile: (path) => nodeFs.readFile(path),
  truncate: nodeFs.truncate,
  mkdir: nodeFs.mkdir,
  syncFolder,
};

/** Also AppendRetryOptions: maxUnstoredEvents, retryFirstMs, retryMaxMs and the write-failure hooks (storage health, metrics). */
export interface FileOutboxOptions extends AppendRetryOptions {
  /** Events every subscription is done with are kept this long for GET /events resume. Default 1 h. */
  retentionMs?: number;
  /** Bytes of stored events before delivered ones are pruned early and the slowest subscription is let go. Default 128 MiB. */
  maxBytes?: number;
  /** Default Date.now. */
  now?: () => number;
  fs?: OutboxFileSystem;
  /** Storage faults, their end, and limit enforcement are logged here. */
  logger?: Logger;
}

/** Segments at the size limit: the folder's file count by size stays near this. */
const segmentsPerMaxBytes = 24;
/** Rolling by age stops at this many segments (only size rolls then). */
const maxSegmentsForAgeRoll = 24;
const minSegmentBytes = 256 * 1024;
const maxSegmentBytes = 64 * 1024 * 1024;


interface Segment {
  name: string;
  lastId: string;
  bytes: number;
  /** Time of its first event (ms), for rolling by age. */
  startedAt: number;
}

interface OpenSegment {
  segment: Segment;
  handle: FileHandle;
}

export class FileOutbox implements Outbox {
  readonly folder: string;
  private readonly retentionMs: number;
  private readonly maxBytes: number;
  private readonly segmentBytes: number;
  private readonly now: () => number;
  private readonly fs: OutboxFileSystem;
  private readonly logger: Logger | null;
  private events: FleetEvent[] = [];
  /** The segment files, oldest first; the last one may be open for appends. */
  private segments: Segment[] = [];
  private current: OpenSegment | null = null;
  private cursors = new Map<string, string | null>();
  /** Subscriptions let go for backlog, with the cursor they had then: their cursor holds nothing. */
  private released = new Map<string, string | null>();
  private pruned: string | null = null;
  private readonly appends: AppendQueue<void>;
  private made: Promise<unknown> | null = null;
  private cursorWrite: Promise<void> = Promise.resolve();
  private cursorQueued: Promise<void> | null = null;
  private readonly listeners = new Set<(events: readonly FleetEvent[]) => void>();
  private readonly backlogListeners = new Set<(backlog: OutboxBacklog) => void>();
  private readonly counters = { releasedSubscriptions: 0, earlyPrunedEvents: 0 };

  constructor(
    sessionsDir: string,
    private readonly options: FileOutboxOptions = {},
  ) {
    this.folder = join(sessionsDir, outboxFolderName);
    this.retentionMs = options.retentionMs ?? defaultRetentionMs;
    this.maxBytes = options.maxBytes ?? defaultOutboxMaxBytes;
    this.segmentBytes = Math.min(maxSegmentBytes, Math.max(minSegmentBytes, Math.floor(this.maxBytes / segmentsPerMaxBytes)));
    this.now = options.now ?? Date.now;
    this.fs = options.fs ?? realFileSystem;
    this.logger = options.logger ?? null;
    // The options' retry settings (maxUnstoredEvents, retryFirstMs, retryMaxMs, the failure hooks) go to the queue as they are.
    this.appends = new AppendQueue({ ...options, write: (events) => this.writeEvents(events), written: (batch, _result, events) => this.stored(batch, events), medium: 'disk', logger: this.logger });
  }

  async open(): Promise<void> {
    // Made on the first write, not here: a service nobody subscribes to and whose sessions never change leaves no trace.
    const names = (await this.fs.readdir(this.folder).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? [] : Promise.reject(error)))).sort();
    for (const name of names) {
      // A temp file is a write a crash interrupted before its rename: those events were never emitted.
      if (name.endsWith('.tmp')) {
        await this.fs.rm(join(this.folder, name), { force: true });
        continue;
      }
      if (!name.endsWith(segmentSuffix) || !eventIdPattern.test(name.slice(0, -segmentSuffix.length))) continue;
      const loaded = await this.loadSegment(name);
      if (!loaded) continue;
      if (loaded.events.length === 0) {
        // A segment a crash cut before its first whole line: nothing in it was ever emitted. (Damaged lines are left for a person to look at.)
        if (loaded.bytes === 0) await this.fs.rm(join(this.folder, name), { force: true }).catch(() => undefined);
        continue;
      }
      this.events.push(...loaded.events);
      this.segments.push({ name, lastId: loaded.events.at(-1)!.id, bytes: loaded.bytes, startedAt: Date.parse(loaded.events[0]!.time) });
    }
    this.events.sort((a, b) => compare(a.id, b.id));
    // A segment merged by hand or replayed twice must not show an event twice.
    this.events = this.events.filter((event, index, all) => index === 0 || all[index - 1]!.id !== event.id);
    const pruned = await readFileIfExists(join(this.folder, prunedFileName));
    if (pruned) this.pruned = (JSON.parse(pruned) as { through: string }).through;
    const text = await readFileIfExists(join(this.folder, cursorsFileName));
    if (text) this.cursors = new Map(Object.entries(JSON.parse(text) as Record<string, string | null>));
  }

  append(events: readonly FleetEvent[]): Promise<void> {
    return this.appends.append(events);
  }

  async read(afterId: string | null, limit: number): Promise<FleetEvent[]> {
    const start = afterId === null ? 0 : firstAbove(this.events, afterId);
    return this.events.slice(start, start + limit);
  }

  /**
   * Walks the retained events (all in memory, in id order) backwards from `beforeId`
   * and stops once `limit` match: no I/O, and a busy session costs about `limit` steps.
   * A quiet session among busy ones costs up to one step per retained event (the
   * retention and OUTBOX_MAX_BYTES bound that), which stays cheap next to a disk read.
   */
  async sessionEvents(key: SessionKey, query: SessionEventsQuery): Promise<FleetEvent[]> {
    const found: FleetEvent[] = [];
    const start = query.beforeId === undefined ? this.events.length : firstAtOrAbove(this.events, query.beforeId);
    for (let index = start - 1; index >= 0 && found.length < query.limit; index -= 1) {
      const event = this.events[index]!;
      if (event.userId !== key.userId || event.sessionId !== key.sessionId) continue;
      if (query.types && !query.types.includes(event.type)) continue;
      found.push(event);
    }
    return found;
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
    // Delivering again after a backlog release: its cursor holds events again.
    if (this.released.has(subscriptionId) && this.released.get(subscriptionId) !== eventId) this.released.delete(subscriptionId);
    this.cursors.set(subscriptionId, eventId);
    return this.saveCursors();
  }

  dropCursor(subscriptionId: string): Promise<void> {
    this.cursors.delete(subscriptionId);
    this.released.delete(subscriptionId);
    return this.saveCursors();
  }

  cursorIds(): string[] {
    return [...this.cursors.keys()];
  }

  depth(): number {
    const slowest = this.slowestCursor(true);
    if (slowest === undefined) return 0;
    return this.events.length - (slowest === null ? 0 : firstAbove(this.events, slowest));
  }

  stats(): OutboxStats {
    return {
      bytes: this.segments.reduce((sum, segment) => sum + segment.bytes, 0),
      maxBytes: this.maxBytes,
      files: this.segments.length,
      events: this.events.length,
      unstoredEvents: this.appends.unstoredEvents,
      writeFailures: new Map(this.appends.writeFailures),
      droppedEvents: this.appends.droppedEvents,
      earlyPrunedEvents: this.counters.earlyPrunedEvents,
      releasedSubscriptions: this.counters.releasedSubscriptions,
    };
  }

  onBacklog(listener: (backlog: OutboxBacklog) => void): () => void {
    this.backlogListeners.add(listener);
    return () => this.backlogListeners.delete(listener);
  }

  async prune(now: number): Promise<number> {
    const slowest = this.slowestCursor(false);
    const passedBy = slowest === undefined ? this.events.length : slowest === null ? 0 : firstAbove(this.events, slowest);
    let prunable = 0;
    while (prunable < passedBy && Date.parse(this.events[prunable]!.time) < now - this.retentionMs) prunable += 1;
    if (prunable === 0) return 0;
    return this.pruneThrough(this.events[prunable - 1]!.id, () => true);
  }

  async close(): Promise<void> {
    // A write failing for good (a disk that stays full) would otherwise hold shutdown forever: one last try, then give up.
    await this.appends.close();
    if (this.current) {
      const { handle } = this.current;
      this.current = null;
      await handle.close().catch(() => undefined);
    }
    await this.cursorWrite;
  }

  onAppended(listener: (events: readonly FleetEvent[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Deletes the closed segments whose last event is at or below `limit` and
   * for which `keep` agrees, oldest first, stopping at the first it may not
   * delete; returns how many events went.
   */
  private async pruneThrough(limit: string, more: (segment: Segment) => boolean): Promise<number> {
    const gone: Segment[] = [];
    for (const segment of this.segments) {
      if (segment === this.current?.segment || segment.lastId > limit || !more(segment)) break;
      gone.push(segment);
    }
    if (gone.length === 0) return 0;
    const through = gone.at(-1)!.lastId;
    this.segments = this.segments.slice(gone.length);
    const count = firstAbove(this.events, through);
    this.events = this.events.slice(count);
    this.pruned = through;
    await this.ensureFolder();
    await writeFileAtomic(join(this.folder, prunedFileName), JSON.stringify({ through }));
    await Promise.all(gone.map((segment) => this.fs.rm(join(this.folder, segment.name), { force: true })));
    return count;
  }

  /** undefined: no subscription; null: one that has passed nothing. Released cursors count only when `all`. */
  private slowestCursor(all: boolean): string | null | undefined {
    let slowest: string | undefined;
    for (const [id, cursor] of this.cursors) {
      if (!all && this.released.has(id)) continue;
      if (cursor === null) return null;
      if (slowest === undefined || compare(cursor, slowest) < 0) slowest = cursor;
    }
    return slowest;
  }

  /** Past the limit: delivered events first, then the slowest subscriptions are let go one by one. */
  private async enforceLimit(): Promise<void> {
    let bytes = this.stats().bytes;
    while (bytes > this.maxBytes) {
      const slowest = this.slowestCursor(false);
      const passed = slowest === undefined ? (this.newestId() ?? '') : (slowest ?? '');
      let over = bytes - this.maxBytes;
      const pruned = await this.pruneThrough(passed, (segment) => {
        if (over <= 0) return false;
        over -= segment.bytes;
        return true;
      });
      this.counters.earlyPrunedEvents += pruned;
      if (pruned > 0) this.logger?.warn({ events: pruned, maxBytes: this.maxBytes }, 'Outbox at OUTBOX_MAX_BYTES: delivered events pruned before their retention (a GET /events resume from before them gets a gap)');
      bytes = this.stats().bytes;
      if (bytes <= this.maxBytes) return;
      const holder = [...this.cursors].find(([id, cursor]) => !this.released.has(id) && cursor === slowest);
      if (!holder) return; // only the open segment is left: it is closed at the next size roll
      const [subscriptionId, cursor] = holder;
      this.released.set(subscriptionId, cursor);
      this.counters.releasedSubscriptions += 1;
      const backlog: OutboxBacklog = { subscriptionId, cursor, bytes, maxBytes: this.maxBytes, pendingEvents: this.events.length - (cursor === null ? 0 : firstAbove(this.events, cursor)) };
      for (const listener of this.backlogListeners) listener(backlog);
    }
  }

  /** A batch is on disk: readable, announced, and the limit kept. */
  private async stored(batch: readonly PendingAppend[], events: readonly FleetEvent[]): Promise<void> {
    // Ids were made in order and batches are written one at a time, so this keeps the array sorted.
    this.events.push(...events);
    for (const pending of batch) pending.resolve();
    for (const listener of this.listeners) listener(events);
    if (this.stats().bytes > this.maxBytes) await this.enforceLimit().catch(() => undefined);
  }

  private ensureFolder(): Promise<unknown> {
    this.made ??= this.fs.mkdir(this.folder, { recursive: true, mode: 0o700 }).catch((error: unknown) => {
      this.made = null;
      throw error;
    });
    return this.made;
  }

  private async writeEvents(events: readonly FleetEvent[]): Promise<void> {
    const data = Buffer.from(events.map((event) => JSON.stringify(event)).join('\n') + '\n');
    const current = this.current;
    if (current && this.keepsAppending(current.segment, data.length)) {
      const { segment, handle } = current;
      try {
        await writeAll(handle, data, segment.bytes);
        await handle.datasync();
      } catch (error) {
        // What reached the file after its synced end is not trusted: cut it off and start a new segment next time.
        this.current = null;
        await handle.truncate(segment.bytes).catch(() => undefined);
        await handle.close().catch(() => undefined);
        throw error;
      }
      segment.bytes += data.length;
      segment.lastId = events.at(-1)!.id;
      return;
    }
    if (current) {
      this.current = null;
      await current.handle.close().catch(() => undefined);
    }
    const name = `${events[0]!.id}${segmentSuffix}`;
    const handle = await this.createSegment(name, data);
    const segment: Segment = { name, lastId: events.at(-1)!.id, bytes: data.length, startedAt: Date.parse(events[0]!.time) };
    this.segments.push(segment);
    this.current = { segment, handle };
  }

  /** False when the open segment has reached its size, or its age while there are few segments. */
  private keepsAppending(segment: Segment, adding: number): boolean {
    if (segment.bytes + adding > this.segmentBytes && segment.bytes > 0) return false;
    const rollAfterMs = Math.max(1, Math.floor(this.retentionMs / 12));
    return this.segments.length >= maxSegmentsForAgeRoll || this.now() - segment.startedAt < rollAfterMs;
  }

  /** Whole or absent: temp file, sync, rename, sync the folder. Returns it open for appends. */
  private async createSegment(name: string, data: Buffer): Promise<FileHandle> {
    await this.ensureFolder();
    const path = join(this.folder, name);
    const temp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      const file = await this.fs.open(temp, 'wx', 0o600);
      try {
        await writeAll(file, data, 0);
        await file.sync();
      } finally {
        await file.close();
      }
      await this.fs.rename(temp, path);
    } catch (error) {
      // A full disk must not leave an empty temp file behind for each retry.
      await this.fs.rm(temp, { force: true }).catch(() => undefined);
      throw error;
    }
    await this.fs.syncFolder(this.folder);
    return this.fs.open(path, 'r+');
  }

  /** The whole lines of a segment; a torn last line (an append cut by a crash) is cut off the file. */
  private async loadSegment(name: string): Promise<{ events: FleetEvent[]; bytes: number } | null> {
    const path = join(this.folder, name);
    let data: Buffer;
    try {
      data = await this.fs.readFile(path);
    } catch {
      // Unreadable despite the write protocol (a disk fault): start without it rather than not at all.
      return null;
    }
    const end = data.lastIndexOf(0x0a) + 1;
    if (end < data.length) await this.fs.truncate(path, end).catch(() => undefined);
    const events: FleetEvent[] = [];
    for (const line of data.subarray(0, end).toString('utf8').split('\n')) {
      if (!line) continue;
      try {
        events.push(JSON.parse(line) as FleetEvent);
      } catch {
        // A line a disk fault damaged: the others are still good.
      }
    }
    return { events, bytes: end };
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

async function writeAll(handle: FileHandle, data: Buffer, position: number): Promise<void> {
  let written = 0;
  while (written < data.length) {
    const { bytesWritten } = await handle.write(data, written, data.length - written, position + written);
    written += bytesWritten;
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Index of the first event whose id is at or above `id` (binary search). */
function firstAtOrAbove(events: readonly FleetEvent[], id: string): number {
  let low = 0;
  let high = events.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (events[mid]!.id < id) low = mid + 1;
    else high = mid;
  }
  return low;
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
