/** The file outbox: ids sort in emission order, a crash leaves whole events only (what every outbox does: outbox.contract.test.ts). */
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { EventIdFactory } from '../../src/outbox/event-id.js';
import { FileOutbox } from '../../src/outbox/files/file-outbox.js';
import type { FleetEvent } from '../../src/outbox/fleet-event.js';
import { removeDir, tempSessionsDir } from '../support/service-harness.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await removeDir(dir);
});

function events(ids: EventIdFactory, count: number, time: Date): FleetEvent[] {
  return Array.from({ length: count }, () => ({ id: ids.next(), type: 'session.status' as const, userId: 'u', sessionId: 's', node: 'n', time: time.toISOString(), payload: {} }));
}

it('ids sort in the order they were made, within one millisecond, after a clock step back, and after a restart', () => {
  let now = 1_000_000;
  const ids = new EventIdFactory(null, () => now);
  const made = Array.from({ length: 1000 }, () => ids.next());
  now -= 5_000;
  made.push(ids.next(), ids.next());
  const again = new EventIdFactory(made.at(-1)!, () => now - 60_000);
  made.push(again.next());
  expect([...made].sort()).toEqual(made);
  expect(new Set(made).size).toBe(made.length);
});

it('concurrent appends become readable in id order; a reopened outbox reads the same; temp files of a crash are discarded', async () => {
  const dir = await tempSessionsDir();
  dirs.push(dir);
  const outbox = new FileOutbox(dir);
  await outbox.open();
  const ids = new EventIdFactory();
  const batches = Array.from({ length: 20 }, () => events(ids, 3, new Date()));
  const seen: string[] = [];
  outbox.onAppended((appended) => seen.push(...appended.map((e) => e.id)));
  await Promise.all(batches.map((batch) => outbox.append(batch)));
  const all = batches.flat().map((e) => e.id);
  expect(seen).toEqual(all);
  expect((await outbox.read(null, 1000)).map((e) => e.id)).toEqual(all);
  expect((await outbox.read(all[9]!, 5)).map((e) => e.id)).toEqual(all.slice(10, 15));

  await writeFile(join(outbox.folder, `${ids.next()}.events.abcd1234.tmp`), '{"id": "torn');
  const reopened = new FileOutbox(dir);
  await reopened.open();
  expect((await reopened.read(null, 1000)).map((e) => e.id)).toEqual(all);
  expect((await readdir(reopened.folder)).some((name) => name.endsWith('.tmp'))).toBe(false);
});
