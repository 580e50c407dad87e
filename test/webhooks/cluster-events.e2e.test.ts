/**
 * GET /events on PostgreSQL is the cluster's: two services on one database,
 * each with its own folder, stream each other's events live, and a client
 * that read from one resumes on the other with Last-Event-ID — no gap, no repeat.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../support/postgres.js';
import { removeDir, tempSessionsDir } from '../support/service-harness.js';
import { waitUntil } from '../../fixtures/wait.js';
import { Receiver } from './support/receiver.js';
import { openSse, type SseClient } from './support/sse.js';
import { startWebhookService, webhookSecret } from './support/webhook-service.js';

let db: TestDatabase;
const dirs: string[] = [];
const services: Array<Awaited<ReturnType<typeof startWebhookService>>> = [];
const streams: SseClient[] = [];

beforeAll(async () => {
  db = await testDatabase();
}, 120_000);
afterAll(async () => {
  for (const stream of streams) stream.close();
  for (const svc of services) await svc.service.stop();
  await db?.drop();
  for (const dir of dirs) await removeDir(dir);
});

async function node(env: Record<string, string> = {}) {
  const dir = await tempSessionsDir();
  dirs.push(dir);
  const svc = await startWebhookService(dir, { DATABASE_URL: db.url, ...env });
  services.push(svc);
  return svc;
}

const fleetEvents = (stream: SseClient) => stream.messages.filter((m) => m.event !== 'gap');

it("node A streams node B's events live; a client that read from A resumes on B with Last-Event-ID, no gap, no repeat", async () => {
  const a = await node();
  const b = await node();
  const holderA = ((await a.call('GET', '/cluster')).body as unknown as { self: string }).self;
  const holderB = ((await b.call('GET', '/cluster')).body as unknown as { self: string }).self;
  const fromA = await openSse(`${a.service.url}/events`);
  streams.push(fromA);
  expect(fromA.status).toBe(200);

  for (const userId of ['ana', 'ben', 'cid', 'dot']) expect((await b.call('POST', '/sessions', { userId })).status).toBeLessThan(300);
  // Each session's events come from whichever node owns it; B created them all, so B speaks for some at least.
  await waitUntil(() => new Set(fleetEvents(fromA).map((m) => m.data.userId)).size === 4, 15_000);
  await waitUntil(() => fleetEvents(fromA).some((m) => m.data.node === holderB), 15_000);
  for (const userId of ['eve', 'fay']) expect((await a.call('POST', '/sessions', { userId })).status).toBeLessThan(300);
  await waitUntil(() => new Set(fleetEvents(fromA).map((m) => m.data.userId)).size === 6, 15_000);
  expect(new Set(fleetEvents(fromA).map((m) => m.data.node))).toEqual(new Set([holderA, holderB]));

  // Every id once, in order, the same events as stored.
  const idsA = fleetEvents(fromA).map((m) => m.id!);
  expect([...idsA].sort()).toEqual(idsA);
  expect(new Set(idsA).size).toBe(idsA.length);

  // A client that had read the first three from A goes on from B.
  const resumeAt = idsA[2]!;
  const fromB = await openSse(`${b.service.url}/events`, { 'last-event-id': resumeAt });
  streams.push(fromB);
  await b.call('POST', '/sessions', { userId: 'gus' });
  await waitUntil(() => fleetEvents(fromA).some((m) => m.data.userId === 'gus') && fleetEvents(fromB).some((m) => m.data.userId === 'gus'), 15_000);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const afterOnA = fleetEvents(fromA).map((m) => m.id!).filter((id) => id > resumeAt);
  const onB = fleetEvents(fromB).map((m) => m.id!);
  expect(fromB.messages.some((m) => m.event === 'gap')).toBe(false);
  expect(onB).toEqual(afterOnA);
  expect(fleetEvents(fromB).map((m) => m.data)).toEqual(fleetEvents(fromA).filter((m) => m.id! > resumeAt).map((m) => m.data));
}, 60_000);

it('the same WEBHOOK_URL configured on two nodes is one subscription of the cluster: listed once, each event received once, in order', async () => {
  const receiver = await new Receiver().start();
  try {
    const env = { WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: webhookSecret, WEBHOOK_ALLOW_SELF: 'true' };
    const a = await node(env);
    const b = await node(env);
    const holders = await Promise.all([a, b].map(async (svc) => ((await svc.call('GET', '/cluster')).body as unknown as { self: string }).self));
    for (const svc of [a, b]) expect(((await svc.call('GET', '/webhooks')).body as unknown as Array<{ source: string }>).filter((s) => s.source === 'env')).toHaveLength(1);
    const users = ['hal', 'ivy', 'jon', 'kim'];
    for (const [i, userId] of users.entries()) expect((await (i % 2 ? a : b).call('POST', '/sessions', { userId })).status).toBeLessThan(300);
    await waitUntil(() => users.every((userId) => receiver.received.some((r) => r.event.userId === userId && r.event.type === 'session.status')), 15_000);
    // A moment for a second copy, were one on its way.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const ids = receiver.received.map((r) => r.event.id);
    expect(ids.length).toBeGreaterThan(0);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    // One node delivers the cluster's events: both nodes' among them (the first test's nodes, still running, may speak too).
    const nodes = new Set(receiver.received.map((r) => r.event.node));
    for (const holder of holders) expect(nodes.has(holder), holder).toBe(true);
  } finally {
    await receiver.stop();
  }
}, 60_000);
