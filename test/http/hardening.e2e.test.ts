/**
 * Hardening as an attacker or a careless client would meet it: wrong keys are
 * throttled and logged once per window, idle sockets time out, connections
 * and event streams are capped with a clear 503, and deleting a user's last
 * session leaves no empty folder behind.
 */
import { existsSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AuthThrottle } from '../../src/http/auth-throttle.js';
import { defaultServerLimits } from '../../src/http/server-limits.js';
import { LogCapture, startTestService, testApiKey } from '../support/service-harness.js';
import { simulatorPerTest } from '../support/simulator-fixture.js';
import { waitUntil } from '../../fixtures/wait.js';

/** GET /health on a fresh connection; resolves with everything the server sent before closing. */
function rawGet(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (chunk) => (text += chunk.toString()));
    // A server that refuses a connection may reset it before reading the request; 'close' follows.
    socket.on('error', () => undefined);
    socket.once('close', () => resolve(text));
    socket.write('GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
  });
}

describe('AuthThrottle', () => {
  it('blocks an address after maxFailures in a window, logs only the first failure, and forgets after the window', () => {
    let now = 0;
    const throttle = new AuthThrottle({ maxFailures: 3, windowMs: 1_000, now: () => now });
    expect(throttle.recordFailure('10.0.0.1')).toEqual({ log: true, failuresInWindow: 1, summary: null });
    expect(throttle.recordFailure('10.0.0.1').log).toBe(false);
    expect(throttle.blockedForMs('10.0.0.1')).toBe(0);
    throttle.recordFailure('10.0.0.1');
    now = 400;
    expect(throttle.blockedForMs('10.0.0.1')).toBe(600);
    expect(throttle.blockedForMs('10.0.0.2')).toBe(0);
    now = 1_000;
    expect(throttle.blockedForMs('10.0.0.1')).toBe(0);
    expect(throttle.recordFailure('10.0.0.1').log).toBe(true);
  });

  it('tracks a bounded number of addresses', () => {
    const throttle = new AuthThrottle({ maxTrackedAddresses: 100 });
    for (let i = 0; i < 1_000; i++) throttle.recordFailure(`10.0.${i >> 8}.${i & 255}`);
    expect(throttle.trackedAddresses).toBe(100);
  });
});

describe('against the running service', () => {
  const t = simulatorPerTest();

  async function start(env: Record<string, string> = {}, logs = new LogCapture()) {
    const api = await startTestService({ sim: t.sim, sessionsDir: t.dir, env, logs });
    t.stopAfter(() => api.service.stop());
    return api;
  }

  it('wrong keys: 401 ten times, then 429 with Retry-After (the right key still passes), one log line', async () => {
    const logs = new LogCapture();
    const api = await start({}, logs);
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await api.call('GET', '/sessions', undefined, { 'x-api-key': `guess-${i}-aaaaaaaaaaaa` })).status);
    expect(statuses).toEqual([...Array<number>(10).fill(401), 429, 429]);
    const wrong = await fetch(`${api.service.url}/sessions`, { headers: { authorization: 'Bearer guess-again-aaaaaaaaaaaa' } });
    expect(wrong.status).toBe(429);
    expect(Number(wrong.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await wrong.json()).toMatchObject({ error: 'too_many_requests' });
    const right = await fetch(`${api.service.url}/sessions`, { headers: { authorization: `Bearer ${testApiKey}` } });
    expect(right.status).toBe(200);
    expect((await api.call('GET', '/health', undefined, {})).status).toBe(200);

    const lines = logs.lines.map((l) => JSON.parse(l) as { level: number; msg: string });
    expect(lines.filter((l) => l.msg.startsWith('Authentication failed'))).toHaveLength(1);
    expect(lines.filter((l) => l.level >= 30 && /refused/i.test(l.msg))).toEqual([]);
  });

  it('HTTP timeouts are set: idle sockets cannot pile up', async () => {
    const api = await start();
    const server = api.service.api.server;
    expect(server.headersTimeout).toBe(defaultServerLimits.headersTimeoutMs);
    expect(server.requestTimeout).toBe(defaultServerLimits.requestTimeoutMs);
    expect(server.keepAliveTimeout).toBe(defaultServerLimits.keepAliveTimeoutMs);
    expect(server.timeout).toBe(defaultServerLimits.idleSocketTimeoutMs);
  });

  it('past MAX_HTTP_CONNECTIONS a new connection gets a 503 {error, message}; a freed slot is reused', async () => {
    const api = await start({ MAX_HTTP_CONNECTIONS: '3' });
    const { port } = new URL(api.service.url);
    const idle: Socket[] = [];
    for (let i = 0; i < 3; i++) {
      const socket = connect(Number(port), '127.0.0.1');
      socket.on('error', () => undefined);
      await new Promise((resolve) => socket.once('connect', resolve));
      idle.push(socket);
    }
    const text = await rawGet(Number(port));
    expect(text).toMatch(/^HTTP\/1\.1 503 /);
    expect(JSON.parse(text.split('\r\n\r\n')[1]!)).toMatchObject({ error: 'service_unavailable' });

    idle.pop()!.destroy();
    await waitUntil(async () => (await rawGet(Number(port))).startsWith('HTTP/1.1 200 '));
    for (const socket of idle) socket.destroy();
  });

  it('past MAX_EVENT_STREAMS a new stream gets a 503; closing one frees its slot', async () => {
    const api = await start({ MAX_EVENT_STREAMS: '1' });
    await api.call('POST', '/sessions', { userId: 'sse' });
    const headers = { authorization: `Bearer ${testApiKey}` };
    const first = new AbortController();
    const open = await fetch(`${api.service.url}/sessions/sse/default/events`, { headers, signal: first.signal });
    expect(open.status).toBe(200);
    const busy = await fetch(`${api.service.url}/sessions/sse/default/events`, { headers });
    expect(busy.status).toBe(503);
    expect(await busy.json()).toMatchObject({ error: 'service_unavailable' });
    first.abort();
    await waitUntil(async () => {
      const next = await fetch(`${api.service.url}/inspector/sessions/sse/default/feed`, { headers, signal: AbortSignal.timeout(2_000) });
      await next.body?.cancel();
      return next.status === 200;
    });
  });

  it('a deleted session’s inspector history goes with it: the same ids later start clean', async () => {
    const api = await start();
    const headers = { authorization: `Bearer ${testApiKey}` };
    /** The feed's opening burst: the entries a page that opens now would get. */
    const recentSeqs = async () => {
      const res = await fetch(`${api.service.url}/inspector/sessions/ann/x/feed`, { headers, signal: AbortSignal.timeout(5_000) });
      const reader = res.body!.getReader();
      let text = '';
      while (!text.includes('event: view')) text += new TextDecoder().decode((await reader.read()).value);
      await new Promise((resolve) => setTimeout(resolve, 100));
      text += await Promise.race([reader.read().then((r) => new TextDecoder().decode(r.value)), new Promise<string>((resolve) => setTimeout(() => resolve(''), 200))]);
      await reader.cancel();
      return [...text.matchAll(/"seq":(\d+)/g)].map((m) => Number(m[1]));
    };
    await api.call('POST', '/sessions', { userId: 'ann', sessionId: 'x' });
    await api.waitForState('ann', 'x', 'connecting.awaitingQr');
    const before = await recentSeqs();
    expect(before.length).toBeGreaterThan(0);
    expect((await api.call('DELETE', '/sessions/ann/x')).status).toBe(204);
    await api.call('POST', '/sessions', { userId: 'ann', sessionId: 'x' });
    const after = await recentSeqs();
    expect(after.every((seq) => seq > Math.max(...before))).toBe(true);
  });

  it('deleting a user’s last session removes the user’s folder too', async () => {
    const api = await start();
    await api.call('POST', '/sessions', { userId: 'ann', sessionId: 'one' });
    await api.call('POST', '/sessions', { userId: 'ann', sessionId: 'two' });
    expect((await api.call('DELETE', '/sessions/ann/one')).status).toBe(204);
    expect(existsSync(join(t.dir, 'ann'))).toBe(true);
    expect(existsSync(join(t.dir, 'ann', 'one'))).toBe(false);
    expect((await api.call('DELETE', '/sessions/ann/two')).status).toBe(204);
    expect(existsSync(join(t.dir, 'ann'))).toBe(false);
  });
});
