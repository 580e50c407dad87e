/**
 * Webhooks end to end: the real service in-process, a real receiving HTTP
 * server on loopback. Sessions use fake connections (no WhatsApp needed for
 * what is tested here: what the fleet says, and how it is delivered).
 */
import { afterEach, expect, it } from 'vitest';
import { eventTypes } from '../../src/outbox/fleet-event.js';
import { assertNoSecretsLogged, removeDir, tempSessionsDir, testApiKey } from '../support/service-harness.js';
import { waitUntil } from '../../fixtures/wait.js';
import { Receiver, verifiedByReadmeRecipe, type Received } from './support/receiver.js';
import { outboxEvents, outboxIds, startWebhookService, webhookSecret } from './support/webhook-service.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups.length = 0;
});

async function setup() {
  const dir = await tempSessionsDir();
  const receiver = await new Receiver().start();
  cleanups.push(() => removeDir(dir), () => receiver.stop());
  return { dir, receiver };
}

async function start(dir: string, env: Record<string, string>) {
  const service = await startWebhookService(dir, env);
  cleanups.push(() => service.service.stop());
  return service;
}

const otherSecret = 'api-subscriber-secret-42';

it('every session event type arrives, signed, verifiable with the README recipe; the QR text only for the subscription that asked', async () => {
  const { dir, receiver } = await setup();
  const env = { WEBHOOK_URL: `${receiver.url}/env`, WEBHOOK_SECRET: webhookSecret, WEBHOOK_INCLUDE_QR: 'true' };
  const a = await start(dir, env);
  const created = await a.call('POST', '/webhooks', { url: `${receiver.url}/api`, secret: otherSecret, events: ['session.qr', 'session.status'] });
  expect(created.status).toBe(201);
  expect(created.body).not.toHaveProperty('secret');

  const has = (path: string, type: string, userId?: string) => () =>
    receiver.unique(path).some((r) => r.event.type === type && (!userId || r.event.userId === userId));
  await a.call('POST', '/sessions', { userId: 'alice' });
  await a.call('POST', '/sessions', { userId: 'qrbob' });
  await waitUntil(has('/env', 'session.qr'));
  await waitUntil(has('/api', 'session.qr'));
  const qr = (await a.call('GET', '/sessions/qrbob/default/qr?format=raw')).body.qr as string;
  expect((await a.call('POST', '/sessions/alice/default/stop')).status).toBe(202);
  await waitUntil(has('/env', 'session.terminated', 'alice'));
  expect((await a.call('DELETE', '/sessions/qrbob/default')).status).toBe(204);
  await waitUntil(has('/env', 'session.removed', 'qrbob'));
  await a.call('POST', '/sessions/alice/default/start');

  // session.owner: a second process on the same folder takes alice over when the first stops.
  const b = await start(dir, env);
  await a.service.stop();
  await waitUntil(has('/env', 'session.owner', 'alice'), 8_000);
  await b.service.stop();
  // session.restored: a process starting alone restores alice.
  const c = await start(dir, env);
  await waitUntil(has('/env', 'session.restored', 'alice'));
  await c.service.stop();

  const byEnv = receiver.unique('/env');
  // Every session event type; the message events are the messages tests' (test/messages/).
  expect(new Set(byEnv.map((r) => r.event.type))).toEqual(new Set(eventTypes.filter((type) => type.startsWith('session.'))));
  const secretOf = (r: Received) => (r.path === '/env' ? webhookSecret : otherSecret);
  for (const r of receiver.received) expect(verifiedByReadmeRecipe(secretOf(r), r), `${r.path} ${r.event.type}`).toBe(true);
  // A changed body, a wrong secret or an old timestamp do not verify.
  const sample = byEnv[0]!;
  expect(verifiedByReadmeRecipe(webhookSecret, { ...sample, body: sample.body.replace('"session.', '"sessionX.') })).toBe(false);
  expect(verifiedByReadmeRecipe(otherSecret, sample)).toBe(false);
  expect(verifiedByReadmeRecipe(webhookSecret, sample, Date.now() + 6 * 60_000)).toBe(false);

  for (const r of byEnv) {
    expect(r.event.id).toMatch(/^[0-9A-Z]{26}$/);
    expect(new Date(r.event.time).toISOString()).toBe(r.event.time);
    expect(r.event.node).toMatch(/\S/);
  }
  const owner = byEnv.find((r) => r.event.type === 'session.owner')!.event;
  expect(owner.payload.previousOwner).not.toBe(owner.payload.owner);
  expect(owner.node).toBe(owner.payload.owner);
  expect(byEnv.find((r) => r.event.type === 'session.terminated' && r.event.userId === 'alice')!.event.payload.reason).toBe('stopped');
  expect(byEnv.find((r) => r.event.type === 'session.qr')!.event.payload.qr).toBe(qr);
  const apiQr = receiver.unique('/api').find((r) => r.event.type === 'session.qr')!;
  expect(apiQr.event.payload).not.toHaveProperty('qr');
  expect(new Set(receiver.unique('/api').map((r) => r.event.type))).toEqual(new Set(['session.qr', 'session.status']));
  assertNoSecretsLogged([a, b, c].map((s) => s.logs.text).join('\n'), [qr, webhookSecret, otherSecret]);
});

it('receiver down, then up: every event arrives once, in order', async () => {
  const { dir, receiver } = await setup();
  await receiver.down(); // every connection to its port is reset
  const svc = await start(dir, { WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: webhookSecret });
  for (const userId of ['u1', 'u2', 'u3']) await svc.call('POST', '/sessions', { userId });
  await svc.call('POST', '/sessions/u2/default/stop');
  await svc.call('POST', '/sessions/u3/default/restart');
  await waitUntil(async () => ((await svc.call('GET', '/webhooks')).body[0]?.lastError as { message?: string } | null)?.message !== undefined);
  await waitUntil(async () => {
    const stored = await outboxEvents(dir);
    const opens = stored.filter((e) => e.type === 'session.status' && e.userId === 'u3' && e.payload.state === 'open');
    return opens.length === 2 && stored.some((e) => e.type === 'session.terminated' && e.userId === 'u2');
  });
  const emitted = await outboxIds(dir);
  expect(emitted.length).toBeGreaterThanOrEqual(8);
  const metric = async (name: string) => {
    const text = await (await fetch(`${svc.service.url}/metrics`, { headers: { authorization: `Bearer ${testApiKey}` } })).text();
    return Number(new RegExp(`^${name.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1]);
  };
  expect(await metric('wa_vigil_outbox_depth')).toBe(emitted.length);
  expect(await metric('wa_vigil_webhook_deliveries_total{result="failed"}')).toBeGreaterThan(0);

  await receiver.start(receiver.port);
  await waitUntil(() => receiver.unique().length >= emitted.length, 8_000);
  const arrived = receiver.received.map((r) => r.event.id);
  expect(arrived.slice(0, emitted.length)).toEqual(emitted);
  expect(new Set(arrived).size).toBe(arrived.length);
  for (const r of receiver.received) expect(verifiedByReadmeRecipe(webhookSecret, r)).toBe(true);
  await waitUntil(async () => (await metric('wa_vigil_outbox_depth')) === 0);
  expect(await metric('wa_vigil_webhook_deliveries_total{result="delivered"}')).toBe(receiver.received.length);
  expect(await metric('wa_vigil_webhook_delivery_seconds_count')).toBeGreaterThan(receiver.received.length);
  const [subscription] = (await svc.call('GET', '/webhooks')).body;
  expect(subscription!.paused).toBeNull();
  expect(subscription).not.toHaveProperty('secret');
});

it('a receiver answering 410 pauses its subscription, visibly; a 400 is not retried; resume delivers from where it stopped', async () => {
  const { dir, receiver } = await setup();
  const svc = await start(dir, { WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: webhookSecret, WEBHOOK_EVENTS: 'session.status' });
  receiver.answer = (r) => (r.event.userId === 'refused' ? { status: 400 } : { status: 410 });
  await svc.call('POST', '/sessions', { userId: 'refused' });
  await waitUntil(() => receiver.received.length >= 2);
  await svc.call('POST', '/sessions', { userId: 'gone' });
  await waitUntil(() => receiver.received.some((r) => r.event.userId === 'gone'));
  await waitUntil(async () => (await svc.call('GET', '/webhooks')).body[0]!.paused !== null);
  const [paused] = (await svc.call('GET', '/webhooks')).body;
  expect((paused!.paused as { reason: string }).reason).toMatch(/410/);
  expect((paused!.lastError as { status: number }).status).toBe(410);

  // Refused events (400) were each posted once, never retried.
  const refused = receiver.received.filter((r) => r.event.userId === 'refused').map((r) => r.event.id);
  expect(new Set(refused).size).toBe(refused.length);
  // Paused: nothing more is posted, however long we wait (retries are 20 ms here).
  const postsWhenPaused = receiver.received.length;
  await svc.call('POST', '/sessions/gone/default/stop');
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(receiver.received.length).toBe(postsWhenPaused);

  receiver.answer = () => ({ status: 200 });
  const resumed = await svc.call('POST', `/webhooks/${paused!.id as string}/resume`);
  expect(resumed.status).toBe(200);
  expect(resumed.body.paused).toBeNull();
  await waitUntil(() => receiver.received.some((r) => r.event.userId === 'gone' && r.event.payload.state === 'terminated'));
  const firstGone = receiver.received.find((r) => r.event.userId === 'gone')!.event.id;
  // The event that got the 410 is delivered again after the resume: paused, not dropped.
  expect(receiver.received.filter((r) => r.event.id === firstGone).length).toBe(2);
  expect((await svc.call('POST', '/webhooks/nope/resume')).status).toBe(404);
});

it('a receiver that never answers does not delay a session’s reconnect', async () => {
  const { dir, receiver } = await setup();
  receiver.answer = () => 'hang';
  const svc = await start(dir, { WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: webhookSecret, WEBHOOK_TIMEOUT_MS: '600000' });
  await svc.call('POST', '/sessions', { userId: 'alice' });
  await waitUntil(() => receiver.hangingCount === 1);
  await waitUntil(async () => (await svc.call('GET', '/sessions/alice/default')).body.state === 'open');

  svc.connection.sessions.get('alice/default')!({ type: 'CONNECTION.CLOSED', statusCode: 428, message: 'Connection Closed' });
  await waitUntil(async () => {
    const { body } = await svc.call('GET', '/sessions/alice/default');
    return body.state === 'open' && body.reconnects === 1;
  });
  // Still stuck on the first event (one in flight per subscription), yet every transition was stored.
  expect(receiver.received.length).toBe(1);
  expect(receiver.hangingCount).toBe(1);
  // The last transition's append may still be on its way to disk (appends are group-committed).
  await waitUntil(async () => (await outboxIds(dir)).length >= 4);
  expect(receiver.received.length).toBe(1);
});

it('POST /webhooks refuses what it cannot use, naming the field', async () => {
  const { dir } = await setup();
  const svc = await start(dir, {});
  const bad = async (body: unknown) => (await svc.call('POST', '/webhooks', body)).body;
  expect(await bad({ url: 'ftp://example.com/hook', secret: webhookSecret })).toEqual({ error: 'invalid_request', message: 'body.url: must be an http:// or https:// URL' });
  expect((await bad({ url: 'not a url', secret: webhookSecret })).message).toMatch(/^body\.url: /);
  expect((await bad({ url: 'http://127.0.0.1:9/x', secret: 'short' })).message).toMatch(/^body\.secret: /);
  expect((await bad({ url: 'http://127.0.0.1:9/x', secret: webhookSecret, events: ['session.nope'] })).message).toMatch(/^body\.events\.0: /);
  expect((await bad({ url: 'http://127.0.0.1:9/x' })).message).toBe('body.secret: required');
  expect((await svc.call('DELETE', '/webhooks/wh_missing')).status).toBe(404);
  const made = await svc.call('POST', '/webhooks', { url: 'http://127.0.0.1:8/x', secret: webhookSecret });
  expect((await svc.call('DELETE', `/webhooks/${made.body.id as string}`)).status).toBe(204);
  expect((await svc.call('GET', '/webhooks')).body).toEqual([]);
});

it('a receiver failing for the whole retry window pauses the subscription with its last error, keeping the event', async () => {
  const { dir, receiver } = await setup();
  receiver.answer = () => ({ status: 503 });
  const svc = await start(dir, { WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: webhookSecret, WEBHOOK_RETRY_FOR_MS: '300' });
  await svc.call('POST', '/sessions', { userId: 'alice' });
  await waitUntil(async () => (await svc.call('GET', '/webhooks')).body[0]!.paused !== null);
  const [paused] = (await svc.call('GET', '/webhooks')).body;
  expect((paused!.paused as { reason: string }).reason).toMatch(/failed for/);
  expect(paused!.lastError).toMatchObject({ status: 503, message: 'HTTP 503' });
  const first = receiver.received[0]!.event.id;
  // Retried (with backoff) before pausing, always the same first event: order is kept, nothing skipped.
  expect(receiver.received.length).toBeGreaterThan(2);
  expect(receiver.received.every((r) => r.event.id === first)).toBe(true);
  receiver.answer = () => ({ status: 200 });
  await svc.call('POST', `/webhooks/${paused!.id as string}/resume`);
  await waitUntil(() => receiver.received.some((r) => r.event.id !== first));
  expect(receiver.unique()[0]!.event.id).toBe(first);
});
