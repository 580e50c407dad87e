/**
 * OUTBOX_MAX_BYTES in the running service: a receiver that is down while the
 * outbox holds more undelivered events than the limit. The subscription is
 * paused with reason `backlog` (visible on GET /webhooks, counted in /metrics,
 * one error line), the outbox shrinks back under the limit, and sessions go on.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { EventIdFactory } from '../../../src/outbox/event-id.js';
import { removeDir, tempSessionsDir, testApiKey } from '../../support/service-harness.js';
import { waitUntil } from '../../../fixtures/wait.js';
import { Receiver } from '../../webhooks/support/receiver.js';
import { outboxIds, startWebhookService, webhookSecret } from '../../webhooks/support/webhook-service.js';

const maxBytes = 1024 * 1024;
let dir: string;
const receiver = new Receiver();
const running: Array<Awaited<ReturnType<typeof startWebhookService>>> = [];

beforeAll(async () => {
  dir = await tempSessionsDir();
  await receiver.start();
  await receiver.down(); // its port, resetting every connection
});
afterAll(async () => {
  for (const svc of running) await svc.service.stop().catch(() => undefined);
  await removeDir(dir);
});

it('more undelivered events than OUTBOX_MAX_BYTES: the subscription is paused (backlog), the outbox stays bounded, sessions go on', async () => {
  const env = { WEBHOOK_URL: `${receiver.url}/hook`, WEBHOOK_SECRET: webhookSecret, OUTBOX_MAX_BYTES: String(maxBytes) };
  const first = await startWebhookService(dir, env);
  running.push(first);
  await first.call('POST', '/sessions', { userId: 'before' });
  await waitUntil(async () => (await outboxIds(dir)).length > 0);
  await first.service.stop();
  // What a long receiver outage leaves behind: 2 MiB of events the subscription has not received.
  const outbox = join(dir, '.outbox');
  const cursors = JSON.parse(await readFile(join(outbox, 'cursors.json'), 'utf8')) as Record<string, string | null>;
  expect(Object.keys(cursors)).toHaveLength(1);
  const ids = new EventIdFactory((await outboxIds(dir)).at(-1)!);
  const backlog = Array.from({ length: 2048 }, (_, i) => ({
    id: ids.next(),
    type: 'session.status',
    userId: `old${i % 50}`,
    sessionId: 'default',
    node: 'earlier',
    time: new Date().toISOString(),
    payload: { state: 'open', pad: 'x'.repeat(900) },
  }));
  await writeFile(join(outbox, `${backlog[0]!.id}.events`), backlog.map((e) => JSON.stringify(e)).join('\n') + '\n');

  const second = await startWebhookService(dir, env);
  running.push(second);
  expect((await second.call('POST', '/sessions', { userId: 'after' })).status).toBe(201);
  await waitUntil(async () => ((await second.call('GET', '/webhooks')).body[0]?.paused as { reason?: string } | null)?.reason === 'backlog', 10_000);
  const [subscription] = (await second.call('GET', '/webhooks')).body;
  expect((subscription!.lastError as { message: string }).message).toContain('OUTBOX_MAX_BYTES');
  const metrics = await (await fetch(`${second.service.url}/metrics`, { headers: { authorization: `Bearer ${testApiKey}` } })).text();
  expect(metrics).toMatch(/^wa_vigil_outbox_backlog_pauses_total 1$/m);
  expect(Number(/^wa_vigil_outbox_bytes (\d+)$/m.exec(metrics)?.[1])).toBeLessThanOrEqual(maxBytes);
  expect(second.logs.lines.filter((line) => line.includes('Outbox full'))).toHaveLength(1);
  // Sessions never waited: the one created meanwhile is open and its events are stored.
  await waitUntil(async () => ((await second.call('GET', '/sessions/after/default')).body as unknown as { state: string }).state === 'open');
});
