/**
 * The outbox on each backend, for the contract tests: a way to open it (again,
 * on the same storage, as after a restart) and to start from empty. Events are
 * about session u/s emitted by node `n`; on PostgreSQL that node holds the
 * session's lease, so the fence lets them in.
 */
import pg from 'pg';
import { FileOutbox, type FileOutboxOptions } from '../../src/outbox/files/file-outbox.js';
import { PgOutbox } from '../../src/outbox/postgres/pg-outbox.js';
import type { Outbox } from '../../src/outbox/outbox.js';
import { testDatabase, type TestDatabase } from '../support/postgres.js';
import { removeDir, tempSessionsDir } from '../support/service-harness.js';

export type OutboxOptions = Pick<FileOutboxOptions, 'retentionMs' | 'maxBytes' | 'onWriteFailure' | 'onWriteRecovered' | 'retryFirstMs'>;

export interface OutboxHarness {
  /** A new instance on the harness's storage; closed by reset() and close(). */
  open(options?: OutboxOptions): Promise<Outbox>;
  reset(): Promise<void>;
  close(): Promise<void>;
  /** PostgreSQL: lets node `n` write events of another session too (the fence). */
  holdLease?(key: { userId: string; sessionId: string }): Promise<void>;
}

export interface OutboxHarnessFactory {
  name: string;
  open(): Promise<OutboxHarness>;
}

export const eventKey = { userId: 'u', sessionId: 's', node: 'n' } as const;

export const fileOutboxHarness: OutboxHarnessFactory = {
  name: 'FileOutbox',
  async open() {
    let dir = await tempSessionsDir();
    const opened: Outbox[] = [];
    const closeAll = () => Promise.all(opened.splice(0).map((outbox) => outbox.close()));
    return {
      async open(options) {
        const outbox = new FileOutbox(dir, options);
        await outbox.open();
        opened.push(outbox);
        return outbox;
      },
      async reset() {
        await closeAll();
        await removeDir(dir);
        dir = await tempSessionsDir();
      },
      async close() {
        await closeAll();
        await removeDir(dir);
      },
    };
  },
};

export const pgOutboxHarness: OutboxHarnessFactory = {
  name: 'PgOutbox',
  async open() {
    const db = await testDatabase();
    const opened: Outbox[] = [];
    const closeAll = () => Promise.all(opened.splice(0).map((outbox) => outbox.close()));
    return {
      async open(options) {
        const outbox = new PgOutbox({ pool: db.pool, newClient: () => new pg.Client({ connectionString: db.url }), cursorScope: 'scope-a', ...options });
        await outbox.open();
        opened.push(outbox);
        return outbox;
      },
      async reset() {
        await closeAll();
        await resetEvents(db);
        await holdLease(db, eventKey, eventKey.node);
      },
      holdLease: (key) => holdLease(db, key, eventKey.node),
      async close() {
        await closeAll();
        await db.drop();
      },
    };
  },
};

export async function resetEvents(db: TestDatabase): Promise<void> {
  await db.pool.query('TRUNCATE wa_vigil_events, wa_vigil_event_cursors, wa_vigil_sessions CASCADE');
  await db.pool.query('UPDATE wa_vigil_event_state SET pruned_through = NULL');
}

/** Makes the session if needed and gives its lease to `holder` (a new epoch). */
export async function holdLease(db: TestDatabase, key: { userId: string; sessionId: string }, holder: string): Promise<void> {
  await db.pool.query(`INSERT INTO wa_vigil_sessions (user_id, session_id, created_at, should_run) VALUES ($1, $2, now(), true) ON CONFLICT DO NOTHING`, [key.userId, key.sessionId]);
  await db.pool.query(
    `INSERT INTO wa_vigil_leases (user_id, session_id, holder, epoch) VALUES ($1, $2, $3, 1)
     ON CONFLICT (user_id, session_id) DO UPDATE SET holder = excluded.holder, epoch = wa_vigil_leases.epoch + 1`,
    [key.userId, key.sessionId, holder],
  );
}
