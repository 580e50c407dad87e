/**
 * `npm run migrate-sessions`: folders → PostgreSQL → folders, byte for byte,
 * never overwriting a session, never copying one a live process runs, never
 * printing a credential or the database password.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BufferJSON, proto } from '@whiskeysockets/baileys';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FileOwnership } from '../../src/store/files/file-ownership.js';
import { FileSessionStore } from '../../src/store/files/file-session-store.js';
import type { Ownership } from '../../src/store/ownership.js';
import { PostgresSessionStore } from '../../src/store/postgres/pg-session-store.js';
import type { SessionMeta } from '../../src/store/session-store.js';
import { main } from '../../src/tools/migrate-sessions.js';
import { testDatabase, type TestDatabase } from '../support/postgres.js';
import { removeDir, tempSessionsDir } from '../support/service-harness.js';

const ana = { userId: 'ana', sessionId: 'main' };
const bare = { userId: 'bob', sessionId: 'default' };
const anaMeta = { ...ana, createdAt: '2026-01-02T03:04:05.678Z', shouldRun: true, terminatedReason: null, lastDisconnect: { statusCode: 428, message: 'x', at: '2026-01-03T00:00:00.000Z' } } as SessionMeta;
/** Ids as Baileys makes them: a sender key's colons, a base64 key id's slash, a LID's reverse mapping, a device address. */
const keys = {
  'sender-key': { '120363-1700000000@g.us::15550001111::0': Buffer.from('sender key state') },
  'app-state-sync-key': { 'AAAAAB/x+Q==': proto.Message.AppStateSyncKeyData.fromObject({ keyData: Buffer.from('sync key'), timestamp: 1_700_000_000 }) },
  'lid-mapping': { '15550001111': '987654321', '987654321_reverse': '15550001111' },
  session: { '15550001111_1.3': Buffer.from('signal session') },
  'pre-key': { '7': { public: Buffer.from('pub'), private: Buffer.from('priv') } },
};

let db: TestDatabase;
let source: string;
let back: string;
/** The database URL with a password in it (trust authentication ignores it; the embedded server needs its own). */
let url: string;

beforeAll(async () => {
  db = await testDatabase({ migrate: false });
  const withPassword = new URL(db.url);
  if (!withPassword.password) withPassword.password = 'never-printed-pw-4821';
  url = withPassword.toString();
  source = await tempSessionsDir();
  back = join(await tempSessionsDir(), 'restored');
  const ownership = new FileOwnership(source, { holder: 'old-node' });
  await ownership.start();
  const store = new FileSessionStore(source, ownership);
  await store.create(ana);
  await store.create(bare);
  const acquired = await ownership.acquire(ana);
  if (!acquired.acquired) throw new Error('no lease');
  await store.writeMeta(acquired.lease, anaMeta);
  const auth = await store.openAuthState(acquired.lease);
  auth.state.creds.me = { id: '15550001111:3@s.whatsapp.net' };
  await auth.saveCreds();
  await auth.state.keys.set(keys);
  await auth.flush();
  // The old service stopped cleanly.
  await ownership.release(acquired.lease);
  await ownership.stop();
}, 120_000);
afterAll(async () => {
  await db?.drop();
  await removeDir(source);
  await removeDir(join(back, '..'));
});

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, (l) => out.push(l), (l) => err.push(l));
  return { code, out: out.join('\n'), err: err.join('\n') };
}

async function folderFiles(folder: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const name of await readdir(folder)) if (name.endsWith('.json') && name !== 'session.json') files.set(name, await readFile(join(folder, name), 'utf8'));
  return files;
}

it('copies every session from folders into PostgreSQL, values byte for byte, printing no secret', async () => {
  const { code, out, err } = await run('--from', source, '--to', url);
  expect(err).toBe('');
  expect(code).toBe(0);
  expect(out).toContain('copied ana/main: metadata, creds, 6 keys');
  expect(out).toContain('copied bob/default: no creds, 0 keys');
  expect(out).toContain('2 session(s) copied');
  expect(out).not.toContain(new URL(url).password);
  const creds = await readFile(join(source, 'ana', 'main', 'creds.json'), 'utf8');
  expect(out).not.toContain((JSON.parse(creds) as { noiseKey: { private: { data: string } } }).noiseKey.private.data);

  const pg = new PostgresSessionStore({ pool: db.pool, ownership: {} as Ownership });
  expect(await pg.list()).toEqual([ana, bare]);
  expect(await pg.readMeta(ana)).toEqual(anaMeta);
  const stored = await db.pool.query<{ creds: string }>('SELECT creds FROM wa_vigil_creds WHERE user_id = $1', ['ana']);
  expect(stored.rows[0]?.creds).toBe(creds);
  const files = await folderFiles(join(source, 'ana', 'main'));
  const rows = await db.pool.query<{ value: string }>('SELECT value FROM wa_vigil_keys ORDER BY value');
  expect(rows.rows.map((r) => r.value).sort()).toEqual([...files.entries()].filter(([n]) => n !== 'creds.json').map(([, t]) => t).sort());
  // Found by the ids Baileys asks for, not by file names.
  const auth = await pg.openAuthState({ key: ana, holder: 'reader', epoch: 0 });
  expect((await auth.state.keys.get('sender-key', ['120363-1700000000@g.us::15550001111::0']))['120363-1700000000@g.us::15550001111::0']).toEqual(Buffer.from('sender key state'));
  expect((await auth.state.keys.get('app-state-sync-key', ['AAAAAB/x+Q==']))['AAAAAB/x+Q==']).toBeInstanceOf(proto.Message.AppStateSyncKeyData);
  expect(auth.state.creds.me?.id).toBe('15550001111:3@s.whatsapp.net');
});

it('refuses to overwrite: a second run copies nothing and names the sessions already there', async () => {
  await db.pool.query("UPDATE wa_vigil_creds SET creds = 'changed since' WHERE user_id = 'ana'");
  const { code, err } = await run('--from', source, '--to', url);
  expect(code).toBe(1);
  expect(err).toContain('not overwritten: ana/main, bob/default');
  expect(err).not.toContain(new URL(url).password);
  const after = await db.pool.query('SELECT creds FROM wa_vigil_creds');
  expect(after.rows).toEqual([{ creds: 'changed since' }]);
  await db.pool.query('UPDATE wa_vigil_creds SET creds = $1', [await readFile(join(source, 'ana', 'main', 'creds.json'), 'utf8')]);
});

it('copies back from PostgreSQL into a new folder: the same files, byte for byte', async () => {
  const { code, out } = await run('--from', url, '--to', back);
  expect(code).toBe(0);
  expect(out).toContain('2 session(s) copied');
  expect(await folderFiles(join(back, 'ana', 'main'))).toEqual(await folderFiles(join(source, 'ana', 'main')));
  expect(JSON.parse(await readFile(join(back, 'ana', 'main', 'session.json'), 'utf8'), BufferJSON.reviver)).toEqual(anaMeta);
  expect(await readdir(join(back, 'bob', 'default'))).not.toContain('creds.json');
});

it('refuses a session a live process still runs, copying nothing', async () => {
  const live = new FileOwnership(source, { holder: 'running-node' });
  await live.start();
  expect((await live.acquire(bare)).acquired).toBe(true);
  const target = join(back, '..', 'while-running');
  try {
    const { code, err } = await run('--from', source, '--to', target);
    expect(code).toBe(1);
    expect(err).toContain('stop the service first');
    expect(err).toContain('bob/default (run by running-node)');
    await expect(readdir(join(target, 'ana'))).rejects.toMatchObject({ code: 'ENOENT' });
  } finally {
    await live.stop();
  }
});

it('never echoes the password of a database it cannot reach', async () => {
  const { code, err } = await run('--from', source, '--to', 'postgres://app:hunter2-secret@127.0.0.1:1/wa');
  expect(code).toBe(1);
  expect(err).toContain('migrate-sessions:');
  expect(err).not.toContain('hunter2-secret');
  expect((await run('--from', source)).code).toBe(2);
  expect((await run('--from', join(source, 'nope'), '--to', back)).err).toContain('--from:');
});
