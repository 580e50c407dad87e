/**
 * R4: credentials, keys, the API key and QR text never reach a log line —
 * even with our logs and Baileys' own at trace level, through pairing, login,
 * probes, faults, logout and a pairing-code request.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BufferJSON } from '@whiskeysockets/baileys';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { WaSimulator } from '../../src/sim/wa-simulator.js';
import { LogCapture, removeDir, startTestService, tempSessionsDir, testApiKey } from '../support/service-harness.js';

let sim: WaSimulator;
let dir: string;
const logs = new LogCapture();
let app: Awaited<ReturnType<typeof startTestService>>;

beforeAll(async () => {
  sim = await new WaSimulator().start();
  dir = await tempSessionsDir();
  app = await startTestService({ sim, sessionsDir: dir, logs, env: { LOG_LEVEL: 'trace', BAILEYS_LOG_LEVEL: 'trace', KEEPALIVE_INTERVAL_MS: '200' } });
});
afterAll(async () => {
  await app.service.stop();
  await sim.stop();
  await removeDir(dir);
});

it('no credential, key, API key or QR text in any log line, at trace level', async () => {
  await app.call('POST', '/sessions', { userId: 'quinn' });
  await app.waitForState('quinn', 'default', 'connecting.awaitingQr');
  const qr = (await app.call('GET', '/sessions/quinn/default/qr?format=raw')).body.qr as unknown as string;
  const pairingCode = await app.call('POST', '/sessions', { userId: 'rosa' }).then(async () => {
    await app.waitForState('rosa', 'default', 'connecting.awaitingQr');
    return app.call('POST', '/sessions/rosa/default/pairing-code', { phoneNumber: '15550009090' });
  });
  expect(pairingCode.status).toBe(200);
  sim.scanQr(qr);
  await app.waitForState('quinn', 'default', 'open');
  await new Promise((resolve) => setTimeout(resolve, 500)); // probes
  sim.closeAll();
  await app.waitForState('quinn', 'default', 'open');
  const creds = JSON.parse(await readFile(join(dir, 'quinn/default/creds.json'), 'utf8'), BufferJSON.reviver);
  await app.call('POST', '/sessions/quinn/default/logout');
  await app.waitForState('quinn', 'default', 'terminated');

  const b64 = (value: Uint8Array) => Buffer.from(value).toString('base64');
  const hex = (value: Uint8Array) => Buffer.from(value).toString('hex');
  const secrets: Record<string, string> = {
    apiKey: testApiKey,
    qr,
    qrRef: qr.split('#')[1]!.split(',')[0]!,
    qrRefHex: Buffer.from(qr.split('#')[1]!.split(',')[0]!).toString('hex'), // Baileys' xml dumps print bytes as hex
    noiseKeyPrivate: b64(creds.noiseKey.private),
    noiseKeyPrivateHex: hex(creds.noiseKey.private),
    identityKeyPrivate: b64(creds.signedIdentityKey.private),
    signedPreKeyPrivate: b64(creds.signedPreKey.keyPair.private),
    advSecretKey: creds.advSecretKey,
    pairingCode: String(pairingCode.body.code),
  };
  expect(logs.lines.length).toBeGreaterThan(100);
  expect(logs.text).toContain('"component":"baileys"');
  for (const [name, secret] of Object.entries(secrets)) {
    expect(logs.text.includes(secret), `${name} leaked into the logs`).toBe(false);
  }
});
