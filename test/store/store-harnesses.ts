/**
 * The two SessionStore implementations behind one test interface, so the
 * contract tests run the same cases against both. Each harness gives a store,
 * a real lease, a takeover, and a way to make one key's write fail — the only
 * places where the stores differ.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FileOwnership } from '../../src/store/files/file-ownership.js';
import { FileSessionStore } from '../../src/store/files/file-session-store.js';
import { keyFileName } from '../../src/store/files/file-auth-state.js';
import type { Lease, Ownership } from '../../src/store/ownership.js';
import { PostgresSessionStore } from '../../src/store/postgres/pg-session-store.js';
import type { SessionKey } from '../../src/store/session-key.js';
import type { SessionStore } from '../../src/store/session-store.js';
import { testDatabase, type TestDatabase } from '../support/postgres.js';
import { removeDir, tempSessionsDir } from '../support/service-harness.js';

export interface StoreHarness {
  readonly store: SessionStore;
  /** Whether a keys.set batch that fails midway leaves nothing of itself behind. */
  readonly atomicBatches: boolean;
  /** A current lease on the (created) session, held by this harness's holder. */
  lease(key: SessionKey): Promise<Lease>;
  /** Another holder takes the session: every lease handed out before is stale. */
  takeOver(key: SessionKey): Promise<void>;
  /** From now on, writing this key fails (a real failure of the store, not a mock). */
  poisonKey(key: SessionKey, type: string, id: string): Promise<void>;
  /** Overwrites a stored key with bytes that are not JSON. */
  corruptKey(key: SessionKey, type: string, id: string): Promise<void>;
  /** Forgets every session (between tests). */
  reset(): Promise<void>;
  close(): Promise<void>;
}

export interface HarnessFactory {
  readonly name: string;
  open(): Promise<StoreHarness>;
}

export const fileHarness: HarnessFactory = {
  name: 'FileSessionStore',
  async open() {
    let dir = await tempSessionsDir();
    let ownership: FileOwnership;
    let store: FileSessionStore;
    const setUp = async () => {
      ownership = new FileOwnership(dir, { holder: 'node-a' });
      await ownership.start();
      store = new FileSessionStore(dir, ownership);
    };
    await setUp();
    return {
      get store() {
        return store;
      },
      atomicBatches: false,
      async lease(key) {
        const result = await ownership.acquire(key);
        if (!result.acquired) throw new Error(`no lease on ${key.userId}/${key.sessionId}`);
        return result.lease;
      },
      async takeOver(key) {
        // node-a looks dead (its heartbeat is gone, as after a SIGKILL and the TTL); node-b takes the next epoch.
        await ownership.stop();
        const other = new FileOwnership(dir, { holder: 'node-b' });
        await other.start();
        if (!(await other.acquire(key)).acquired) throw new Error('takeover failed');
        await ownership.start();
      },
      async poisonKey(key, type, id) {
        // A folder where the key's file should go: the rename onto it fails (EISDIR).
        await mkdir(join(store.folderOf(key), keyFileName(type, id)), { recursive: true });
      },
      async corruptKey(key, type, id) {
        await writeFile(join(store.folderOf(key), keyFileName(type, id)), '{"not json');
      },
      async reset() {
        await ownership.stop();
        await removeDir(dir);
        dir = await tempSessionsDir();
        await setUp();
      },
      async close() {
        await ownership.stop();
        await removeDir(dir);
      },
    };
  },
};

/** Ownership for the PostgreSQL harness: the store only hands it on; the tests take leases with SQL. */
const notUsedByTheStore = (): never => {
  throw new Error('the store must not call its ownership: the fence reads the lease row itself');
};
const sqlOnlyOwnership: Ownership = {
  holder: 'node-a',
  ttlMs: 60_000,
  start: notUsedByTheStore,
  acquire: notUsedByTheStore,
  confirm: notUsedByTheStore,
  renew: notUsedByTheStore,
  release: notUsedByTheStore,
  liveOwner: notUsedByTheStore,
  liveOwners: notUsedByTheStore,
  liveHolders: notUsedByTheStore,
  stop: notUsedByTheStore,
};

export const postgresHarness: HarnessFactory = {
  name: 'PostgresSessionStore',
  async open() {
    const db: TestDatabase = await testDatabase();
    const store = new PostgresSessionStore({ pool: db.pool, ownership: sqlOnlyOwnership });
    return {
      store,
      atomicBatches: true,
      async lease(key) {
        return takeLease(db, key, 'node-a');
      },
      async takeOver(key) {
        await takeLease(db, key, 'node-b');
      },
      async poisonKey(key, type, id) {
        // A trigger that fails the statement when it reaches this row: rows before it in the batch were already written.
        await db.pool.query(`CREATE OR REPLACE FUNCTION wa_vigil_test_poison() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN
            IF NEW.user_id = '${key.userId}' AND NEW.session_id = '${key.sessionId}' AND NEW.type = '${type}' AND NEW.id = '${id}' THEN
              RAISE EXCEPTION 'poisoned key';
            END IF;
            RETURN NEW;
          END $$`);
        await db.pool.query('CREATE OR REPLACE TRIGGER wa_vigil_test_poison BEFORE INSERT OR UPDATE ON wa_vigil_keys FOR EACH ROW EXECUTE FUNCTION wa_vigil_test_poison()');
      },
      async corruptKey(key, type, id) {
        await db.pool.query(`UPDATE wa_vigil_keys SET value = '{"not json' WHERE user_id = $1 AND session_id = $2 AND type = $3 AND id = $4`, [key.userId, key.sessionId, type, id]);
      },
      async reset() {
        await db.pool.query('DROP TRIGGER IF EXISTS wa_vigil_test_poison ON wa_vigil_keys');
        await db.pool.query('TRUNCATE wa_vigil_sessions CASCADE');
      },
      close: () => db.drop(),
    };
  },
};

/** What an acquire does to the lease row: a new holder and the next epoch. */
export async function takeLease(db: TestDatabase, key: SessionKey, holder: string): Promise<Lease> {
  const { rows } = await db.pool.query<{ epoch: string }>(
    `UPDATE wa_vigil_leases SET holder = $3, epoch = epoch + 1
     WHERE user_id = $1 AND session_id = $2 RETURNING epoch`,
    [key.userId, key.sessionId, holder],
  );
  if (!rows[0]) throw new Error(`no lease row for ${key.userId}/${key.sessionId}`);
  return { key, holder, epoch: Number(rows[0].epoch) };
}
