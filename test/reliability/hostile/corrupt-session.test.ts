/**
 * Damaged stored state, one session at a time: a session.json or creds.json that
 * does not parse, or parses into something the service never wrote, is listed
 * with the problem named — never fails the listing, never reads as an operator's
 * stop, never starts the session with invented metadata or invented credentials.
 */
import { mkdir, readFile, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WaSimulator } from '../../../src/sim/wa-simulator.js';
import { openFileAuthState } from '../../../src/store/files/file-auth-state.js';
import { FileSessionStore } from '../../../src/store/files/file-session-store.js';
import type { Ownership } from '../../../src/store/ownership.js';
import { writeBaileysAuthFolder } from '../../../fixtures/baileys-folder.js';
import { removeDir, startTestService, tempSessionsDir } from '../../support/service-harness.js';

let sim: WaSimulator;
let dir: string;
let app: Awaited<ReturnType<typeof startTestService>> | null = null;

beforeEach(async () => {
  sim = await new WaSimulator().start();
  dir = await tempSessionsDir();
});
afterEach(async () => {
  await app?.service.stop();
  app = null;
  await sim.stop();
  await removeDir(dir);
});

async function writeMeta(userId: string, sessionId: string, text: string): Promise<void> {
  await mkdir(join(dir, userId, sessionId), { recursive: true });
  await writeFile(join(dir, userId, sessionId, 'session.json'), text);
}

const stoppedMeta = (userId: string) => JSON.stringify({ userId, sessionId: 'default', createdAt: '2026-01-01T00:00:00.000Z', shouldRun: false, terminatedReason: null });
const runningMeta = (userId: string) => JSON.stringify({ userId, sessionId: 'default', createdAt: '2026-01-01T00:00:00.000Z', shouldRun: true, terminatedReason: null });

async function startApp() {
  app = await startTestService({ sim, sessionsDir: dir });
  await app.service.restored;
  return app;
}

describe('a damaged session.json', () => {
  it('among 100 sessions: GET /sessions is 200 with that one flagged corrupt_meta, not stopped, and it is never started', async () => {
    for (let i = 0; i < 99; i++) await writeMeta(`u${String(i).padStart(3, '0')}`, 'default', stoppedMeta(`u${i}`));
    const bad = '{"shouldRun":"yes","createdAt":12}';
    await writeMeta('u050x', 'default', bad);
    const api = await startApp();

    const listing = await api.call('GET', '/sessions');
    expect(listing.status).toBe(200);
    const sessions = listing.body as unknown as Array<Record<string, unknown>>;
    expect(sessions).toHaveLength(100);
    const flagged = sessions.filter((s) => s.error !== undefined);
    expect(flagged).toHaveLength(1);
    expect(flagged[0]).toMatchObject({ userId: 'u050x', state: 'terminated', terminatedReason: 'corrupt_meta', error: { code: 'corrupt_meta' } });
    expect((flagged[0]!.error as { message: string }).message).toContain('createdAt');
    expect(sessions.filter((s) => s.terminatedReason === 'stopped')).toHaveLength(99);
    expect((await api.call('GET', '/sessions/u050x/default')).body).toMatchObject({ error: { code: 'corrupt_meta' } });
    const metrics = String((await api.call('GET', '/metrics')).body);
    expect(metrics).toContain('wa_vigil_sessions_damaged{problem="corrupt_meta"} 1');
    expect(metrics).toContain('wa_vigil_sessions_damaged{problem="corrupt_credentials"} 0');

    // "yes" is not true: nothing connected, and the operations that would write over it are refused, naming it.
    expect(sim.counters.connectionsAccepted).toBe(0);
    for (const action of ['start', 'stop', 'restart', 'logout']) {
      const answer = await api.call('POST', `/sessions/u050x/default/${action}`);
      expect(answer.status, action).toBe(409);
      expect(answer.body.error, action).toBe('corrupt_meta');
    }
    expect(await readFile(join(dir, 'u050x/default/session.json'), 'utf8')).toBe(bad);
    expect(sim.counters.connectionsAccepted).toBe(0);

    // Repaired by a person: start reads it again and the session runs.
    await writeFile(join(dir, 'u050x/default/session.json'), runningMeta('u050x'));
    expect((await api.call('POST', '/sessions/u050x/default/start')).status).toBe(202);
    const now = await api.waitForState('u050x', 'default', 'connecting.awaitingQr');
    expect(now).not.toHaveProperty('error');
  });

  it('that is not JSON beside paired credentials: the device is not logged in with invented metadata', async () => {
    await writeBaileysAuthFolder(dir, 'paired', 'default', '15550001111');
    await writeFile(join(dir, 'paired/default/session.json'), '{"userId":"paired","shouldR');
    await writeBaileysAuthFolder(dir, 'empty', 'default', '15550001112');
    await writeFile(join(dir, 'empty/default/session.json'), '');
    const api = await startApp();
    expect(sim.counters.connectionsAccepted).toBe(0);
    const paired = await api.call('GET', '/sessions/paired/default');
    expect(paired.body).toMatchObject({ terminatedReason: 'corrupt_meta', error: { code: 'corrupt_meta', message: 'session.json is not valid JSON' } });
    expect((await api.call('GET', '/sessions/empty/default')).body).toMatchObject({ error: { code: 'corrupt_meta', message: 'session.json is empty' } });
    // Delete stays possible: it is how an operator gives up on a damaged session.
    expect((await api.call('DELETE', '/sessions/empty/default')).status).toBe(204);
  });
});

/** creds.json replaced by a symbolic link to `target`. */
async function relink(folder: string, target: string): Promise<void> {
  await rm(join(folder, 'creds.json'));
  await symlink(target, join(folder, 'creds.json'));
}

describe('damaged credentials', () => {
  const cases: Array<[string, (folder: string) => Promise<void>, string]> = [
    ['truncated', async (folder) => truncate(join(folder, 'creds.json'), 40), 'not valid JSON'],
    ['empty', async (folder) => truncate(join(folder, 'creds.json'), 0), 'empty'],
    ['a dangling symlink', async (folder) => relink(folder, join(folder, 'nowhere.json')), 'symbolic link'],
    ['a symlink to a folder', async (folder) => relink(folder, folder), 'symbolic link'],
    ['{}', async (folder) => writeFile(join(folder, 'creds.json'), '{}'), 'noiseKey'],
    ['"hello"', async (folder) => writeFile(join(folder, 'creds.json'), '"hello"'), 'not an object (string)'],
    ['null', async (folder) => writeFile(join(folder, 'creds.json'), 'null'), 'not an object (null)'],
  ];

  it('truncated, empty, symlinked, {}, "hello" or null: listed corrupt_credentials, never connected, no QR, start/logout 409', async () => {
    for (const [index, [, damage]] of cases.entries()) {
      const userId = `c${index}`;
      const folder = await writeBaileysAuthFolder(dir, userId, 'default', `1555000200${index}`);
      await writeFile(join(folder, 'session.json'), runningMeta(userId));
      await damage(folder);
    }
    const api = await startApp();
    expect(sim.counters.connectionsAccepted).toBe(0);
    for (const [index, [name, , message]] of cases.entries()) {
      const path = `/sessions/c${index}/default`;
      const view = await api.call('GET', path);
      expect(view.body, name).toMatchObject({ state: 'terminated', terminatedReason: 'corrupt_credentials', error: { code: 'corrupt_credentials' } });
      expect((view.body.error as unknown as { message: string }).message, name).toContain(message);
      expect((await api.call('GET', `${path}/qr`)).status, name).toBe(404);
      for (const action of ['start', 'restart', 'logout']) {
        const answer = await api.call('POST', `${path}/${action}`);
        expect(answer.status, `${name} ${action}`).toBe(409);
        expect(answer.body.error, `${name} ${action}`).toBe('corrupt_credentials');
      }
      expect((await api.call('DELETE', `${path}?logout=true`)).status, name).toBe(409);
    }
    expect(sim.counters.connectionsAccepted).toBe(0);
    expect(sim.issuedRefs).toHaveLength(0);
    const listing = await api.call('GET', '/sessions');
    expect(listing.status).toBe(200);
  });
});

it('credentials damaged while the session is stopped: start answers 409 and the session shows the damage, not the stop', async () => {
  const folder = await writeBaileysAuthFolder(dir, 'later', 'default', '15550003333');
  await writeFile(join(folder, 'session.json'), runningMeta('later'));
  const api = await startApp();
  await api.waitForState('later', 'default', 'open');
  expect((await api.call('POST', '/sessions/later/default/stop')).status).toBe(202);
  await api.waitForState('later', 'default', 'terminated');
  await writeFile(join(folder, 'creds.json'), 'null');
  const start = await api.call('POST', '/sessions/later/default/start');
  expect(start.status).toBe(409);
  expect(start.body.error).toBe('corrupt_credentials');
  expect((await api.call('GET', '/sessions/later/default')).body).toMatchObject({
    state: 'terminated',
    terminatedReason: 'corrupt_credentials',
    error: { code: 'corrupt_credentials' },
  });
  expect(sim.counters.logins).toBe(1);
});

it('the checks on creds.json and session.json wait for the writes queued to them: a save not awaited is read back, not taken for "none"', async () => {
  const folder = join(dir, 'queued', 'default');
  const first = await openFileAuthState(folder);
  first.state.creds.accountSyncCounter = 7;
  void first.saveCreds();
  const again = await openFileAuthState(folder);
  expect(again.existed).toBe(true);
  expect(again.state.creds.accountSyncCounter).toBe(7);

  const store = new FileSessionStore(dir, { confirm: async () => undefined } as unknown as Ownership);
  const lease = { key: { userId: 'queued', sessionId: 'default' }, holder: 'h', epoch: 1 };
  void store.writeMeta(lease, { userId: 'queued', sessionId: 'default', createdAt: '2026-01-01T00:00:00.000Z', shouldRun: false, terminatedReason: null });
  await new Promise((resolve) => setImmediate(resolve));
  expect(await store.readMeta(lease.key)).toMatchObject({ shouldRun: false });
});
