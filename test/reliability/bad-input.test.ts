/**
 * R2 bad input: 1,000 generated hostile requests — traversal ids (.., /,
 * %2e, %2f, NUL), over-long and non-ASCII ids, broken JSON, wrong types,
 * 1 MB bodies, unknown routes. Never a 5xx, never a file outside sessions/,
 * and the service still answers afterwards.
 */
import { request } from 'node:http';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { WaSimulator } from '../../src/sim/wa-simulator.js';
import { removeDir, startTestService, testApiKey } from '../support/service-harness.js';
import { holdersFolderName } from '../../src/store/files/file-ownership.js';

let sim: WaSimulator;
let parent: string;
let app: Awaited<ReturnType<typeof startTestService>>;

beforeAll(async () => {
  sim = await new WaSimulator().start();
  parent = await mkdtemp(join(tmpdir(), 'wa-vigil-r2-'));
  app = await startTestService({ sim, sessionsDir: join(parent, 'sessions') });
});
afterAll(async () => {
  await app.service.stop();
  await sim.stop();
  await removeDir(parent);
});

const hostileIds = ['..', '.', '%2e%2e', '%2E%2E%2F', '..%2f..%2fetc', 'a%00b', '%00', 'x'.repeat(65), 'y'.repeat(300), 'ünï', '%F0%9F%98%80', 'a b', 'a.b', '~root', '\\..\\', ''];
const hostileBodies = [
  '{"userId":',
  '{"userId": 42}',
  '{"userId": ["a"]}',
  '{"userId": null}',
  '{"userId": {"$gt": ""}}',
  '[]',
  '"just a string"',
  'null',
  '{"userId":"ok","sessionId":"../../x"}',
  '{"phoneNumber": "+1 (555) 0100"}',
  '{"phoneNumber": 5550100}',
  '\u0000\u0001',
];
const paths = ['/sessions/{id}/default', '/sessions/ok/{id}', '/sessions/{id}/{id}/start', '/sessions/{id}/default/qr', '/sessions/{id}/default/pairing-code', '/sessions/{id}/default/events', '/{id}', '/sessions/{id}/default/{id}', '/inspector/sessions/{id}/x/feed'];

function pick<T>(list: readonly T[], n: number): T {
  return list[n % list.length]!;
}

function send(method: string, path: string, body: string | Buffer | null): Promise<number> {
  return new Promise((resolve, reject) => {
    const url = new URL(app.service.url);
    const req = request(
      { host: url.hostname, port: url.port, method, path, headers: { 'x-api-key': testApiKey, ...(body === null ? {} : { 'content-type': 'application/json' }) }, timeout: 5_000 },
      (res) => {
        res.resume();
        // An event stream that was (wrongly) opened would never end: its status is all we need.
        if (res.headers['content-type']?.startsWith('text/event-stream')) req.destroy();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('close', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' || error.code === 'EPIPE' ? resolve(413) : reject(error)));
    if (body !== null) req.write(body);
    req.end();
  });
}

async function filesUnder(folder: string, skip: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name)).filter((p) => !p.startsWith(skip));
}

it('1,000 hostile requests: no 5xx, nothing written outside sessions/, and the service still answers', async () => {
  const outsideBefore = await filesUnder(parent, join(parent, 'sessions'));
  const statuses = new Map<number, number>();
  const megabyte = Buffer.alloc(1024 * 1024, 'a');
  for (let n = 0; n < 1_000; n++) {
    const kind = n % 5;
    const id = pick(hostileIds, n * 7 + kind);
    let method = pick(['GET', 'POST', 'DELETE', 'PUT'], n);
    // Raw bytes Node refuses to put on the wire are percent-encoded; everything else goes verbatim.
    const wireId = id.replace(/[^\x21-\x7e]/g, (c) => encodeURIComponent(c));
    let path = pick(paths, n * 3).replaceAll('{id}', wireId);
    let body: string | Buffer | null = null;
    if (kind === 1) {
      method = 'POST';
      path = '/sessions';
      body = pick(hostileBodies, n);
    } else if (kind === 2) {
      method = 'POST';
      path = '/sessions';
      body = JSON.stringify({ userId: id, sessionId: pick(hostileIds, n + 3) });
    } else if (kind === 3 && n % 20 === 3) {
      method = 'POST';
      path = '/sessions';
      body = megabyte;
    } else if (kind === 4) {
      body = method === 'GET' || method === 'DELETE' ? null : pick(hostileBodies, n + 1);
    }
    const status = await send(method, path, body);
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
  }
  const serverErrors = [...statuses].filter(([status]) => status >= 500 || status === 0);
  expect(serverErrors).toEqual([]);
  expect(statuses.get(400) ?? 0).toBeGreaterThan(200);
  expect(statuses.has(413)).toBe(true);
  expect(await filesUnder(parent, join(parent, 'sessions'))).toEqual(outsideBefore);
  expect(await readdir(join(parent, 'sessions')).catch(() => [])).toEqual([holdersFolderName]);
  expect((await app.call('GET', '/health')).status).toBe(200);
  expect((await app.call('POST', '/sessions', { userId: 'still-fine' })).status).toBe(201);
});

it('an older page of the console log: a bad or missing beforeId or seqBelow is a 400 naming it; an unknown session a 404', async () => {
  const id = '01KC0000000000000000000000';
  const cases: Array<[string, number, string]> = [
    ['/inspector/sessions/x/y/earlier', 400, 'beforeId'],
    ['/inspector/sessions/x/y/earlier?beforeId=../../etc', 400, 'querystring.beforeId'],
    [`/inspector/sessions/x/y/earlier?beforeId=${id}&seqBelow=5`, 400, 'querystring.seqBelow'],
    [`/inspector/sessions/x/y/earlier?beforeId=${id}&seqBelow=-1e9`, 400, 'querystring.seqBelow'],
    [`/inspector/sessions/nobody/here/earlier?beforeId=${id}&seqBelow=-3`, 404, 'nobody/here'],
  ];
  for (const [path, status, named] of cases) {
    const res = await app.call('GET', path);
    expect(res.status, path).toBe(status);
    expect(String((res.body as { message?: string }).message), path).toContain(named);
  }
});
