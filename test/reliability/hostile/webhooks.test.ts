/**
 * Hostile receivers and careless subscriptions: nothing a webhook receiver, or
 * a subscription's URL, can do takes the service down or hurts other subscriptions.
 *
 * The delivery cases run the outbox, subscriptions and dispatcher alone
 * (support/delivery-bench.ts) against real HTTP servers on loopback; the API
 * cases run the whole service in-process with fake connections.
 */
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { loadConfig } from '../../../src/app/config.js';
import { drain } from '../../../src/store/files/atomic-file.js';
import { maxResponseBytes } from '../../../src/webhooks/post-event.js';
import { pointsAtSelf } from '../../../src/webhooks/self-address.js';
import { assertNoSecretsLogged, removeDir, tempSessionsDir, testApiKey } from '../../support/service-harness.js';
import { waitUntil } from '../../../fixtures/wait.js';
import { Receiver } from '../../webhooks/support/receiver.js';
import { startWebhookService, webhookSecret } from '../../webhooks/support/webhook-service.js';
import { startBench } from './support/delivery-bench.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups.length = 0;
});

async function bench(options: Parameters<typeof startBench>[1] = {}) {
  const dir = await tempSessionsDir();
  cleanups.push(() => removeDir(dir));
  const started = await startBench(dir, options);
  cleanups.push(() => started.stop());
  return { dir, ...started };
}

async function receiver(): Promise<Receiver> {
  const started = await new Receiver().start();
  cleanups.push(() => started.stop());
  return started;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An HTTP server on loopback whose every answer is `respond`'s; counts requests and closed connections. */
async function hostileServer(respond: (response: import('node:http').ServerResponse) => void) {
  const stats = { requests: 0, closed: 0, bytesSent: 0 };
  const server: Server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      stats.requests += 1;
      respond(response);
    });
  });
  server.on('connection', (socket) => socket.once('close', () => (stats.closed += 1)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, stats };
}

/** Memory now: the resident set, and what the heap and buffers hold. */
function memory() {
  const usage = process.memoryUsage();
  return { rss: usage.rss, held: usage.heapUsed + usage.arrayBuffers + usage.external };
}

const mb = 1024 * 1024;

it('a receiver that answers 200 and then streams forever (or trickles) costs at most WEBHOOK_TIMEOUT_MS and no memory; the slot is freed', async () => {
  const timeoutMs = 1_500;
  const chunk = Buffer.alloc(64 * 1024, 'x');
  // Streams as fast as the client reads, forever (backpressure kept, so this server itself holds nothing).
  const streaming = await hostileServer((response) => {
    response.writeHead(200, { 'content-type': 'application/octet-stream' });
    const pump = () => {
      while (!response.destroyed && response.write(chunk)) streaming.stats.bytesSent += chunk.length;
    };
    response.on('drain', pump);
    pump();
  });
  // Headers at once, then a byte every 50 ms: the body never ends.
  const trickling = await hostileServer((response) => {
    response.writeHead(200);
    response.flushHeaders();
    const timer = setInterval(() => response.write('.'), 50);
    response.once('close', () => clearInterval(timer));
  });
  const fast = await receiver();
  const b = await bench({ delivery: { timeoutMs, maxConcurrent: 1, retryFirstMs: 20, retryMaxMs: 100 } });
  await b.subscribe(`${fast.url}/fast`);
  // A first delivery loads fetch and its buffers, so they do not count as growth.
  await b.emit(1);
  await waitUntil(() => fast.unique().length === 1);
  b.attempts.length = 0;
  await b.subscribe(`${streaming.url}/stream`);
  await b.subscribe(`${trickling.url}/trickle`);

  globalThis.gc?.();
  const before = memory();
  const peak = { ...before };
  const sampler = setInterval(() => {
    const now = memory();
    peak.rss = Math.max(peak.rss, now.rss);
    peak.held = Math.max(peak.held, now.held);
  }, 10);
  cleanups.push(async () => clearInterval(sampler));
  const startedAt = Date.now();
  await b.emit(2);
  await waitUntil(() => fast.unique().length === 3 && streaming.stats.requests >= 2 && trickling.stats.requests >= 2 && b.attempts.length >= 6, 20_000);
  clearInterval(sampler);

  // Memory stayed flat while a receiver poured out its body as fast as loopback goes.
  expect(peak.held - before.held, 'heap and buffers grew').toBeLessThan(50 * mb);
  expect(peak.rss - before.rss, 'resident set grew').toBeLessThan(50 * mb);
  // Each attempt ended by the deadline at the latest (a second of slack for a loaded machine), and counted as delivered:
  // the status was 200, and a body nobody needs does not make it a failure.
  expect(b.attempts.map((a) => a.result)).toEqual(Array(6).fill('delivered'));
  for (const attempt of b.attempts) expect(attempt.seconds).toBeLessThan(timeoutMs / 1000 + 1);
  // A trickling answer is cut by the deadline (a 200 may also be taken as delivered before its body ends: the
  // status alone decides), the streaming one by the cap (long before the deadline).
  expect(b.attempts.filter((a) => a.seconds >= (timeoutMs / 1000) * 0.9).length).toBeGreaterThanOrEqual(1);
  // At most the cap plus one chunk read per attempt, never kept; the connection closed rather than drained.
  for (const attempt of b.attempts) expect(attempt.responseBytes).toBeLessThanOrEqual(maxResponseBytes + chunk.length);
  expect(streaming.stats.closed).toBeGreaterThanOrEqual(2);
  // One shared slot (WEBHOOK_MAX_CONCURRENT=1) and two receivers that never finish: the healthy one still got both, in time.
  expect(fast.unique()).toHaveLength(3);
  expect(Date.now() - startedAt).toBeLessThan(2 * timeoutMs + 5_000);
});

it('eight receivers that never answer do not starve a fast one: it gets at least 90 % of its events within a second', async () => {
  const hub = await receiver();
  const arrivedAt = new Map<string, number>();
  hub.answer = (request) => {
    if (request.path.startsWith('/slow')) return 'hang';
    if (!arrivedAt.has(request.event.id)) arrivedAt.set(request.event.id, Date.now());
    return { status: 204 };
  };
  // The defaults but the timeout, which is long enough to cover the whole test: the slow ones never let go by themselves.
  const b = await bench({ delivery: { timeoutMs: 20_000 } });
  for (let i = 0; i < 8; i += 1) await b.subscribe(`${hub.url}/slow-${i}`);
  await b.subscribe(`${hub.url}/fast`);

  const sent = 40;
  for (let i = 0; i < sent; i += 1) {
    await b.emit(1);
    await sleep(50);
  }
  await waitUntil(() => arrivedAt.size === sent, 10_000).catch(() => undefined);
  const inTime = [...b.emittedAt].filter(([id, at]) => arrivedAt.has(id) && arrivedAt.get(id)! - at <= 1_000).length;
  expect(inTime / sent).toBeGreaterThanOrEqual(0.9);
  // Each slow subscription holds one request, its own: nothing more is queued on them.
  expect(hub.hangingCount).toBe(8);
});

it('1,000 subscriptions with their receiver down write almost nothing per failed attempt (< 50 MB for the 6,000 attempts 40 s make); deleting them all is quick', async () => {
  // A receiver that is down: every attempt fails at once (its port stays bound, so nothing else can answer there).
  const down = await receiver();
  const url = `${down.url}/down`;
  await down.down();
  // The default retry policy (2 s, doubling, with jitter): at most 6 attempts per subscription in 40 s.
  const b = await bench({ maxSubscriptions: 1_000 });
  const made: string[] = [];
  for (let i = 0; i < 1_000; i += 50) made.push(...(await Promise.all(Array.from({ length: 50 }, () => b.subscribe(url)))).map((s) => s.id));

  const before = await writtenBytes();
  await b.emit(1);
  // One failed attempt per subscription measures what one costs; 6,000 is what 40 s of the default policy makes.
  const measured = 1_000;
  const target = 6_000;
  await waitUntil(() => b.attempts.length >= measured, 60_000).catch(() => undefined);
  const failed = b.attempts.filter((a) => a.result === 'failed').length;
  // What those attempts wrote, including writes still queued when they were counted.
  await drain(b.dir);
  const written = (await writtenBytes()) - before;
  const perAttempt = written / Math.max(1, failed);
  // The bound per attempt first: the old code wrote the whole subscription file (~300 KB here) on every one.
  expect(perAttempt * target, `${written} bytes for ${failed} failed attempts`).toBeLessThan(50 * mb);
  expect(failed).toBeGreaterThanOrEqual(measured);
  // The cap holds whoever adds.
  await expect(b.store.add({ url, secret: 'x'.repeat(16), events: null, includeQr: false })).rejects.toThrow(/at most 1000/);
  // Each subscription's error is still shown (kept in memory).
  expect(b.store.get(made[0]!)!.lastError).toMatchObject({ status: null });

  // Deleting them one after another, as a script would: each costs its own small file, not a rewrite of all the others.
  const deleteStartedAt = Date.now();
  const beforeDeleting = await writtenBytes();
  for (const id of made) await b.remove(id);
  const deleteSeconds = (Date.now() - deleteStartedAt) / 1000;
  const deleteBytes = (await writtenBytes()) - beforeDeleting;
  expect(b.store.list()).toEqual([]);
  expect(deleteBytes, `${deleteBytes} bytes written to delete 1,000`).toBeLessThan(20 * mb);
  // Generous (14 s measured on a machine at load 18, most of it the remaining subscriptions' retries): a removal
  // is one unlink and one folder fsync, the cursor write shared; the old code rewrote every remaining
  // subscription and every cursor each time.
  expect(deleteSeconds, `${deleteSeconds} s to delete 1,000`).toBeLessThan(90);
}, 240_000);

/** Bytes this process has written (files, sockets, pipes), from the kernel's own count. */
async function writtenBytes(): Promise<number> {
  const io = await readFile('/proc/self/io', 'utf8');
  return Number(/^wchar: (\d+)$/m.exec(io)![1]);
}


async function service(env: Record<string, string> = {}, dir?: string) {
  const folder = dir ?? (await tempSessionsDir());
  if (!dir) cleanups.push(() => removeDir(folder));
  const started = await startWebhookService(folder, env);
  cleanups.push(() => started.service.stop());
  return { dir: folder, ...started };
}

it('a subscription to the service itself is refused at creation, naming url, unless WEBHOOK_ALLOW_SELF=true', async () => {
  const svc = await service({ ADVERTISE_URL: 'http://wa-vigil.example.test:8443' });
  const port = new URL(svc.service.url).port;
  const selves = [
    `http://127.0.0.1:${port}/sessions/w0/default/restart`,
    `http://localhost:${port}/sessions/w0/default/restart`,
    `http://LOCALHOST.:${port}/x`,
    `http://[::1]:${port}/x`,
    `http://[::ffff:127.0.0.1]:${port}/x`,
    `http://127.0.0.2:${port}/x`,
    `http://0.0.0.0:${port}/x`,
    `http://2130706433:${port}/x`,
    `http://${hostname()}:${port}/x`,
    'http://wa-vigil.example.test:8443/sessions/w0/default/restart',
  ];
  for (const url of selves) {
    const answer = await svc.call('POST', '/webhooks', { url, secret: webhookSecret });
    expect(answer.status, url).toBe(400);
    expect(answer.body).toEqual({ error: 'invalid_request', message: expect.stringMatching(/^body\.url: points at this service itself/) as string });
  }
  expect((await svc.call('GET', '/webhooks')).body).toEqual([]);
  // Another port on loopback is another program: accepted.
  const other = await receiver();
  expect((await svc.call('POST', '/webhooks', { url: `${other.url}/hook`, secret: webhookSecret })).status).toBe(201);

  const allowed = await service({ WEBHOOK_ALLOW_SELF: 'true' });
  const allowedPort = new URL(allowed.service.url).port;
  expect((await allowed.call('POST', '/webhooks', { url: `http://127.0.0.1:${allowedPort}/x`, secret: webhookSecret })).status).toBe(201);

  // WEBHOOK_URL aimed at the service's own PORT (or ADVERTISE_URL) stops the start, naming the variable.
  const base = { SESSIONS_DIR: svc.dir, WEBHOOK_SECRET: webhookSecret };
  expect(() => loadConfig({ ...base, PORT: '3999', WEBHOOK_URL: 'http://localhost:3999/sessions/w0/default/restart' })).toThrow(/WEBHOOK_URL.*itself/);
  expect(() => loadConfig({ ...base, ADVERTISE_URL: 'https://wa.example.test', WEBHOOK_URL: 'https://wa.example.test/hook' })).toThrow(/WEBHOOK_URL.*itself/);
  expect(() => loadConfig({ ...base, PORT: '3999', WEBHOOK_URL: 'http://localhost:3999/x', WEBHOOK_ALLOW_SELF: 'true' })).not.toThrow();
});

it('a host name is this service when it resolves to this machine on a port the service listens on', async () => {
  const self = { ports: [3000], origins: [] };
  const resolved = (addresses: string[]) => async () => addresses;
  expect(await pointsAtSelf(new URL('http://box.internal:3000/x'), self, resolved(['10.255.0.1', '127.0.0.1']))).toBe(true);
  expect(await pointsAtSelf(new URL('http://box.internal:3000/x'), self, resolved(['::ffff:127.0.0.1']))).toBe(true);
  expect(await pointsAtSelf(new URL('http://crm.example.com:3000/x'), self, resolved(['203.0.113.7']))).toBe(false);
  let asked = false;
  const ask = async () => ((asked = true), ['127.0.0.1']);
  expect(await pointsAtSelf(new URL('http://box.internal:3001/x'), self, ask)).toBe(false);
  expect(asked).toBe(false);
});

it('webhook URLs: credentials, port 0 and blocked ports are refused naming url; query values are never shown or logged', async () => {
  const svc = await service();
  const refused = async (url: string) => {
    const answer = await svc.call('POST', '/webhooks', { url, secret: webhookSecret });
    expect(answer.status, url).toBe(400);
    expect(answer.body.message).toMatch(/^body\.url: /);
    return answer.body.message as string;
  };
  const withCredentials = await refused('http://alice:s3cr3t-pass@127.0.0.1:8080/hook?token=tok-123456');
  expect(withCredentials).toMatch(/credentials/);
  expect(withCredentials).not.toMatch(/s3cr3t-pass|tok-123456|alice/);
  expect(await refused('http://127.0.0.1:0/hook')).toMatch(/port 0/);
  expect(await refused('http://127.0.0.1:1/hook')).toMatch(/port 1 /);
  expect(await refused('http://127.0.0.1:25/hook')).toMatch(/port 25 /);
  expect(await refused('ftp://127.0.0.1/hook')).toMatch(/http:\/\/ or https:\/\//);

  const hook = await receiver();
  hook.answer = () => ({ status: 503 });
  const made = await svc.call('POST', '/webhooks', { url: `${hook.url}/hook?token=tok-abcdef123&team=blue#frag`, secret: webhookSecret });
  expect(made.status).toBe(201);
  expect(made.body.url).toBe(`${hook.url}/hook?token=***&team=***`);
  await svc.call('POST', '/sessions', { userId: 'alice' });
  await waitUntil(async () => (await svc.call('GET', '/webhooks')).body[0]!.lastError !== null);
  // Delivered to the real URL, shown masked everywhere.
  expect(hook.received[0]!.path).toBe('/hook?token=tok-abcdef123&team=blue');
  const listed = await svc.call('GET', '/webhooks');
  expect(listed.body[0]!.url).toBe(`${hook.url}/hook?token=***&team=***`);
  expect(JSON.stringify(listed.body)).not.toContain('tok-abcdef123');
  assertNoSecretsLogged(svc.logs.text, ['tok-abcdef123', webhookSecret]);
});

it('a stored subscription from before these rules (credentials in its URL) is kept, migrated, and never shown or logged with them', async () => {
  const dir = await tempSessionsDir();
  cleanups.push(() => removeDir(dir));
  const legacy = {
    id: 'wh_legacy1',
    url: 'http://alice:s3cr3t-pass@127.0.0.1:8080/x?token=tok-legacy-99',
    secret: webhookSecret,
    events: null,
    includeQr: false,
    source: 'api',
    createdAt: new Date().toISOString(),
    paused: null,
    lastError: null,
    lastDeliveredAt: null,
  };
  await writeFile(join(dir, '.webhooks.json'), JSON.stringify([legacy]), { mode: 0o600 });
  const svc = await service({}, dir);
  // Split into one file per subscription (0600: it holds the secret); the single file is gone.
  await expect(stat(join(dir, '.webhooks.json'))).rejects.toThrow(/ENOENT/);
  expect((await stat(join(dir, '.webhooks', 'wh_legacy1.json'))).mode & 0o777).toBe(0o600);
  await svc.call('POST', '/sessions', { userId: 'alice' });
  // fetch refuses such a URL, quoting it whole: the error is kept, masked.
  await waitUntil(async () => (await svc.call('GET', '/webhooks')).body[0]!.lastError !== null);
  const listed = JSON.stringify((await svc.call('GET', '/webhooks')).body);
  expect(listed).toContain('http://***:***@127.0.0.1:8080/x?token=***');
  for (const secret of ['s3cr3t-pass', 'tok-legacy-99']) expect(listed).not.toContain(secret);
  assertNoSecretsLogged(svc.logs.text, ['s3cr3t-pass', 'tok-legacy-99']);
});

it('MAX_WEBHOOKS caps the subscriptions (WEBHOOK_URL’s included) with a clear 409', async () => {
  const hook = await receiver();
  const svc = await service({ MAX_WEBHOOKS: '3', WEBHOOK_URL: `${hook.url}/env`, WEBHOOK_SECRET: webhookSecret });
  const post = () => svc.call('POST', '/webhooks', { url: `${hook.url}/api`, secret: webhookSecret });
  const first = await post();
  expect(first.status).toBe(201);
  expect((await post()).status).toBe(201);
  const over = await post();
  expect(over.status).toBe(409);
  expect(over.body).toEqual({ error: 'too_many_webhooks', message: 'at most 3 webhook subscriptions (MAX_WEBHOOKS); delete one first' });
  expect((await svc.call('GET', '/webhooks')).body).toHaveLength(3);
  expect((await svc.call('DELETE', `/webhooks/${first.body.id as string}`)).status).toBe(204);
  expect((await post()).status).toBe(201);
  const metrics = await (await fetch(`${svc.service.url}/metrics`, { headers: { authorization: `Bearer ${testApiKey}` } })).text();
  expect(metrics).toContain('wa_vigil_webhook_subscriptions{state="active"} 3');
});

it('a cursor left behind by a deletion a crash cut short is dropped at the next start, so events can still be pruned', async () => {
  const hook = await receiver();
  const first = await bench();
  const kept = await first.subscribe(`${hook.url}/kept`);
  const deleted = await first.subscribe(`${hook.url}/deleted`);
  await first.stop();
  // The crash: the subscription's file is gone, its cursor is still on disk.
  await rm(join(first.dir, '.webhooks', `${deleted.id}.json`));
  const second = await startBench(first.dir);
  cleanups.push(() => second.stop());
  expect(second.store.list().map((s) => s.id)).toEqual([kept.id]);
  await waitUntil(() => !second.outbox.cursorIds().includes(deleted.id));
  const cursors = async () => Object.keys(JSON.parse(await readFile(join(first.dir, '.outbox', 'cursors.json'), 'utf8')) as object);
  await waitUntil(async () => !(await cursors()).includes(deleted.id));
  expect(await cursors()).toEqual([kept.id]);
});
