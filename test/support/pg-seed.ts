/**
 * Paired sessions in a PostgreSQL database, as `npm run migrate-sessions` would
 * leave them: metadata that should run, credentials of a device the simulator
 * logs in, and a free lease. For the cluster test and the failover benchmark.
 */
import type pg from 'pg';
import { PgOwnership } from '../../src/store/postgres/pg-ownership.js';
import { PostgresSessionStore } from '../../src/store/postgres/pg-session-store.js';
import type { SessionKey } from '../../src/store/session-key.js';
import { registeredCreds } from './memory-auth.js';

/** Seeds `count` sessions `group<i % 9>/s<i>` with phone numbers `<phonePrefix><i, 4 digits>`. */
export async function seedPairedSessions(pool: pg.Pool, count: number, phonePrefix: string): Promise<SessionKey[]> {
  const seeder = new PgOwnership({ pool, holder: 'seeder', ttlMs: 60_000 });
  await seeder.start();
  const store = new PostgresSessionStore({ pool, ownership: seeder });
  const keys: SessionKey[] = [];
  for (let i = 0; i < count; i++) {
    const key = { userId: `crm${i % 9}`, sessionId: `s${i}` };
    await store.create(key);
    const taken = await seeder.acquire(key);
    if (!taken.acquired) throw new Error(`seeding ${key.userId}/${key.sessionId}: lease not acquired`);
    const auth = await store.openAuthState(taken.lease);
    auth.state.creds.me = registeredCreds(`${phonePrefix}${String(i).padStart(4, '0')}`, 1).me;
    await auth.saveCreds();
    await auth.flush();
    await store.writeMeta(taken.lease, { ...key, createdAt: new Date().toISOString(), shouldRun: true, terminatedReason: null });
    await seeder.release(taken.lease);
    keys.push(key);
  }
  await seeder.stop();
  return keys;
}
