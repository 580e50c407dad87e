/**
 * GET /events: one stream for the whole fleet, `id:` on every event, and a
 * client that comes back with Last-Event-ID gets exactly what it missed
 * (from the outbox), then the live events, with no gap and no repeat.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { removeDir, tempSessionsDir } from '../support/service-harness.js';
import { waitUntil } from '../../fixtures/wait.js';
import { openSse, type SseClient } from './support/sse.js';
import { outboxEvents, outboxIds, startWebhookService } from './support/webhook-service.js';

let dir: string;
let svc: Awaited<ReturnType<typeof startWebhookService>>;
const streams: SseClient[] = [];

beforeAll(async () => {
  dir = await tempSessionsDir();
  svc = await startWebhookService(dir);
});
afterAll(async () => {
  for (const stream of streams) stream.close();
  await svc.service.stop();
  await removeDir(dir);
});

async function stream(query = '', headers: Record<string, string> = {}): Promise<SseClient> {
  const client = await openSse(`${svc.service.url}/events${query}`, headers);
  streams.push(client);
  return client;
}

const isOpen = (userId: string) => (m: { event: string; data: Record<string, unknown> }) =>
  m.event === 'session.status' && m.data.userId === userId && (m.data.payload as { state: string }).state === 'open';

it('resumes from Last-Event-ID without gaps or repeats, then goes on live; filters by session and type', async () => {
  const first = await stream();
  expect(first.status).toBe(200);
  await svc.call('POST', '/sessions', { userId: 'alice' });
  await waitUntil(() => first.messages.some(isOpen('alice')));
  first.close();
  const lastSeen = first.messages.at(-1)!.id!;
  expect(first.messages.every((m) => m.id !== null && m.event === m.data.type && m.data.id === m.id)).toBe(true);

  // Missed while disconnected.
  await svc.call('POST', '/sessions', { userId: 'bob' });
  await svc.call('POST', '/sessions', { userId: 'qrcarol' });
  await svc.call('POST', '/sessions/alice/default/stop');
  await waitUntil(async () => {
    const stored = await outboxEvents(dir);
    const has = (type: string, userId: string) => stored.some((e) => e.type === type && e.userId === userId);
    return has('session.terminated', 'alice') && has('session.qr', 'qrcarol') && stored.some((e) => isOpen('bob')({ event: e.type, data: e }));
  });
  const missed = (await outboxIds(dir)).filter((id) => id > lastSeen);
  expect(missed.length).toBeGreaterThanOrEqual(5);

  const resumed = await stream('', { 'last-event-id': lastSeen });
  await waitUntil(() => resumed.messages.length >= missed.length);
  expect(resumed.messages.map((m) => m.id)).toEqual(missed);
  // A QR's text is never on the fleet stream.
  const qr = resumed.messages.find((m) => m.event === 'session.qr')!;
  expect(qr.data.payload).not.toHaveProperty('qr');

  // Live after the replay, in the same stream.
  await svc.call('POST', '/sessions', { userId: 'dave' });
  await waitUntil(() => resumed.messages.some(isOpen('dave')));
  const ids = resumed.messages.map((m) => m.id!);
  expect([...ids].sort()).toEqual(ids);
  expect(new Set(ids).size).toBe(ids.length);

  // The same resume, filtered: only bob's status events.
  const filtered = await stream('?userId=bob&types=session.status', { 'last-event-id': lastSeen });
  const bobStatus = resumed.messages.filter((m) => m.data.userId === 'bob' && m.event === 'session.status').map((m) => m.id);
  await waitUntil(() => filtered.messages.length >= bobStatus.length);
  expect(filtered.messages.map((m) => m.id)).toEqual(bobStatus);
});

it('refuses a malformed Last-Event-ID or filter, naming it', async () => {
  const res = await fetch(`${svc.service.url}/events`, { headers: { authorization: 'Bearer test-key-9f3a7c-51d0e8', 'last-event-id': 'yesterday' } });
  expect(res.status).toBe(400);
  expect(await res.json()).toEqual({ error: 'invalid_request', message: 'headers.last-event-id: not an event id' });
  const bad = await fetch(`${svc.service.url}/events?types=session.nope`, { headers: { authorization: 'Bearer test-key-9f3a7c-51d0e8' } });
  expect(bad.status).toBe(400);
  expect(((await bad.json()) as { message: string }).message).toMatch(/^querystring\.types: /);
});

it('a Last-Event-ID older than what the outbox keeps is answered with a gap event, then what is kept', async () => {
  const own = await tempSessionsDir();
  const before = await startWebhookService(own);
  await before.call('POST', '/sessions', { userId: 'old' });
  await waitUntil(async () => (await outboxIds(own)).length >= 2);
  await before.service.stop();
  const [oldest] = await outboxIds(own);
  // Restarted with a retention of 1 ms: the start-up prune removes every delivered (here: unsubscribed) event.
  const after = await startWebhookService(own, { EVENTS_RETENTION_MS: '1' });
  try {
    await waitUntil(async () => !(await outboxIds(own)).includes(oldest!));
    const client = await openSse(`${after.service.url}/events`, { 'last-event-id': oldest! });
    streams.push(client);
    await waitUntil(() => client.messages.length >= 1);
    expect(client.messages[0]!.event).toBe('gap');
    expect(client.messages[0]!.data.after).toBe(oldest);
  } finally {
    await after.service.stop();
    await removeDir(own);
  }
});
