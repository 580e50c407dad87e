/**
 * `npm run migrate-sessions`: folders → PostgreSQL → folders, byte for byte,
 * outgoing messages whole (queued ones still to be sent, sent ones still there for retries),
 * never overwriting a session, never copying one a live process runs, never
 * printing a credential or the database password; webhook subscriptions go along.
 */
import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BufferJSON, proto } from '@whiskeysockets/baileys';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FileOwnership } from '../../src/store/files/file-ownership.js';
import { FileSessionStore } from '../../src/store/files/file-session-store.js';
import type { OutgoingMessage } from '../../src/store/message-queue.js';
import type { Ownership } from '../../src/store/ownership.js';
import { PostgresSessionStore } from '../../src/store/postgres/pg-session-store.js';
import type { SessionMeta } from '../../src/store/session-store.js';
import { main } from '../../src/tools/migrate-sessions.js';
import { pgSubscriptionFiles } from '../../src/webhooks/postgres/pg-subscriptions.js';
import { SubscriptionStore } from '../../src/webhooks/subscriptions.js';
import { writeBaileysAuthFolder } from '../../fixtures/baileys-folder.js';
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

/** The private texts and recipient of ana's messages: user content, never printed. */
const privateText = (n: number) => `private text ${n}: "never printed" ✓\nsecond line`;
const recipient = '15557654321@s.whatsapp.net';
const messageId = (n: number) => `3EB0${String(n).padStart(18, '0')}`;
/** ana's messages in the source, as its store lists them (oldest first). */
let anaMessages: OutgoingMessage[];

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
  // Read by the contact, failed, written once without an ack (sent again after the move, same id), waiting; two accepted in one millisecond.
  const accepted = (n: number, ms: number) => ({ id: messageId(n), to: recipient, text: privateText(n), createdAt: new Date(Date.UTC(2026, 0, 5, 10, 0, 0, ms)).toISOString() });
  for (const [n, ms] of [[1, 100], [2, 200], [4, 300], [3, 300]] as const) await store.messages.accept(acquired.lease, accepted(n, ms), 100);
  await store.messages.update(acquired.lease, messageId(1), { attempts: 1, content: 'Cg1wcml2YXRlIHRleHQ=' });
  await store.messages.update(acquired.lease, messageId(1), { status: 'read', sentAt: '2026-01-05T10:00:01.000Z', deliveredAt: '2026-01-05T10:00:02.000Z', readAt: '2026-01-05T10:00:03.000Z' });
  await store.messages.update(acquired.lease, messageId(2), { status: 'failed', error: 'not_on_whatsapp' });
  await store.messages.update(acquired.lease, messageId(3), { attempts: 1, content: 'Cg1xdWV1ZWQgdGV4dA==' });
  anaMessages = await store.messages.list(ana);
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
  expect(out).toContain('copied ana/main: metadata, creds, 6 keys, 4 messages (2 queued)');
  expect(out).toContain('copied bob/default: no metadata (stopped, as in the source), no creds, 0 keys, 0 messages (0 queued)');
  expect(out).not.toContain('private text');
  expect(out).not.toContain(recipient.split('@')[0]);
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

  // Every message whole, in order; the one written without an ack is the next the target sends (oldest queued first), same id.
  expect(anaMessages.map((m) => [m.id, m.status])).toEqual([
    [messageId(1), 'read'],
    [messageId(2), 'failed'],
    [messageId(3), 'queued'],
    [messageId(4), 'queued'],
  ]);
  expect(await pg.messages.list(ana)).toEqual(anaMessages);
  expect((await pg.messages.list(ana, 'queued'))[0]).toEqual(anaMessages[2]);
  expect((await pg.messages.get(ana, messageId(1)))?.content).toBe('Cg1wcml2YXRlIHRleHQ=');
  expect(await pg.messages.list(bare)).toEqual([]);
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
  expect(out).toContain('copied ana/main: metadata, creds, 6 keys, 4 messages (2 queued)');
  expect(out).not.toContain('private text');

  // The messages came back as they left: the same records, the same files, the queued one next to send.
  const ownership = new FileOwnership(back, { holder: 'reader' });
  const restored = new FileSessionStore(back, ownership);
  expect(await restored.messages.list(ana)).toEqual(anaMessages);
  expect((await restored.messages.list(ana, 'queued'))[0]).toMatchObject({ id: messageId(3), attempts: 1, content: 'Cg1xdWV1ZWQgdGV4dA==' });
  for (const part of ['queued', 'done']) {
    expect(await folderFiles(join(back, 'ana', 'main', 'messages', part))).toEqual(await folderFiles(join(source, 'ana', 'main', 'messages', part)));
  }
});

it('refuses a session a live process still runs, copying nothing', async () => {
  // A running service: its heartbeat moves every renew (the tool watches it for the TTL it announces).
  const live = new FileOwnership(source, { holder: 'running-node', ttlMs: 1_000 });
  await live.start();
  // The renew in flight is awaited before the stop: one landing after it would write the heartbeat again.
  let renew: Promise<unknown> = Promise.resolve();
  const renewing = setInterval(() => (renew = live.renew([]).catch(() => undefined)), 200);
  expect((await live.acquire(bare)).acquired).toBe(true);
  const target = join(back, '..', 'while-running');
  try {
    const { code, err } = await run('--from', source, '--to', target);
    expect(code).toBe(1);
    expect(err).toContain('stop the service first');
    expect(err).toContain('bob/default (run by running-node)');
    await expect(readdir(join(target, 'ana'))).rejects.toMatchObject({ code: 'ENOENT' });
  } finally {
    clearInterval(renewing);
    await renew;
    await live.stop();
  }
});

it('copies the sessions of a service that crashed, once the tool has watched its heartbeat stand still', async () => {
  // SIGKILLed: its heartbeat file and its lease stay, and nothing moves any more.
  const crashed = new FileOwnership(source, { holder: 'crashed-node', ttlMs: 1_000 });
  await crashed.start();
  expect((await crashed.acquire(bare)).acquired).toBe(true);
  const target = join(back, '..', 'after-crash');
  const { code, out, err } = await run('--from', source, '--to', target);
  expect(code, err).toBe(0);
  expect(out).toContain('2 session(s) copied');
  expect(await readdir(join(target, 'bob', 'default'))).not.toContain('creds.json');
  await crashed.stop();
});

it('never echoes the password of a database it cannot reach', async () => {
  const { code, err } = await run('--from', source, '--to', 'postgres://app:hunter2-secret@127.0.0.1:1/wa');
  expect(code).toBe(1);
  expect(err).toContain('migrate-sessions:');
  expect(err).not.toContain('hunter2-secret');
  expect((await run('--from', source)).code).toBe(2);
  expect((await run('--from', join(source, 'nope'), '--to', back)).err).toContain('--from:');
});

/** The tool as a user runs it: its own process (`npm run migrate-sessions` runs the same file, built). */
function runProcess(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/tools/migrate-sessions.ts', ...argv], { timeout: 120_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, out: stdout, err: stderr }),
    );
  });
}

it('a plain Baileys folder (credentials, no session.json, as another tool leaves it) keeps running after a copy, both ways', async () => {
  // What the file store does with such folders: it restores them and runs them.
  const plainDir = await tempSessionsDir();
  const backDir = join(await tempSessionsDir(), 'back');
  try {
    for (const [i, sessionId] of ['one', 'two', 'three'].entries()) await writeBaileysAuthFolder(plainDir, 'plain', sessionId, `1555000777${i}`);
    const { code, out, err } = await runProcess('--from', plainDir, '--to', url);
    expect(err).toBe('');
    expect(code).toBe(0);

    const rows = await db.pool.query<{ session_id: string; should_run: boolean; terminated_reason: string | null }>(
      "SELECT session_id, should_run, terminated_reason FROM wa_vigil_sessions WHERE user_id = 'plain' ORDER BY session_id",
    );
    expect(rows.rows).toEqual([
      { session_id: 'one', should_run: true, terminated_reason: null },
      { session_id: 'three', should_run: true, terminated_reason: null },
      { session_id: 'two', should_run: true, terminated_reason: null },
    ]);
    expect(out).toContain('copied plain/one: no metadata (runs, as in the source), creds, 0 keys');

    // And back: the folders say so explicitly now, and a session PostgreSQL holds as stopped stays stopped.
    await db.pool.query("UPDATE wa_vigil_sessions SET should_run = false WHERE user_id = 'plain' AND session_id = 'three'");
    const returned = await runProcess('--from', url, '--to', backDir);
    expect(returned.code).toBe(0);
    const metaOf = async (sessionId: string) => JSON.parse(await readFile(join(backDir, 'plain', sessionId, 'session.json'), 'utf8')) as SessionMeta;
    expect(await metaOf('one')).toMatchObject({ shouldRun: true, terminatedReason: null });
    expect(await metaOf('three')).toMatchObject({ shouldRun: false });
  } finally {
    await db.pool.query("DELETE FROM wa_vigil_sessions WHERE user_id = 'plain'");
    await removeDir(plainDir);
    await removeDir(join(backDir, '..'));
  }
}, 240_000);

it('refuses, copying nothing, a message the target could not hold unchanged, naming its id and never its text', async () => {
  const odd = { userId: 'carol', sessionId: 'main' };
  const dir = await tempSessionsDir();
  try {
    const ownership = new FileOwnership(dir, { holder: 'old-node' });
    await ownership.start();
    const store = new FileSessionStore(dir, ownership);
    // Listed first: a copy that checked each session only as it reached it would have copied this one.
    await store.create({ userId: 'aaron', sessionId: 'main' });
    await store.create(odd);
    const acquired = await ownership.acquire(odd);
    if (!acquired.acquired) throw new Error('no lease');
    const { message } = await store.messages.accept(acquired.lease, { id: messageId(9), to: recipient, text: privateText(9), createdAt: '2026-01-05T10:00:00.000Z' }, 10);
    await ownership.release(acquired.lease);
    await ownership.stop();
    // Microseconds (another writer's): PostgreSQL would keep them, JavaScript would not give them back.
    await writeFile(join(dir, 'carol', 'main', 'messages', 'queued', `${messageId(9)}.json`), JSON.stringify({ ...message, createdAt: '2026-01-05T10:00:00.000123Z' }));

    const { code, out, err } = await run('--from', dir, '--to', url);
    expect(code).toBe(1);
    expect(err).toContain(`carol/main message ${messageId(9)}: createdAt is not an ISO timestamp in milliseconds; nothing copied`);
    expect(`${out}${err}`).not.toContain('private text');
    const rows = await db.pool.query("SELECT 1 FROM wa_vigil_sessions WHERE user_id IN ('aaron', 'carol')");
    expect(rows.rows).toEqual([]);
  } finally {
    await removeDir(dir);
  }
});

it('carries the webhook subscriptions both ways, secret and all, printing neither the secret nor the URL', async () => {
  const secret = 'hook-secret-never-printed-7731';
  const from = await tempSessionsDir();
  const to = join(await tempSessionsDir(), 'webhooks-back');
  try {
    const subscriptions = new SubscriptionStore(from);
    await subscriptions.load(null);
    const made = await subscriptions.add({ url: 'https://crm.example/hooks/wa?token=abc', secret, events: ['message.received'], includeQr: false });

    const into = await run('--from', from, '--to', url);
    expect(into.code).toBe(0);
    expect(into.out).toContain('1 webhook subscription(s) copied');
    const inCluster = new SubscriptionStore(from, { files: pgSubscriptionFiles(db.pool) });
    await inCluster.load(null);
    expect(inCluster.get(made.id)).toMatchObject({ url: made.url, secret, events: ['message.received'] });

    // Again: already there, left as it is.
    expect((await run('--from', from, '--to', url)).out).toContain(`0 webhook subscription(s) copied, 1 already there (${made.id})`);

    const out = await run('--from', url, '--to', to);
    expect(out.code).toBe(0);
    const inFolder = new SubscriptionStore(to);
    await inFolder.load(null);
    expect(inFolder.get(made.id)).toMatchObject({ url: made.url, secret });
    for (const text of [into.out, into.err, out.out, out.err]) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain('token=abc');
    }
  } finally {
    await removeDir(from);
    await removeDir(join(to, '..'));
  }
});
