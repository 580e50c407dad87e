/**
 * One set of webhook subscriptions for a cluster on PostgreSQL: a subscription
 * made through one node is listed, paused, resumed and deleted through any
 * other, and the node holding its delivery lease delivers every node's events,
 * each once, in the outbox's order. Services in this process (two, or three) on one
 * database, each with its own folder (the file store's subscriptions are not
 * read on PostgreSQL).
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../support/postgres.js';
import { assertNoSecretsLogged, removeDir, tempSessionsDir } from '../support/service-harness.js';
import { waitUntil } from '../../fixtures/wait.js';
import { seqToId } from '../../src/outbox/postgres/sequence-id.js';
import { Receiver } from './support/receiver.js';
import { startWebhookService } from './support/webhook-service.js';

let db: TestDatabase;
const dirs: string[] = [];
const services: Array<Awaited<ReturnType<typeof startWebhookService>>> = [];
const receivers: Receiver[] = [];

beforeAll(async () => {
  db = await testDatabase();
}, 120_000);
afterAll(async () => {
  for (const svc of services) await svc.service.stop();
  for (const receiver of receivers) await receiver.stop();
  await db?.drop();
  for (const dir of dirs) await removeDir(dir);
});

async function node() {
  const dir = await tempSessionsDir();
  dirs.push(dir);
  const svc = await startWebhookService(dir, { DATABASE_URL: db.url, WEBHOOK_ALLOW_SELF: 'true' });
  services.push(svc);
  const holder = ((await svc.call('GET', '/cluster')).body as unknown as { self: string }).self;
  return { ...svc, holder };
}

async function receiver(): Promise<Receiver> {
  const made = await new Receiver().start();
  receivers.push(made);
  return made;
}

/** Every event in the cluster's outbox after `afterSeq`, in order. */
async function storedIds(afterSeq: bigint): Promise<string[]> {
  const { rows } = await db.pool.query<{ seq: string }>('SELECT seq FROM wa_vigil_events WHERE seq > $1 ORDER BY seq', [afterSeq.toString()]);
  return rows.map((row) => seqToId(BigInt(row.seq)));
}

async function newestSeq(): Promise<bigint> {
  const { rows } = await db.pool.query<{ newest: string | null }>('SELECT max(seq) AS newest FROM wa_vigil_events');
  return BigInt(rows[0]!.newest ?? '0');
}

async function deliveryHolder(id: string): Promise<string | null | undefined> {
  const { rows } = await db.pool.query<{ holder: string | null }>('SELECT holder FROM wa_vigil_webhook_leases WHERE subscription_id = $1', [id]);
  return rows[0]?.holder;
}

const secret = 'cluster-secret-0123456789';

it("(a) a subscription made on node A of three is listed on node B and receives, once each and in order, the events of sessions nodes B and C own", async () => {
  const a = await node();
  const b = await node();
  const c = await node();
  // The nodes see each other before the subscription is made: its place (rendezvous) does not move during the test.
  for (const svc of [a, b, c]) await waitUntil(async () => ((await svc.call('GET', '/cluster')).body as unknown as { nodes: unknown[] }).nodes.length === 3, 10_000);
  const rx = await receiver();
  const created = await a.call('POST', '/webhooks', { url: `${rx.url}/a`, secret });
  expect(created.status).toBe(201);
  const id = created.body.id as unknown as string;
  // Nothing happened yet in this database: every event from now on is the subscription's.
  const cut = await newestSeq();

  // B lists it at once, without its secret.
  const onB = (await b.call('GET', '/webhooks')).body as unknown as Array<Record<string, unknown>>;
  expect(onB.map((s) => s.id)).toEqual([id]);
  expect(onB[0]).not.toHaveProperty('secret');
  await waitUntil(async () => (await deliveryHolder(id)) !== null, 10_000);

  // A session is first run by the node it was created on: each node emits some of the events.
  for (const [i, userId] of ['ana', 'ben', 'cid', 'dot', 'eve', 'fay'].entries()) expect((await [a, b, c][i % 3]!.call('POST', '/sessions', { userId })).status).toBeLessThan(300);
  await waitUntil(async () => {
    const { rows } = await db.pool.query<{ node: string }>('SELECT DISTINCT node FROM wa_vigil_events WHERE seq > $1', [cut.toString()]);
    return rows.length === 3;
  }, 15_000);
  const deliverer = await deliveryHolder(id);
  expect([a.holder, b.holder, c.holder]).toContain(deliverer);

  // Every stored event reaches the receiver: the deliverer's and the other node's.
  // (What was stored when they had all arrived: sessions go on emitting after it.)
  let expected: string[] = [];
  await waitUntil(async () => {
    expected = await storedIds(cut);
    const got = new Set(rx.received.map((r) => r.event.id));
    return expected.length > 0 && expected.every((eventId) => got.has(eventId));
  }, 15_000);
  const got = rx.received.map((r) => r.event.id);
  // Once each (no failover here), in the outbox's order.
  expect(got.slice(0, expected.length)).toEqual(expected);
  expect(new Set(got).size).toBe(got.length);
  expect([...got].sort()).toEqual(got);
  // One node delivers them all: its own and both others'.
  expect(new Set(rx.received.map((r) => r.event.node))).toEqual(new Set([a.holder, b.holder, c.holder]));
  for (const svc of [a, b, c]) assertNoSecretsLogged(svc.logs.text, [secret]);
}, 60_000);

it('a pause made by the delivering node shows on the other; a resume or delete made there reaches the deliverer', async () => {
  const a = services[0]!;
  const b = services[1]!;
  const rx = await receiver();
  rx.answer = () => ({ status: 410 });
  const created = await b.call('POST', '/webhooks', { url: `${rx.url}/b`, secret });
  expect(created.status).toBe(201);
  const id = created.body.id as unknown as string;
  await waitUntil(async () => (await deliveryHolder(id)) !== null, 10_000);
  expect((await a.call('POST', '/sessions', { userId: 'gus' })).status).toBeLessThan(300);
  // 410: the deliverer pauses it; every node shows the pause.
  for (const svc of [a, b]) {
    await waitUntil(async () => {
      const list = (await svc.call('GET', '/webhooks')).body as unknown as Array<{ id: string; paused: unknown }>;
      return list.find((s) => s.id === id)?.paused != null;
    }, 10_000);
  }
  const refusedAt = rx.received.length;
  rx.answer = () => ({ status: 204 });
  // Resumed on whichever node: delivery restarts from the event it stopped at (the one that got 410).
  const resumed = await a.call('POST', `/webhooks/${id}/resume`);
  expect(resumed.status).toBe(200);
  await waitUntil(() => rx.received.length > refusedAt, 10_000);
  expect(rx.received[refusedAt]!.event.id).toBe(rx.received[0]!.event.id);

  // Deleted on one node: gone on both, its lease and cursor with it, nothing more delivered.
  expect((await a.call('DELETE', `/webhooks/${id}`)).status).toBe(204);
  expect(await deliveryHolder(id)).toBeUndefined();
  for (const svc of [a, b]) expect(((await svc.call('GET', '/webhooks')).body as unknown as Array<{ id: string }>).map((s) => s.id)).not.toContain(id);
  const { rows } = await db.pool.query('SELECT 1 FROM wa_vigil_event_cursors WHERE subscription_id = $1', [id]);
  expect(rows).toEqual([]);
}, 60_000);

it("upgrading: a node's per-folder subscriptions move into the cluster's with the cursors they had, and the folder is not read again", async () => {
  const dir = await tempSessionsDir();
  dirs.push(dir);
  const scope = 'ab'.repeat(16);
  const old = { id: 'wh_fromfolder', url: 'http://127.0.0.1:1/old', secret, events: null, includeQr: false, source: 'api', createdAt: new Date().toISOString(), paused: null, lastError: null, lastDeliveredAt: null };
  await mkdir(join(dir, '.webhooks'), { recursive: true });
  await writeFile(join(dir, '.webhooks', `${old.id}.json`), JSON.stringify(old));
  await writeFile(join(dir, '.outbox-scope'), scope);
  const at = (await newestSeq()) - 1n;
  await db.pool.query('INSERT INTO wa_vigil_event_cursors (scope, subscription_id, cursor) VALUES ($1, $2, $3)', [scope, old.id, at.toString()]);

  const svc = await startWebhookService(dir, { DATABASE_URL: db.url });
  services.push(svc);
  const listed = (await svc.call('GET', '/webhooks')).body as unknown as Array<{ id: string }>;
  expect(listed.map((s) => s.id)).toContain(old.id);
  const cursors = await db.pool.query<{ scope: string; cursor: string }>('SELECT scope, cursor FROM wa_vigil_event_cursors WHERE subscription_id = $1', [old.id]);
  expect(cursors.rows).toEqual([{ scope: 'cluster', cursor: at.toString() }]);
  expect((await db.pool.query('SELECT 1 FROM wa_vigil_event_cursors WHERE scope = $1', [scope])).rows).toEqual([]);
  expect(await readdir(dir)).toContain('.webhooks.imported');
  expect(await readdir(dir)).not.toContain('.webhooks');
}, 30_000);
