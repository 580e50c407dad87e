/** What GET /webhooks says about a subscription that stopped: the reason its pause gave, not the attempt that raced it. */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { SubscriptionStore } from '../../src/webhooks/subscriptions.js';
import { removeDir, tempSessionsDir } from '../support/service-harness.js';

let dir: string;
beforeEach(async () => {
  dir = await tempSessionsDir();
});
afterEach(async () => {
  await removeDir(dir);
});

it('a refusal noted after the pause does not hide why the subscription was paused; before it, it is shown', async () => {
  const store = new SubscriptionStore(dir);
  await store.load(null);
  const { id } = await store.add({ url: 'http://127.0.0.1:9/hook', secret: 's'.repeat(16), events: ['session.status'], includeQr: false });
  const refused = (at: string) => ({ at, eventId: 'e1', message: 'connect ECONNREFUSED 127.0.0.1:9', status: null });
  store.noteError(id, refused('2026-12-07T10:00:00.000Z'));
  expect(store.get(id)!.lastError!.message).toContain('ECONNREFUSED');

  const at = '2026-12-07T10:00:01.000Z';
  await store.update(id, { paused: { at, reason: 'backlog' }, lastError: { at, eventId: 'e1', message: 'the outbox reached OUTBOX_MAX_BYTES', status: null } });
  store.noteError(id, refused('2026-12-07T10:00:02.000Z')); // the attempt that was in flight when it was paused
  expect(store.get(id)!.lastError!.message).toContain('OUTBOX_MAX_BYTES');

  const reloaded = new SubscriptionStore(dir);
  await reloaded.load(null);
  expect(reloaded.get(id)!.lastError!.message).toContain('OUTBOX_MAX_BYTES');
});
