/**
 * The outgoing message queue's contract, run against both stores: what the API
 * accepted is there until it is sent, an idempotency key never makes a second
 * message, statuses only move forward, the queue has a limit, and a node whose
 * lease was taken over changes nothing.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { QueueFullError, type NewOutgoingMessage, type OutgoingMessage } from '../../src/store/message-queue.js';
import { LeaseLostError } from '../../src/store/ownership.js';
import type { SessionKey } from '../../src/store/session-key.js';
import { fileHarness, postgresHarness, type StoreHarness } from './store-harnesses.js';

const key: SessionKey = { userId: 'ana', sessionId: 'main' };
const at = (second: number) => new Date(Date.UTC(2026, 11, 7, 12, 0, second)).toISOString();
const draft = (n: number, text = `message ${n}`): NewOutgoingMessage => ({
  id: `3EB0${String(n).padStart(16, '0')}`,
  to: '15551111111@s.whatsapp.net',
  text,
  createdAt: at(n),
});

for (const factory of [fileHarness, postgresHarness]) {
  describe(`${factory.name} messages`, () => {
    let h: StoreHarness;
    beforeAll(async () => (h = await factory.open()), 120_000);
    afterAll(() => h?.close());
    beforeEach(async () => {
      await h.reset();
      await h.store.create(key);
    });

    it('keeps what it accepted, queued, oldest first; the same id again returns the first message and adds nothing', async () => {
      const lease = await h.lease(key);
      const second = await h.store.messages.accept(lease, draft(2), 10);
      const first = await h.store.messages.accept(lease, draft(1), 10);
      expect(first).toMatchObject({ created: true, message: { id: draft(1).id, status: 'queued', attempts: 0, sentAt: null } });
      expect(second.created).toBe(true);
      const again = await h.store.messages.accept(lease, draft(1, 'a different text'), 10);
      expect(again).toEqual({ created: false, message: first.message });
      expect((await h.store.messages.list(key, 'queued')).map((m) => m.text)).toEqual(['message 1', 'message 2']);
      expect(await h.store.messages.get(key, draft(1).id)).toEqual(first.message);
      expect(await h.store.messages.get(key, '3EB0FFFFFFFFFFFFFFFF')).toBeNull();
    });

    it('refuses past the queue limit, and makes room once a message is sent', async () => {
      const lease = await h.lease(key);
      await h.store.messages.accept(lease, draft(1), 2);
      await h.store.messages.accept(lease, draft(2), 2);
      await expect(h.store.messages.accept(lease, draft(3), 2)).rejects.toBeInstanceOf(QueueFullError);
      await h.store.messages.update(lease, draft(1).id, { status: 'sent', sentAt: at(30) });
      await expect(h.store.messages.accept(lease, draft(3), 2)).resolves.toMatchObject({ created: true });
    });

    it('statuses only move forward: a read receipt that overtook the ack stays read, and dates say it was sent', async () => {
      const lease = await h.lease(key);
      const { id } = draft(1);
      await h.store.messages.accept(lease, draft(1), 10);
      await h.store.messages.update(lease, id, { attempts: 1, content: 'Cg1oZWxsbw==' });
      const read = await h.store.messages.update(lease, id, { status: 'read', readAt: at(40) });
      expect(read).toMatchObject({ status: 'read', sentAt: at(40), deliveredAt: at(40), readAt: at(40), attempts: 1, content: 'Cg1oZWxsbw==' });
      const lateAck = await h.store.messages.update(lease, id, { status: 'sent', sentAt: at(35) });
      expect(lateAck).toMatchObject({ status: 'read', sentAt: at(40) });
      // Acknowledged by the server: never "failed" afterwards.
      expect(await h.store.messages.update(lease, id, { status: 'failed', error: 'expired' })).toMatchObject({ status: 'read', error: null });
      expect(await h.store.messages.list(key, 'queued')).toEqual([]);
      expect((await h.store.messages.list(key, 'read')).map((m) => m.id)).toEqual([id]);
      expect(await h.store.messages.update(lease, '3EB0FFFFFFFFFFFFFFFF', { status: 'sent' })).toBeNull();
    });

    it('a queued message can fail, with its reason, and then stays failed', async () => {
      const lease = await h.lease(key);
      const { id } = draft(1);
      await h.store.messages.accept(lease, draft(1), 10);
      expect(await h.store.messages.update(lease, id, { status: 'failed', error: 'not_on_whatsapp' })).toMatchObject({ status: 'failed', error: 'not_on_whatsapp', sentAt: null });
      expect(await h.store.messages.update(lease, id, { status: 'delivered', deliveredAt: at(50) })).toMatchObject({ status: 'failed', deliveredAt: null });
    });

    it('a node whose lease was taken over can neither accept nor mark anything', async () => {
      const lease = await h.lease(key);
      await h.store.messages.accept(lease, draft(1), 10);
      await h.takeOver(key);
      await expect(h.store.messages.accept(lease, draft(2), 10)).rejects.toBeInstanceOf(LeaseLostError);
      await expect(h.store.messages.update(lease, draft(1).id, { status: 'sent', sentAt: at(9) })).rejects.toBeInstanceOf(LeaseLostError);
      expect((await h.store.messages.list(key)).map((m) => [m.id, m.status])).toEqual([[draft(1).id, 'queued']]);
    });

    it('prunes what was sent before the cutoff, never what is still queued', async () => {
      const lease = await h.lease(key);
      for (const n of [1, 2, 3]) await h.store.messages.accept(lease, draft(n), 10);
      await h.store.messages.update(lease, draft(1).id, { status: 'delivered', deliveredAt: at(10) });
      await h.store.messages.update(lease, draft(3).id, { status: 'sent', sentAt: at(10) });
      expect(await h.store.messages.prune(lease, new Date(at(2)))).toBe(1);
      expect((await h.store.messages.list(key)).map((m) => m.id)).toEqual([draft(2).id, draft(3).id]);
    });

    it('restores whole records as list gave them, past the queue limit: every field unchanged, in order, the queued one next to send', async () => {
      const lease = await h.lease(key);
      for (const n of [1, 2, 3, 4]) await h.store.messages.accept(lease, draft(n, `text ${n} ✓ "quoted"\nline`), 10);
      await h.store.messages.update(lease, draft(1).id, { attempts: 1, content: 'Cg1oZWxsbw==' });
      await h.store.messages.update(lease, draft(1).id, { status: 'read', sentAt: at(20), deliveredAt: at(21), readAt: at(22) });
      await h.store.messages.update(lease, draft(2).id, { status: 'failed', error: 'not_on_whatsapp' });
      // Written once, never acknowledged: sent again under the same id after the copy.
      await h.store.messages.update(lease, draft(3).id, { attempts: 2, content: 'Cg1xdWV1ZWQ=' });
      const records = await h.store.messages.list(key);

      const copy: SessionKey = { userId: 'ana', sessionId: 'copy' };
      await h.store.create(copy);
      const copyLease = await h.lease(copy);
      await h.store.messages.restore(copyLease, [...records].reverse());
      expect(await h.store.messages.list(copy)).toEqual(records);
      expect(await h.store.messages.list(copy, 'queued')).toEqual(records.filter((m) => m.status === 'queued'));
      expect((await h.store.messages.list(copy, 'queued'))[0]).toMatchObject({ id: draft(3).id, attempts: 2, content: 'Cg1xdWV1ZWQ=' });
      expect(await h.store.messages.get(copy, draft(1).id)).toEqual(records[0]);
      // Restored messages are the store's own: they move on like any other.
      expect(await h.store.messages.update(copyLease, draft(3).id, { status: 'sent', sentAt: at(30) })).toMatchObject({ status: 'sent', attempts: 2 });
      await expect(h.store.messages.accept(copyLease, draft(5), 1)).rejects.toBeInstanceOf(QueueFullError);
    });

    it('restore overwrites nothing and refuses, writing none, a record it could not keep unchanged or an id it holds', async () => {
      const lease = await h.lease(key);
      await h.store.messages.accept(lease, draft(1, 'the original'), 10);
      const [original] = await h.store.messages.list(key);
      const fresh = (n: number): OutgoingMessage => ({ ...original!, ...draft(n) });
      await expect(h.store.messages.restore(lease, [fresh(2), { ...original!, text: 'replaced' }])).rejects.toThrow(`message ${draft(1).id} is already in the session, not overwritten`);
      await expect(h.store.messages.restore(lease, [fresh(2), fresh(2)])).rejects.toThrow('already in the session');
      const refused: [OutgoingMessage, string][] = [
        [{ ...fresh(3), createdAt: '2026-12-07T12:00:03.000001Z' }, 'createdAt is not an ISO timestamp'],
        [{ ...fresh(3), sentAt: 'yesterday' }, 'sentAt is not an ISO timestamp'],
        [{ ...fresh(3), status: 'lost' as OutgoingMessage['status'] }, 'status is not a message status'],
        [{ ...fresh(3), attempts: -1 }, 'attempts is not a count'],
        [{ ...fresh(3), text: 'secret\u0000text' }, 'text holds a NUL character'],
        [{ ...fresh(3), pinned: true } as OutgoingMessage, 'holds a field the stores do not know ("pinned")'],
        [{ ...fresh(3), id: '../creds' }, 'not a message id'],
      ];
      for (const [record, why] of refused) {
        const error = await h.store.messages.restore(lease, [fresh(2), record]).then(() => null, (e: Error) => e);
        expect(error?.message).toContain(why);
        expect(error?.message).not.toContain('secret');
      }
      const { content: _, ...noContent } = fresh(3);
      await expect(h.store.messages.restore(lease, [noContent as OutgoingMessage])).rejects.toThrow('has no content');
      expect(await h.store.messages.list(key)).toEqual([original]);
      await h.takeOver(key);
      await expect(h.store.messages.restore(lease, [fresh(2)])).rejects.toBeInstanceOf(LeaseLostError);
      expect(await h.store.messages.list(key)).toEqual([original]);
    });

    it('refuses an id that is not a message id (it would name a file)', async () => {
      const lease = await h.lease(key);
      await expect(h.store.messages.accept(lease, { ...draft(1), id: '../../creds' }, 10)).rejects.toThrow('not a message id');
      await expect(h.store.messages.get(key, '../x')).rejects.toThrow('not a message id');
    });
  });
}
