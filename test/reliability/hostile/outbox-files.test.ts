/**
 * The file outbox under event floods, a failing disk and a subscription that
 * never catches up: a bounded number of files, nothing lost, never unbounded.
 */
import { readdir, writeFile, appendFile } from 'node:fs/promises';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { EventIdFactory } from '../../../src/outbox/event-id.js';
import { FileOutbox, type OutboxFileSystem } from '../../../src/outbox/files/file-outbox.js';
import type { FleetEvent } from '../../../src/outbox/fleet-event.js';
import type { OutboxBacklog } from '../../../src/outbox/outbox.js';
import { syncFolder } from '../../../src/store/files/atomic-file.js';
import { removeDir, tempSessionsDir } from '../../support/service-harness.js';
import { waitUntil } from '../../../fixtures/wait.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await removeDir(dir);
});

async function folder(): Promise<string> {
  const dir = await tempSessionsDir();
  dirs.push(dir);
  return dir;
}

/** A session.status event about the size of a real one. */
function statusEvent(ids: EventIdFactory, session: number, time: number, padding = 0): FleetEvent {
  return {
    id: ids.next(),
    type: 'session.status',
    userId: `u${session}`,
    sessionId: 'default',
    node: 'holder-0123456789abcdef',
    time: new Date(time).toISOString(),
    payload: { state: 'backingOff', status: 'backingOff', previous: 'open', reason: 'connectionLost', statusCode: 428, pad: 'x'.repeat(padding) },
  };
}

async function segmentFiles(outbox: FileOutbox): Promise<string[]> {
  return (await readdir(outbox.folder)).filter((name) => name.endsWith('.events'));
}

it('100 sessions dropped 40 times (each drop a few events, appended as they happen, a subscriber keeping up) leave at most 50 outbox files', async () => {
  const outbox = new FileOutbox(await folder());
  await outbox.open();
  const ids = new EventIdFactory();
  const appended: string[] = [];
  outbox.onAppended((batch) => {
    appended.push(...batch.map((e) => e.id));
    void outbox.ack('receiver', batch.at(-1)!.id);
  });
  await outbox.ack('receiver', null);
  for (let drop = 0; drop < 40; drop += 1) {
    // Drops reach the sessions a few at a time: each group is its own write (the old outbox: one file each).
    for (let first = 0; first < 100; first += 10) {
      const writes: Array<Promise<void>> = [];
      for (let session = first; session < first + 10; session += 1) {
        for (let step = 0; step < 3; step += 1) writes.push(outbox.append([statusEvent(ids, session, Date.now())]));
      }
      await Promise.all(writes);
    }
  }
  expect(appended).toHaveLength(100 * 40 * 3);
  expect((await segmentFiles(outbox)).length).toBeLessThanOrEqual(50);
  await outbox.close();
  const reopened = new FileOutbox(outbox.folder.slice(0, -'/.outbox'.length));
  await reopened.open();
  expect((await reopened.read(null, 100_000)).map((e) => e.id)).toEqual(appended);
});

it('two days of steady events with a subscription paused the whole time: files stay bounded, every event kept', async () => {
  let now = Date.parse('2026-01-01T00:00:00Z');
  const outbox = new FileOutbox(await folder(), { now: () => now, retentionMs: 60 * 60 * 1000 });
  await outbox.open();
  await outbox.ack('paused', null);
  const ids = new EventIdFactory(null, () => now);
  let count = 0;
  // One event every two minutes for 48 h: the old outbox kept 1,440 files; rolling by age alone would keep 576.
  for (let minute = 0; minute < 48 * 60; minute += 2) {
    now += 120_000;
    await outbox.append([statusEvent(ids, minute % 100, now)]);
    count += 1;
    if (minute % 60 === 0) await outbox.prune(now);
  }
  expect(outbox.stats().events).toBe(count);
  expect((await segmentFiles(outbox)).length).toBeLessThanOrEqual(50);
  // Caught up: prune frees whole closed segments past the retention.
  await outbox.ack('paused', outbox.newestId());
  await outbox.prune(now);
  expect(outbox.stats().events).toBeLessThan(count);
  expect((await segmentFiles(outbox)).length).toBeLessThanOrEqual(2);
  await outbox.close();
});

it('an append a crash cut in half is cut off at the next start; every whole event is kept', async () => {
  const dir = await folder();
  const outbox = new FileOutbox(dir);
  await outbox.open();
  const ids = new EventIdFactory();
  const stored = Array.from({ length: 5 }, (_, i) => statusEvent(ids, i, Date.now()));
  for (const event of stored) await outbox.append([event]);
  await outbox.close();
  const [segment] = await segmentFiles(outbox);
  // A kill in the middle of an append leaves the start of a line without its end.
  await appendFile(join(outbox.folder, segment!), JSON.stringify(statusEvent(ids, 9, Date.now())).slice(0, 40));
  const reopened = new FileOutbox(dir);
  await reopened.open();
  expect((await reopened.read(null, 100)).map((e) => e.id)).toEqual(stored.map((e) => e.id));
  const later = statusEvent(ids, 7, Date.now());
  await reopened.append([later]);
  await reopened.close();
  const again = new FileOutbox(dir);
  await again.open();
  expect((await again.read(null, 100)).map((e) => e.id)).toEqual([...stored, later].map((e) => e.id));
});

/** Node's fs, except that writes fail with `code` while `failing` is set. */
function faultyFs(): { fs: OutboxFileSystem; fail(code: string | null): void } {
  let failing: string | null = null;
  const fault = () => Object.assign(new Error(`${failing}: injected`), { code: failing });
  return {
    fail: (code) => {
      failing = code;
    },
    fs: {
      open: async (path, flags, mode) => {
        if (failing && flags !== 'r') throw fault();
        const handle = await fs.open(path, flags, mode);
        const write = handle.write.bind(handle) as (...args: unknown[]) => Promise<{ bytesWritten: number }>;
        // A full disk takes part of a write, then refuses: the partial bytes must not be trusted.
        (handle as unknown as { write: (...args: unknown[]) => Promise<unknown> }).write = async (...args: unknown[]) => {
          if (failing) {
            const [buffer, offset, , position] = args as [Buffer, number, number, number];
            await write(buffer, offset, 7, position);
            throw fault();
          }
          return write(...args);
        };
        return handle;
      },
      rename: fs.rename,
      rm: fs.rm,
      readdir: (path) => fs.readdir(path),
      readFile: (path) => fs.readFile(path),
      truncate: fs.truncate,
      mkdir: fs.mkdir,
      syncFolder,
    },
  };
}

it('a full disk: events wait in memory, counted, and are all stored in order once space returns; no temp file leaks', async () => {
  const dir = await folder();
  const disk = faultyFs();
  const outbox = new FileOutbox(dir, { fs: disk.fs, retryFirstMs: 5, retryMaxMs: 20 });
  await outbox.open();
  const ids = new EventIdFactory();
  const before = statusEvent(ids, 0, Date.now());
  await outbox.append([before]);
  disk.fail('ENOSPC');
  const during = Array.from({ length: 30 }, (_, i) => statusEvent(ids, i, Date.now()));
  const settled: string[] = [];
  const writes = during.map((event) => outbox.append([event]).then(() => settled.push(event.id)));
  await waitUntil(() => (outbox.stats().writeFailures.get('ENOSPC') ?? 0) >= 3, 5_000);
  expect(settled).toEqual([]);
  expect(outbox.stats().unstoredEvents).toBe(30);
  expect(outbox.newestId()).toBe(before.id);
  disk.fail(null);
  await Promise.all(writes);
  expect(settled).toEqual(during.map((e) => e.id));
  expect(outbox.stats().unstoredEvents).toBe(0);
  expect(outbox.stats().droppedEvents).toBe(0);
  await outbox.close();
  expect((await readdir(outbox.folder)).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  const reopened = new FileOutbox(dir);
  await reopened.open();
  expect((await reopened.read(null, 100)).map((e) => e.id)).toEqual([before, ...during].map((e) => e.id));
});

it('a disk that never recovers: memory stays bounded, the oldest waiting events are rejected (not silently dropped), shutdown does not hang', async () => {
  const disk = faultyFs();
  const outbox = new FileOutbox(await folder(), { fs: disk.fs, retryFirstMs: 5, retryMaxMs: 20, maxUnstoredEvents: 100 });
  await outbox.open();
  const ids = new EventIdFactory();
  disk.fail('EIO');
  const outcomes = Array.from({ length: 150 }, (_, i) => outbox.append([statusEvent(ids, i, Date.now())]).then(() => 'stored', (error: Error) => error.message));
  await waitUntil(() => outbox.stats().droppedEvents > 0, 5_000);
  expect(outbox.stats().unstoredEvents).toBeLessThanOrEqual(100);
  await outbox.close();
  const results = await Promise.all(outcomes);
  // The oldest past the bound were rejected as it was reached; the rest when shutdown gave up on the disk.
  const overflowed = results.filter((r) => r.includes('were not stored')).length;
  expect(overflowed).toBe(outbox.stats().droppedEvents);
  expect(overflowed).toBeGreaterThanOrEqual(49);
  expect(results.filter((r) => r.startsWith('EIO'))).toHaveLength(150 - overflowed);
  expect(outbox.stats().writeFailures.get('EIO')).toBeGreaterThan(0);
});

it('past maxBytes: delivered events go first, then the slowest subscription is let go (backlog) — appends never refused, bytes bounded', async () => {
  const maxBytes = 2 * 1024 * 1024;
  const outbox = new FileOutbox(await folder(), { maxBytes });
  await outbox.open();
  const backlogs: OutboxBacklog[] = [];
  outbox.onBacklog((backlog) => backlogs.push(backlog));
  const ids = new EventIdFactory();
  await outbox.ack('stuck', null);
  await outbox.ack('live', null);
  outbox.onAppended((batch) => void outbox.ack('live', batch.at(-1)!.id));
  // ~1 KiB events, 6 MiB in all (three times the limit), 16 to a write.
  for (let i = 0; i < 6 * 1024; i += 16) await outbox.append(Array.from({ length: 16 }, (_, j) => statusEvent(ids, (i + j) % 100, Date.now(), 800)));
  expect(backlogs.map((b) => b.subscriptionId)).toEqual(['stuck']);
  expect(backlogs[0]!.cursor).toBeNull();
  const stats = outbox.stats();
  expect(stats.bytes).toBeLessThanOrEqual(maxBytes);
  expect(stats.releasedSubscriptions).toBe(1);
  expect(stats.earlyPrunedEvents).toBeGreaterThan(0);
  expect(stats.droppedEvents).toBe(0);
  expect((await segmentFiles(outbox)).length).toBeLessThanOrEqual(50);
  // The released subscription resumes from the oldest event still kept; GET /events resume sees the gap.
  const resumed = await outbox.read(null, 1);
  expect(resumed[0]!.id).toBe(outbox.oldestId());
  expect(outbox.prunedThrough()).not.toBeNull();
  await outbox.close();
});

it('a stored segment with a damaged line keeps its other events', async () => {
  const dir = await folder();
  const outbox = new FileOutbox(dir);
  await outbox.open();
  const ids = new EventIdFactory();
  const a = statusEvent(ids, 1, Date.now());
  await outbox.append([a]);
  await outbox.close();
  const b = statusEvent(ids, 2, Date.now());
  await writeFile(join(outbox.folder, `${b.id}.events`), `{"id": garbage\n${JSON.stringify(b)}\n`);
  const reopened = new FileOutbox(dir);
  await reopened.open();
  expect((await reopened.read(null, 10)).map((e) => e.id)).toEqual([a.id, b.id]);
});
