/**
 * A create on a PostgreSQL cluster: the row exists (not yet told to run) a moment
 * before its creator takes the lease. A peer's placement that sees the row in between
 * must not adopt it idle, or the creator answers 409 for the session it just made.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { fromCallback } from 'xstate';
import { createLogger } from '../../src/logging/logger.js';
import { SessionRegistry } from '../../src/service/registry.js';
import { PgOwnership } from '../../src/store/postgres/pg-ownership.js';
import { PostgresSessionStore } from '../../src/store/postgres/pg-session-store.js';
import type { SessionKey } from '../../src/store/session-key.js';
import { testDatabase, type TestDatabase } from '../support/postgres.js';

let db: TestDatabase;
beforeAll(async () => (db = await testDatabase()));
afterAll(() => db.drop());

/** A store whose create waits at a gate once the row is made. */
class GatedCreateStore extends PostgresSessionStore {
  made: (() => void) | null = null;
  proceed: Promise<void> | null = null;
  override async create(key: SessionKey): Promise<boolean> {
    const created = await super.create(key);
    this.made?.();
    if (this.proceed) await this.proceed;
    return created;
  }
}

async function node(holder: string) {
  const ownership = new PgOwnership({ pool: db.pool, holder, ttlMs: 10_000 });
  await ownership.start();
  const store = new GatedCreateStore({ pool: db.pool, ownership });
  // A connection that never opens: this test is about who holds the lease.
  const sessions = new SessionRegistry({ store, logger: createLogger({ level: 'silent' }), connection: () => fromCallback(() => undefined) });
  return { ownership, store, sessions };
}

it('a peer that adopts a session between its row and its creator’s lease leaves it to the creator', async () => {
  const a = await node('node-a');
  const b = await node('node-b');
  let open!: () => void;
  a.store.proceed = new Promise((resolve) => (open = resolve));
  const rowMade = new Promise<void>((resolve) => (a.store.made = resolve));
  const created = a.sessions.create('pia', 'main');
  await rowMade;
  expect(await b.sessions.adopt({ userId: 'pia', sessionId: 'main' })).toBe('idle');
  open();
  await expect(created).resolves.toMatchObject({ owner: 'node-a' });
  expect(await b.ownership.liveOwner({ userId: 'pia', sessionId: 'main' })).toBe('node-a');
  await a.sessions.shutdown();
  await b.sessions.shutdown();
  await a.ownership.stop();
  await b.ownership.stop();
});
