/**
 * The outbox's contract (src/outbox/outbox.ts), run against files and
 * PostgreSQL: appends become readable and are announced in id order, a new
 * instance on the same storage reads the same, prune keeps what a cursor
 * needs and what is inside the retention, cursors are durable.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EventIdFactory } from '../../src/outbox/event-id.js';
import type { FleetEvent } from '../../src/outbox/fleet-event.js';
import { eventKey, fileOutboxHarness, pgOutboxHarness, type OutboxHarness } from './outbox-harnesses.js';

const ids = new EventIdFactory();
let made = 0;

function events(count: number, time: Date): FleetEvent[] {
  return Array.from({ length: count }, () => ({ id: ids.next(), type: 'session.status' as const, ...eventKey, time: time.toISOString(), payload: { n: (made += 1) } }));
}

const numbers = (list: readonly FleetEvent[]) => list.map((event) => event.payload.n);

for (const factory of [fileOutboxHarness, pgOutboxHarness]) {
  describe(factory.name, () => {
    let h: OutboxHarness;
    beforeAll(async () => (h = await factory.open()), 120_000);
    afterAll(() => h?.close());
    beforeEach(() => h.reset());

    it('concurrent appends become readable, and are announced, in the order they were made; ids sort in that order; a new instance reads the same', async () => {
      const outbox = await h.open();
      const batches = Array.from({ length: 20 }, () => events(3, new Date()));
      const seen: FleetEvent[] = [];
      outbox.onAppended((appended) => seen.push(...appended));
      await Promise.all(batches.map((batch) => outbox.append(batch)));
      const all = numbers(batches.flat());
      expect(numbers(seen)).toEqual(all);
      const stored = await outbox.read(null, 1000);
      expect(numbers(stored)).toEqual(all);
      expect(stored).toEqual(seen);
      const storedIds = stored.map((event) => event.id);
      expect([...storedIds].sort()).toEqual(storedIds);
      expect(new Set(storedIds).size).toBe(storedIds.length);
      expect(outbox.newestId()).toBe(storedIds.at(-1));
      expect(outbox.oldestId()).toBe(storedIds[0]);
      expect(numbers(await outbox.read(storedIds[9]!, 5))).toEqual(all.slice(10, 15));
      expect(stored[0]).toMatchObject({ type: 'session.status', ...eventKey, time: batches[0]![0]!.time, payload: batches[0]![0]!.payload });

      const reopened = await h.open();
      expect(await reopened.read(null, 1000)).toEqual(stored);
      expect(reopened.newestId()).toBe(storedIds.at(-1));
    });

    it('prune removes only events every cursor has passed and that are older than the retention; cursors and the pruned mark are durable', async () => {
      const outbox = await h.open({ retentionMs: 60_000 });
      const old = events(4, new Date(Date.now() - 120_000));
      const recent = events(2, new Date());
      await outbox.append(old.slice(0, 2));
      await outbox.append(old.slice(2));
      await outbox.append(recent);
      const stored = await outbox.read(null, 10);
      expect(numbers(stored)).toEqual(numbers([...old, ...recent]));
      const id = (index: number) => stored[index]!.id;
      await outbox.ack('slow', id(1));
      await outbox.ack('fast', id(5));
      expect(outbox.depth()).toBe(4);
      expect(await outbox.prune(Date.now())).toBe(2);
      expect(outbox.oldestId()).toBe(id(2));
      expect(outbox.prunedThrough()).toBe(id(1));
      await outbox.ack('slow', id(5));
      expect(await outbox.prune(Date.now())).toBe(2);
      expect(numbers(await outbox.read(null, 10))).toEqual(numbers(recent));
      expect(outbox.depth()).toBe(0);
      await outbox.close();
      const reopened = await h.open();
      expect(reopened.cursor('slow')).toBe(id(5));
      expect(reopened.cursor('nobody')).toBeUndefined();
      expect(reopened.cursorIds().sort()).toEqual(['fast', 'slow']);
      expect(reopened.prunedThrough()).toBe(id(3));
      await reopened.dropCursor('fast');
      expect((await h.open()).cursorIds()).toEqual(['slow']);
    });

    it("sessionEvents reads one session's newest events, newest first, a page before an id, of the types asked; a new instance reads the same", async () => {
      const outbox = await h.open();
      const other = { ...eventKey, sessionId: 'other' };
      if (h.holdLease) await h.holdLease(other);
      const mine = events(5, new Date());
      const theirs = events(3, new Date()).map((event) => ({ ...event, ...other }));
      const qr = { ...events(1, new Date())[0]!, type: 'session.qr' as const };
      // Interleaved with another session's, and batched unevenly.
      await outbox.append([mine[0]!, theirs[0]!, mine[1]!]);
      await outbox.append([theirs[1]!, mine[2]!, qr]);
      await outbox.append([mine[3]!, theirs[2]!, mine[4]!]);
      const newest = await outbox.sessionEvents(eventKey, { limit: 3, types: ['session.status'] });
      expect(numbers(newest)).toEqual(numbers([mine[4]!, mine[3]!, mine[2]!]));
      expect(newest[0]).toMatchObject({ ...eventKey, type: 'session.status', time: mine[4]!.time });
      const before = await outbox.sessionEvents(eventKey, { beforeId: newest.at(-1)!.id, limit: 3, types: ['session.status'] });
      expect(numbers(before)).toEqual(numbers([mine[1]!, mine[0]!]));
      expect(await outbox.sessionEvents(eventKey, { beforeId: before.at(-1)!.id, limit: 3 })).toEqual([]);
      // Without a type filter the QR event is there too (the console asks without it).
      expect((await outbox.sessionEvents(eventKey, { limit: 10 })).map((event) => event.type)).toContain('session.qr');
      expect(numbers(await outbox.sessionEvents(other, { limit: 10 }))).toEqual(numbers([...theirs].reverse()));
      expect(await outbox.sessionEvents({ userId: 'u', sessionId: 'nobody' }, { limit: 10 })).toEqual([]);
      const reopened = await h.open();
      expect(await reopened.sessionEvents(eventKey, { limit: 3, types: ['session.status'] })).toEqual(newest);
    });

    it('a cursor that has passed nothing holds every event; without cursors only the retention counts', async () => {
      const outbox = await h.open({ retentionMs: 60_000 });
      await outbox.append(events(3, new Date(Date.now() - 120_000)));
      const recent = events(1, new Date());
      await outbox.append(recent);
      await outbox.ack('new', null);
      expect(outbox.depth()).toBe(4);
      expect(await outbox.prune(Date.now())).toBe(0);
      await outbox.dropCursor('new');
      expect(await outbox.prune(Date.now())).toBe(3);
      expect(numbers(await outbox.read(null, 10))).toEqual(numbers(recent));
    });
  });
}
