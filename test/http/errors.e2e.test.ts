/**
 * Errors as a client meets them: always `{ error, message }` with the
 * project's own codes, the field named, empty bodies accepted where no body
 * is needed, bearer in any case, 405 with Allow for a wrong method.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WaSimulator } from '../../src/sim/wa-simulator.js';
import { removeDir, startTestService, tempSessionsDir, testApiKey } from '../support/service-harness.js';

let sim: WaSimulator;
let dir: string;
let api: Awaited<ReturnType<typeof startTestService>>;
const warnings: Error[] = [];
const onWarning = (warning: Error) => warnings.push(warning);

beforeAll(async () => {
  process.on('warning', onWarning);
  sim = await new WaSimulator().start();
  dir = await tempSessionsDir();
  api = await startTestService({ sim, sessionsDir: dir });
});
afterAll(async () => {
  process.off('warning', onWarning);
  await api.service.stop();
  await sim.stop();
  await removeDir(dir);
});

const auth = { authorization: `Bearer ${testApiKey}` };

async function raw(method: string, path: string, headers: Record<string, string> = auth, body?: string) {
  const res = await fetch(api.service.url + path, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : null };
}

function expectUniformError(body: Record<string, unknown> | null): void {
  expect(Object.keys(body ?? {}).sort()).toEqual(['error', 'message']);
  expect(body!.error).toMatch(/^[a-z_]+$/);
  expect(JSON.stringify(body)).not.toContain('FST_');
}

it('starting the API prints no Fastify deprecation warning', () => {
  expect(warnings.map((w) => (w as Error & { code?: string }).code ?? w.message)).toEqual([]);
});

describe('bodiless routes accept an empty body whatever the content-type', () => {
  it.each(['application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream'])('%s', async (type) => {
    await api.call('POST', '/sessions', { userId: 'empty', sessionId: type.replace(/\W/g, '') });
    const path = `/sessions/empty/${type.replace(/\W/g, '')}`;
    expect((await raw('POST', `${path}/stop`, { ...auth, 'content-type': type }, '')).status).toBe(202);
    expect((await raw('POST', `${path}/start`, { ...auth, 'content-type': type })).status).toBe(202);
    expect((await raw('DELETE', path, { ...auth, 'content-type': type }, '')).status).toBe(204);
  });

  it('a route that needs a body still refuses an empty one, naming the field', async () => {
    const res = await raw('POST', '/sessions', { ...auth, 'content-type': 'application/json' }, '');
    expect(res.status).toBe(400);
    expectUniformError(res.body);
  });

  it('a non-empty body of another type is a 415 in our own words', async () => {
    const res = await raw('POST', '/sessions', { ...auth, 'content-type': 'text/plain' }, 'userId=bob');
    expect(res.status).toBe(415);
    expectUniformError(res.body);
    expect(res.body!.error).toBe('unsupported_media_type');
  });
});

describe('every error is { error, message } with our own codes', () => {
  it('bad JSON, a too-large body, an unknown field (named), a missing one (named), a bad id (named)', async () => {
    const json = { ...auth, 'content-type': 'application/json' };
    const badJson = await raw('POST', '/sessions', json, '{"userId":');
    expect(badJson.status).toBe(400);
    expectUniformError(badJson.body);
    expect(badJson.body!.error).toBe('invalid_request');
    expect(badJson.body!.message).toMatch(/^body: not valid JSON/);

    const huge = await raw('POST', '/sessions', json, JSON.stringify({ userId: 'x', pad: 'x'.repeat(70 * 1024) }));
    expect(huge.status).toBe(413);
    expectUniformError(huge.body);
    expect(huge.body!.error).toBe('payload_too_large');

    const extra = await raw('POST', '/sessions', json, JSON.stringify({ userId: 'ok', admin: true }));
    expect(extra.status).toBe(400);
    expectUniformError(extra.body);
    expect(extra.body).toEqual({ error: 'invalid_request', message: 'body.admin: unknown field' });

    const missing = await raw('POST', '/sessions/nobody/default/pairing-code', json, '{}');
    expect(missing.status).toBe(400);
    expect(missing.body!.message).toBe('body.phoneNumber: required');

    const badId = await raw('GET', '/sessions/a.b/default');
    expect(badId.status).toBe(400);
    expectUniformError(badId.body);
    expect(badId.body!.message).toContain('userId');

    const badQuery = await raw('GET', '/sessions/nobody/default/qr?format=gif');
    expect(badQuery.status).toBe(400);
    expect(badQuery.body!.message).toContain('querystring.format');
  });

  it('a wrong method is a 405 with Allow, an unknown path a 404', async () => {
    const wrong = await raw('PUT', '/sessions');
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET, HEAD, POST');
    expectUniformError(wrong.body);
    expect(wrong.body!.error).toBe('method_not_allowed');

    const onSession = await raw('PATCH', '/sessions/ann/default');
    expect(onSession.status).toBe(405);
    expect(onSession.headers.get('allow')).toBe('DELETE, GET, HEAD');

    const getStop = await raw('GET', '/sessions/ann/default/stop');
    expect(getStop.status).toBe(405);
    expect(getStop.headers.get('allow')).toBe('POST');

    const unknown = await raw('GET', '/nowhere');
    expect(unknown.status).toBe(404);
    expectUniformError(unknown.body);
  });
});

/** One request on its own connection, as written; the status and the parsed body of the answer. */
function rawRequest(head: string): Promise<{ status: number; body: Record<string, unknown> | null }> {
  const { port } = new URL(api.service.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    let text = '';
    socket.on('data', (chunk) => (text += chunk.toString()));
    socket.on('error', reject);
    socket.once('close', () => {
      const statusLine = text.split('\r\n')[0]!;
      const body = text.split('\r\n\r\n')[1] ?? '';
      resolve({ status: Number(statusLine.split(' ')[1]), body: body ? (JSON.parse(body) as Record<string, unknown>) : null });
    });
    socket.write(head);
  });
}

describe('what is refused before any route runs is { error, message } too', () => {
  it('a percent-escape that does not decode is a 400 invalid_request, not Fastify’s FST_ERR_BAD_URL', async () => {
    const res = await rawRequest(`GET /sessions/%E0%A4%A/default HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer ${testApiKey}\r\nconnection: close\r\n\r\n`);
    expect(res.status).toBe(400);
    expectUniformError(res.body);
    expect(res.body!.error).toBe('invalid_request');
  });

  it('headers larger than the server takes are a 431 with our body', async () => {
    const res = await rawRequest(`GET /sessions HTTP/1.1\r\nhost: localhost\r\nx-big: ${'a'.repeat(20 * 1024)}\r\n\r\n`);
    expect(res.status).toBe(431);
    expectUniformError(res.body);
    expect(res.body!.error).toBe('request_header_fields_too_large');
  });

  it('a request that is not HTTP is a 400 with our body', async () => {
    const res = await rawRequest('HELLO THERE\r\n\r\n');
    expect(res.status).toBe(400);
    expectUniformError(res.body);
  });

  it('JSON declared in another charset than UTF-8 is a 415 naming it, not read as UTF-8', async () => {
    const res = await raw('POST', '/sessions', { ...auth, 'content-type': 'application/json; charset=utf-16' }, JSON.stringify({ userId: 'utf16' }));
    expect(res.status).toBe(415);
    expectUniformError(res.body);
    expect(res.body!.message).toContain('utf-16');
    expect((await raw('GET', '/sessions/utf16/default')).status).toBe(404);
    const utf8 = await raw('POST', '/sessions', { ...auth, 'content-type': 'application/json; charset=UTF-8' }, JSON.stringify({ userId: 'utf8ok' }));
    expect(utf8.status).toBe(201);
  });
});

describe('the API key', () => {
  it('the bearer scheme matches in any case', async () => {
    for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
      expect((await raw('GET', '/sessions', { authorization: `${scheme} ${testApiKey}` })).status, scheme).toBe(200);
    }
    const refused = await raw('GET', '/sessions', { authorization: `Basic ${testApiKey}` });
    expect(refused.status).toBe(401);
    expectUniformError(refused.body);
  });
});
