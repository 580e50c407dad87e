import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BufferJSON } from '@whiskeysockets/baileys';
import jsQRModule from 'jsqr';
import { PNG } from 'pngjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

// jsqr is CommonJS with `export default` typings: under NodeNext the function sits on .default.
const jsQR = ((jsQRModule as unknown as { default?: typeof jsQRModule }).default ?? jsQRModule) as unknown as typeof jsQRModule.default;
import { WaSimulator } from '../../src/sim/wa-simulator.js';
import { writeBaileysAuthFolder } from '../../fixtures/baileys-folder.js';
import { waitUntil } from '../../fixtures/wait.js';
import { LogCapture, removeDir, startTestService, tempSessionsDir, testApiKey } from '../support/service-harness.js';
import { holdersFolderName } from '../../src/store/files/file-ownership.js';

let sim: WaSimulator;
let dir: string;
let running: Awaited<ReturnType<typeof startTestService>>[] = [];

beforeEach(async () => {
  sim = await new WaSimulator().start();
  dir = await tempSessionsDir();
  running = [];
});
afterEach(async () => {
  for (const r of running) await r.service.stop();
  await sim.stop();
  await removeDir(dir);
});

async function start(options: { logs?: LogCapture; env?: Record<string, string> } = {}) {
  const service = await startTestService({ sim, sessionsDir: dir, ...options });
  running.push(service);
  return service;
}

/** A Baileys auth folder as Baileys itself writes it, for a device the simulator knows. */
const dropInBaileysFolder = (userId: string, sessionId: string, phone = '15550007777') => writeBaileysAuthFolder(dir, userId, sessionId, phone);

describe('the HTTP API, against the simulator', () => {
  it('create → QR as PNG that decodes to the simulator ref → scan → open → stop → start → logout → delete', async () => {
    const api = await start();
    const created = await api.call('POST', '/sessions', { userId: 'alice' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ userId: 'alice', sessionId: 'default', state: 'connecting' });

    await api.waitForState('alice', 'default', 'connecting.awaitingQr');
    const png = await api.call('GET', '/sessions/alice/default/qr');
    expect(png.type).toBe('image/png');
    const image = PNG.sync.read(png.body as unknown as Buffer);
    const decoded = jsQR(new Uint8ClampedArray(image.data), image.width, image.height);
    const [showing] = sim.openConnections;
    expect(decoded?.data).toContain(showing!.refs[0]);

    const raw = await api.call('GET', '/sessions/alice/default/qr?format=raw');
    expect(raw.body.qr).toBe(decoded?.data);
    const device = sim.scanQr(raw.body.qr as unknown as string);
    const open = await api.waitForState('alice', 'default', 'open');
    expect(open.me).toEqual({ id: device.jid });
    expect((await api.call('GET', '/sessions/alice/default/qr')).status).toBe(404);

    expect((await api.call('POST', '/sessions/alice/default/stop')).status).toBe(202);
    const stopped = await api.waitForState('alice', 'default', 'terminated');
    expect(stopped.terminatedReason).toBe('stopped');
    expect(JSON.parse(await readFile(join(dir, 'alice/default/creds.json'), 'utf8'), BufferJSON.reviver).me.id).toBe(device.jid);

    expect((await api.call('POST', '/sessions/alice/default/start')).status).toBe(202);
    await api.waitForState('alice', 'default', 'open');
    expect((await api.call('POST', '/sessions/alice/default/restart')).status).toBe(202);
    const again = await api.waitForState('alice', 'default', 'open');
    expect(again.me).toEqual({ id: device.jid });

    expect((await api.call('POST', '/sessions/alice/default/logout')).status).toBe(202);
    const loggedOut = await api.waitForState('alice', 'default', 'terminated');
    expect(loggedOut.terminatedReason).toBe('loggedOut');
    expect(sim.isLinked(device.jid)).toBe(false);
    await expect(readFile(join(dir, 'alice/default/creds.json'))).rejects.toThrow();
    const meta = JSON.parse(await readFile(join(dir, 'alice/default/session.json'), 'utf8'));
    expect(meta).toMatchObject({ shouldRun: false, terminatedReason: 'loggedOut' });

    expect((await api.call('DELETE', '/sessions/alice/default')).status).toBe(204);
    expect((await api.call('GET', '/sessions/alice/default')).status).toBe(404);
    await expect(readFile(join(dir, 'alice/default/session.json'))).rejects.toThrow();
  });

  it('an existing Baileys auth folder dropped into sessions/ comes up open on boot', async () => {
    await dropInBaileysFolder('bob', 'shop');
    const api = await start();
    const open = await api.waitForState('bob', 'shop', 'open');
    expect(open.me).toEqual({ id: '15550007777:3@s.whatsapp.net' });
  });

  it('a service restart brings every running session back open with the same credentials', async () => {
    await dropInBaileysFolder('carol', 'main', '15550008888');
    const first = await start();
    await first.waitForState('carol', 'main', 'open');
    const credsBefore = await readFile(join(dir, 'carol/main/creds.json'), 'utf8');
    await first.service.stop();
    running = [];
    await waitUntil(() => sim.openConnections.length === 0);

    const second = await start();
    const back = await second.waitForState('carol', 'main', 'open');
    expect(back.me).toEqual({ id: '15550008888:3@s.whatsapp.net' });
    const credsAfter = JSON.parse(await readFile(join(dir, 'carol/main/creds.json'), 'utf8'), BufferJSON.reviver);
    expect(credsAfter.noiseKey).toEqual(JSON.parse(credsBefore, BufferJSON.reviver).noiseKey);
  });

  it('a session stopped by an operator stays stopped across a restart', async () => {
    await dropInBaileysFolder('dave', 'main');
    const first = await start();
    await first.waitForState('dave', 'main', 'open');
    await first.call('POST', '/sessions/dave/main/stop');
    await first.service.stop();
    running = [];
    const second = await start();
    const view = (await second.call('GET', '/sessions/dave/main')).body;
    expect(view.state).toBe('terminated');
    expect(sim.loggedIn()).toHaveLength(0);
  });

  it('SSE streams the transitions of a drop and the recovery', async () => {
    await dropInBaileysFolder('erin', 'main');
    const api = await start();
    await api.waitForState('erin', 'main', 'open');
    const res = await fetch(`${api.service.url}/sessions/erin/main/events`, { headers: { 'x-api-key': testApiKey } });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reader = res.body!.getReader();
    const seen: string[] = [];
    let buffer = '';
    const collect = (async () => {
      while (!seen.includes('backingOff') || seen.at(-1)?.split('.')[0] !== 'open') {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += Buffer.from(value).toString('utf8');
        const events = buffer.split('\n\n');
        buffer = events.pop() ?? '';
        for (const event of events) {
          const data = event.split('\n').find((l) => l.startsWith('data: '));
          if (data) seen.push((JSON.parse(data.slice(6)) as { status: string }).status);
        }
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 50));
    sim.closeAll();
    await collect;
    await reader.cancel();
    expect(seen[0]).toMatch(/^open/);
    expect(seen.map((s) => s.split('.')[0])).toEqual(expect.arrayContaining(['open', 'backingOff', 'connecting']));
    expect(seen.at(-1)).toMatch(/^open/);
  });

  it('metrics count sessions per state, reconnects and closes by status code', async () => {
    await dropInBaileysFolder('fay', 'main');
    const api = await start();
    await api.waitForState('fay', 'main', 'open');
    const before = (await api.call('GET', '/metrics')).body as unknown as string;
    expect(before).toContain('wa_vigil_sessions{state="open"} 1');
    sim.closeAll();
    await api.waitForState('fay', 'main', 'backingOff');
    await api.waitForState('fay', 'main', 'open');
    const after = (await api.call('GET', '/metrics')).body as unknown as string;
    expect(after).toContain('wa_vigil_reconnect_attempts_total 1');
    expect(after).toContain('wa_vigil_closes_total{status_code="428"} 1');
  });

  it('captured logs hold no credential, key, API key or QR text', async () => {
    const logs = new LogCapture();
    const folder = await dropInBaileysFolder('gus', 'main');
    const api = await start({ logs });
    await api.waitForState('gus', 'main', 'open');
    await api.call('POST', '/sessions', { userId: 'hana' });
    await api.waitForState('hana', 'default', 'connecting.awaitingQr');
    const qr = (await api.call('GET', '/sessions/hana/default/qr?format=raw')).body.qr as unknown as string;
    sim.scanQr(qr);
    await api.waitForState('hana', 'default', 'open');
    sim.closeAll();
    await api.waitForState('gus', 'main', 'open');

    const creds = JSON.parse(await readFile(join(folder, 'creds.json'), 'utf8'), BufferJSON.reviver);
    const secrets = [
      testApiKey,
      qr,
      qr.split(',')[0]!.split('#')[1]!,
      Buffer.from(creds.noiseKey.private).toString('base64'),
      Buffer.from(creds.signedIdentityKey.private).toString('base64'),
      creds.advSecretKey,
    ];
    expect(logs.lines.length).toBeGreaterThan(10);
    for (const secret of secrets) expect(logs.text).not.toContain(secret);
    expect(logs.text).toContain('Session open for user gus');
  });
});

describe('bad input gets a 4xx naming the field, and nothing on disk', () => {
  const badIds = ['..', '.', 'a/b', 'a%2Fb', '', 'x'.repeat(65), 'ünï', 'a b', 'a.b'];

  it('refuses bad ids in bodies and paths', async () => {
    const api = await start();
    for (const id of badIds) {
      const created = await api.call('POST', '/sessions', { userId: id });
      expect(created.status, `POST userId=${JSON.stringify(id)}`).toBe(400);
      expect(created.body.message).toContain('userId');
      const bySession = await api.call('POST', '/sessions', { userId: 'ok', sessionId: id });
      expect(bySession.status).toBe(400);
      expect(bySession.body.message).toContain('sessionId');
      if (id === '' || id.includes('/')) continue;
      const got = await api.call('GET', `/sessions/${encodeURIComponent(id)}/default`);
      expect([400, 404]).toContain(got.status);
    }
    const { readdir } = await import('node:fs/promises');
    // The service's own heartbeat folder is there; no session folder is.
    expect(await readdir(dir)).toEqual([holdersFolderName]);
  });

  it('refuses bad JSON, wrong types, unknown fields and huge bodies', async () => {
    const api = await start();
    const badJson = await api.call('POST', '/sessions', '{"userId":');
    expect(badJson.status).toBe(400);
    const wrongType = await api.call('POST', '/sessions', { userId: 42 });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.message).toContain('userId');
    const extra = await api.call('POST', '/sessions', { userId: 'ok', admin: true });
    expect(extra.status).toBe(400);
    const huge = await api.call('POST', '/sessions', { userId: 'ok', pad: 'x'.repeat(70 * 1024) });
    expect(huge.status).toBe(413);
    expect((await api.call('GET', '/health')).status).toBe(200);
  });

  it('answers 401 without the API key, except /health', async () => {
    const api = await start();
    expect((await api.call('GET', '/sessions', undefined, {})).status).toBe(401);
    expect((await api.call('GET', '/metrics', undefined, { 'x-api-key': 'wrong' })).status).toBe(401);
    expect((await api.call('GET', '/sessions', undefined, { 'x-api-key': testApiKey })).status).toBe(200);
    expect((await api.call('GET', '/health', undefined, {})).body).toEqual({ status: 'ok' });
  });

  it('409 on a duplicate session, 404 on an unknown one', async () => {
    const api = await start();
    expect((await api.call('POST', '/sessions', { userId: 'ivy' })).status).toBe(201);
    const duplicate = await api.call('POST', '/sessions', { userId: 'ivy' });
    expect(duplicate.status).toBe(409);
    expect((await api.call('POST', '/sessions/nobody/default/stop')).status).toBe(404);
  });
});


