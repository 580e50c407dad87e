/**
 * A session owner when its storage fails: a credential wipe that throws must
 * not keep the session owned forever, and a session.json write that fails is
 * logged, never swallowed.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { SessionPolicy } from '../../machines/session.policy.js';
import { createLogger } from '../../src/logging/logger.js';
import { SessionRegistry } from '../../src/service/registry.js';
import type { SessionAuthState } from '../../src/store/session-store.js';
import { FileOwnership, holdersFolderName } from '../../src/store/files/file-ownership.js';
import type { Lease } from '../../src/store/ownership.js';
import { FileSessionStore } from '../../src/store/files/file-session-store.js';
import type { SessionMeta } from '../../src/store/session-store.js';
import { createAutoConnection } from '../support/auto-connection.js';
import { LogCapture, removeDir, tempSessionsDir } from '../support/service-harness.js';
import { waitUntil } from '../../fixtures/wait.js';

/** A store whose wipes or metadata writes fail on demand, as a full or read-only disk would. */
class FailingStore extends FileSessionStore {
  failWipes = false;
  failMetaWrites = false;
  override async openAuthState(lease: Lease, onRefused?: (error: unknown) => void): Promise<SessionAuthState> {
    const auth = await super.openAuthState(lease, onRefused);
    return {
      ...auth,
      wipe: async () => {
        if (this.failWipes) throw new Error('EROFS: read-only file system');
        return auth.wipe();
      },
    };
  }
  override async writeMeta(lease: Lease, meta: SessionMeta): Promise<void> {
    if (this.failMetaWrites) throw new Error('ENOSPC: no space left on device');
    return super.writeMeta(lease, meta);
  }
}

let dir: string;
let logs: LogCapture;

beforeEach(async () => {
  dir = await tempSessionsDir();
  logs = new LogCapture();
});
afterEach(() => removeDir(dir));

async function registry(connection = createAutoConnection(), policy: Partial<SessionPolicy> = {}) {
  const ownership = new FileOwnership(dir, { holder: 'owner-under-test', ttlMs: 60_000 });
  await ownership.start();
  const store = new FailingStore(dir, ownership);
  const sessions = new SessionRegistry({ store, logger: createLogger({ level: 'debug', destination: logs }), connection: () => connection.logic, policy });
  const { restored } = await sessions.load();
  return { sessions, store, ownership, connection, restored };
}

it('a credential wipe that fails is logged, and shutdown still gives the session up', async () => {
  const { sessions, store, ownership, connection } = await registry();
  await sessions.create('wendy', 'main');
  await waitUntil(() => sessions.get('wendy', 'main').state === 'open');
  store.failWipes = true;
  // WhatsApp unlinks the device (401): the machine wipes the credentials, and the wipe throws.
  connection.sessions.get('wendy/main')!({ type: 'CONNECTION.CLOSED', statusCode: 401 });
  await waitUntil(() => logs.text.includes('Wiping credentials failed'));
  expect(sessions.get('wendy', 'main').terminatedReason).toBe('loggedOut');

  await sessions.shutdown();
  await ownership.stop();
  const folder = join(dir, 'wendy', 'main');
  const leases = (await readdir(folder)).filter((f) => f.startsWith('lease.'));
  expect(leases).toHaveLength(1);
  expect(JSON.parse(await readFile(join(folder, leases[0]!), 'utf8')).holder).toBeNull();
  expect(await readdir(join(dir, holdersFolderName))).toEqual([]);
  // Another process takes it at once.
  const next = new FileOwnership(dir, { holder: 'next-process' });
  await next.start();
  expect((await next.acquire({ userId: 'wendy', sessionId: 'main' })).acquired).toBe(true);
});

it('a session.json write that fails is logged with the session, and an operator stop that cannot write fails loudly', async () => {
  const { sessions, store, connection } = await registry();
  await sessions.create('xena', 'main');
  await waitUntil(() => sessions.get('xena', 'main').state === 'open');
  store.failMetaWrites = true;
  // Replaced elsewhere (440): the reason is recorded in session.json — which fails here.
  connection.sessions.get('xena/main')!({ type: 'CONNECTION.CLOSED', statusCode: 440 });
  await waitUntil(() => logs.text.includes('Writing session.json failed'));
  const line = logs.lines.find((l) => l.includes('Writing session.json failed'))!;
  expect(JSON.parse(line)).toMatchObject({ userId: 'xena', sessionId: 'main', err: 'ENOSPC: no space left on device' });

  await expect(sessions.stop('xena', 'main')).rejects.toThrow('ENOSPC');
  store.failMetaWrites = false;
  await sessions.shutdown();
});

it('a session that gave up (maxAttempts) keeps shouldRun: the next start of the service retries it', async () => {
  const hanging = createAutoConnection({ outcome: () => 'hang' });
  const first = await registry(hanging, { maxReconnectAttempts: 1, reconnectDelaysMs: [1] });
  await first.sessions.create('yuri', 'main');
  // Two attempts in a row that reach WhatsApp and are refused before opening: the budget of one is spent.
  for (let attempt = 0; attempt < 2; attempt++) {
    await waitUntil(() => first.sessions.get('yuri', 'main').status.startsWith('connecting'));
    const socket = hanging.sessions.get('yuri/main')!;
    socket({ type: 'CONNECTION.REACHED' });
    socket({ type: 'CONNECTION.CLOSED', statusCode: 500, message: 'internal' });
  }
  await waitUntil(() => first.sessions.get('yuri', 'main').terminatedReason === 'maxAttempts');
  await waitUntil(async () => JSON.parse(await readFile(join(dir, 'yuri', 'main', 'session.json'), 'utf8')).terminatedReason === 'maxAttempts');
  expect(JSON.parse(await readFile(join(dir, 'yuri', 'main', 'session.json'), 'utf8'))).toMatchObject({ shouldRun: true });
  await first.sessions.shutdown();
  await first.ownership.stop();

  const second = await registry(createAutoConnection());
  expect(await second.restored).toBe(1);
  await waitUntil(() => second.sessions.get('yuri', 'main').state === 'open');
  await second.sessions.shutdown();
});
