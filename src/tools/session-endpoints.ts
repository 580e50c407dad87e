/**
 * The two ends of `migrate-sessions`: a sessions folder or a PostgreSQL URL.
 * Reading is raw — each value's BufferJSON text exactly as stored — so a copy
 * is byte for byte (decoding app-state-sync-key into its protobuf class and
 * encoding it again would change its JSON). Writing goes through the target's
 * SessionStore, with a lease of its own, like any other writer.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { credsFileName, keyFileName } from '../store/files/file-auth-state.js';
import { FileOwnership } from '../store/files/file-ownership.js';
import { FileSessionStore } from '../store/files/file-session-store.js';
import type { Lease } from '../store/ownership.js';
import { isDatabaseUrl, redactDatabaseUrl } from '../store/postgres/database-url.js';
import { migrate } from '../store/postgres/migrate.js';
import { PgOwnership } from '../store/postgres/pg-ownership.js';
import { PostgresSessionStore } from '../store/postgres/pg-session-store.js';
import type { SessionKey } from '../store/session-key.js';
import type { SessionStore } from '../store/session-store.js';
import { folderFiles, type SubscriptionFiles } from '../webhooks/subscriptions.js';
import { pgSubscriptionFiles } from '../webhooks/postgres/pg-subscriptions.js';

export interface RawKey {
  type: string;
  id: string;
  /** BufferJSON text, as stored. */
  text: string;
}

export interface SessionEndpoint {
  readonly store: SessionStore;
  /** For people: the folder, or the URL without its password. */
  readonly location: string;
  credsText(key: SessionKey): Promise<string | null>;
  keys(key: SessionKey): Promise<RawKey[]>;
  /** The live process that runs the session, if any: a copy is only consistent with nobody writing. */
  liveOwner(key: SessionKey): Promise<string | null>;
  /** A lease to write the session with. */
  lease(key: SessionKey): Promise<Lease>;
  release(lease: Lease): Promise<void>;
  /** The webhook subscriptions kept beside the sessions (the folder's `.webhooks/`, the cluster's table). */
  readonly subscriptions: SubscriptionFiles;
  close(): Promise<void>;
}

export function openEndpoint(where: string): Promise<SessionEndpoint> {
  return isDatabaseUrl(where) ? openDatabase(where) : openFolder(where);
}

const holder = `migrate-sessions-${randomBytes(4).toString('hex')}`;
/** The copy holds its leases as a node would; a crashed copy's leases are free again this long after. */
const toolLeaseTtlMs = 5 * 60_000;

/** Baileys' key types, longest first, so `sender-key-memory-x.json` is not read as a sender-key. */
const keyTypes = ['app-state-sync-version', 'app-state-sync-key', 'sender-key-memory', 'identity-key', 'lid-mapping', 'device-list', 'sender-key', 'pre-key', 'session', 'tctoken'];

/**
 * The (type, id) a key file was written for. The file name mangles `/` to `__` and `:` to `-`;
 * of Baileys' ids only sender keys (`group::user::device`) hold colons, and only base64 ids slashes.
 */
export function keyFromFileName(name: string): { type: string; id: string } | null {
  if (!name.endsWith('.json') || name === credsFileName) return null;
  const type = keyTypes.find((t) => name.startsWith(`${t}-`));
  if (!type) return null;
  let id = name.slice(type.length + 1, -'.json'.length).replace(/__/g, '/');
  if (type === 'sender-key') id = id.replace(/--/g, '::');
  return keyFileName(type, id) === name ? { type, id } : null;
}

async function openFolder(folder: string): Promise<SessionEndpoint> {
  const ownership = new FileOwnership(folder, { holder });
  await ownership.start();
  const store = new FileSessionStore(folder, ownership);
  const readText = async (path: string) => readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? null : Promise.reject(error)));
  return {
    store,
    location: store.location,
    credsText: (key) => readText(join(store.folderOf(key), credsFileName)),
    async keys(key) {
      const keys: RawKey[] = [];
      for (const name of (await readdir(store.folderOf(key))).sort()) {
        const parsed = keyFromFileName(name);
        if (!parsed) continue;
        const text = await readText(join(store.folderOf(key), name));
        if (text !== null) keys.push({ ...parsed, text });
      }
      return keys;
    },
    liveOwner: async (key) => {
      // The tool has no history of the service's heartbeat: it watches it for a TTL before calling it dead.
      const owner = await ownership.watchedLiveOwner(key);
      return owner === holder ? null : owner;
    },
    async lease(key) {
      const result = await ownership.acquire(key);
      if (!result.acquired) throw new Error(`${key.userId}/${key.sessionId}: ${'owner' in result ? `held by ${result.owner}` : 'gone'}`);
      return result.lease;
    },
    release: (lease) => ownership.release(lease),
    subscriptions: folderFiles(folder),
    close: () => ownership.stop(),
  };
}

async function openDatabase(url: string): Promise<SessionEndpoint> {
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  pool.on('error', () => undefined);
  await migrate(pool);
  // The tool is a node of its own while it copies: its leases keep live nodes off the sessions it writes.
  const ownership = new PgOwnership({ pool, holder, ttlMs: toolLeaseTtlMs });
  await ownership.start();
  const store = new PostgresSessionStore({ pool, ownership });
  return {
    store,
    location: redactDatabaseUrl(url),
    async credsText(key) {
      const { rows } = await pool.query<{ creds: string }>('SELECT creds FROM wa_vigil_creds WHERE user_id = $1 AND session_id = $2', [key.userId, key.sessionId]);
      return rows[0]?.creds ?? null;
    },
    async keys(key) {
      const { rows } = await pool.query<RawKey>(
        'SELECT type, id, value AS text FROM wa_vigil_keys WHERE user_id = $1 AND session_id = $2 ORDER BY type COLLATE "C", id COLLATE "C"',
        [key.userId, key.sessionId],
      );
      return rows;
    },
    async liveOwner(key) {
      const owner = await ownership.liveOwner(key);
      return owner !== holder ? owner : null;
    },
    async lease(key) {
      // Only a free lease or a dead node's, bumping the epoch: what any node's acquire does.
      // A beat first: the tool renews nothing else, and nodes judge it alive by its counter moving.
      await ownership.renew([]);
      const taken = await ownership.acquire(key);
      if (!taken.acquired) throw new Error(`${key.userId}/${key.sessionId}: its lease is held by a live node`);
      return taken.lease;
    },
    release: (lease) => ownership.release(lease),
    subscriptions: pgSubscriptionFiles(pool),
    close: async () => {
      await ownership.stop();
      await pool.end();
    },
  };
}
