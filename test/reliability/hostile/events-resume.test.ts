/**
 * GET /events with a Last-Event-ID newer than anything stored (garbage shaped
 * like an id, or an id from a node whose clock runs ahead): the client is told
 * at once with a `gap` event naming it, then receives the live events.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { EventIdFactory } from '../../../src/outbox/event-id.js';
import { removeDir, tempSessionsDir } from '../../support/service-harness.js';
import { waitUntil } from '../../../fixtures/wait.js';
import { openSse, type SseClient } from '../../webhooks/support/sse.js';
import { outboxIds, startWebhookService } from '../../webhooks/support/webhook-service.js';

let dir: string;
let svc: Awaited<ReturnType<typeof startWebhookService>>;
const streams: SseClient[] = [];

beforeAll(async () => {
  dir = await tempSessionsDir();
  svc = await startWebhookService(dir);
  await svc.call('POST', '/sessions', { userId: 'before' });
  await waitUntil(async () => (await outboxIds(dir)).length > 0);
});
afterAll(async () => {
  for (const stream of streams) stream.close();
  await svc.service.stop();
  await removeDir(dir);
});

const aheadByAnHour = new EventIdFactory(null, () => Date.now() + 3_600_000).next();

it.each([
  ['garbage shaped like an id', 'ZZZZZZZZZZZZZZZZZZZZZZZZZZ'],
  ['an id from a clock an hour ahead', aheadByAnHour],
])('a Last-Event-ID above the newest (%s) gets a gap naming it, then live events', async (_case, lastEventId) => {
  const client = await openSse(`${svc.service.url}/events`, { 'last-event-id': lastEventId });
  streams.push(client);
  expect(client.status).toBe(200);
  await waitUntil(() => client.messages.length > 0);
  const [gap] = client.messages;
  expect(gap!.event).toBe('gap');
  expect(gap!.data).toMatchObject({ after: lastEventId, reason: 'unknown_id', newest: (await outboxIds(dir)).at(-1) });
  const userId = `live${lastEventId.slice(0, 4).toLowerCase()}`;
  await svc.call('POST', '/sessions', { userId });
  await waitUntil(() => client.messages.some((m) => m.event === 'session.status' && m.data.userId === userId), 10_000);
  client.close();
});
