/**
 * Web pages the operator visits must not drive the API: a cross-site form POST
 * (text/plain, no preflight) cannot log an account out, and a DNS-rebinding
 * page (foreign Host) cannot read the session list when no API key is set.
 * Clients that are not browsers keep working.
 */
import { request } from 'node:http';
import { expect, it } from 'vitest';
import { writeBaileysAuthFolder } from '../../fixtures/baileys-folder.js';
import { startTestService, testApiKey } from '../support/service-harness.js';
import { simulatorPerTest } from '../support/simulator-fixture.js';

const t = simulatorPerTest();

function send(url: string, method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; text: string }> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

it('without an API key: a cross-site POST is 403 and logs nobody out; a rebinding Host is 403; curl still works', async () => {
  await writeBaileysAuthFolder(t.dir, 'alice', 'default', '15550006001', 1);
  const api = await startTestService({ sim: t.sim, sessionsDir: t.dir, env: { API_KEY: '' } });
  t.stopAfter(() => api.service.stop());
  await api.waitForState('alice', 'default', 'open');
  const host = new URL(api.service.url).host;

  const forged = await send(api.service.url, 'POST', '/sessions/alice/default/logout', { host, origin: 'https://evil.example', 'content-type': 'text/plain' }, 'x');
  expect(forged.status).toBe(403);
  expect(JSON.parse(forged.text)).toMatchObject({ error: 'origin_not_allowed' });
  const fetchMetadataOnly = await send(api.service.url, 'POST', '/sessions/alice/default/stop', { host, 'sec-fetch-site': 'cross-site' });
  expect(fetchMetadataOnly.status).toBe(403);
  expect((await api.call('GET', '/sessions/alice/default')).body.state).toBe('open');

  const rebound = await send(api.service.url, 'GET', '/sessions', { host: `attacker.example:${new URL(api.service.url).port}` });
  expect(rebound.status).toBe(403);
  expect(rebound.text).not.toContain('15550006001');

  // The API's own page (same origin) and plain clients (no Origin) are served.
  expect((await send(api.service.url, 'GET', '/sessions', { host: `localhost:${new URL(api.service.url).port}` })).status).toBe(200);
  const sameOrigin = await send(api.service.url, 'POST', '/sessions/alice/default/restart', { host, origin: `http://${host}` });
  expect(sameOrigin.status).toBe(202);
  expect((await send(api.service.url, 'POST', '/sessions/alice/default/stop', { host })).status).toBe(202);
});

it('ALLOWED_ORIGINS lets a named dashboard change state; other origins stay refused', async () => {
  const api = await startTestService({ sim: t.sim, sessionsDir: t.dir, env: { ALLOWED_ORIGINS: 'https://crm.example.com' } });
  t.stopAfter(() => api.service.stop());
  const host = new URL(api.service.url).host;
  const auth = { authorization: `Bearer ${testApiKey}`, 'content-type': 'application/json', host };
  const allowed = await send(api.service.url, 'POST', '/sessions', { ...auth, origin: 'https://crm.example.com' }, JSON.stringify({ userId: 'bob' }));
  expect(allowed.status).toBe(201);
  const refused = await send(api.service.url, 'POST', '/sessions', { ...auth, origin: 'https://crm.example.com.evil.example' }, JSON.stringify({ userId: 'eve' }));
  expect(refused.status).toBe(403);
});
