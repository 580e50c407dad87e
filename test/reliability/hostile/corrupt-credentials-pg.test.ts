/**
 * Damaged credentials in PostgreSQL: a creds row that is not JSON, empty, or
 * JSON that is not credentials (null, {}, a string) is refused as
 * corrupt_credentials when the session opens — never read as "unpaired", which
 * would show a QR for invented keys (the service side is in corrupt-session.test.ts).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { takeLease } from '../../store/store-harnesses.js';
import { testDatabase, type TestDatabase } from '../../support/postgres.js';
import { seedPairedSessions } from '../../../fixtures/pg-seed.js';
import { startTestService, tempSessionsDir, removeDir } from '../../support/service-harness.js';
import { waitUntil } from '../../../fixtures/wait.js';
import { PostgresSessionStore } from '../../../src/store/postgres/pg-session-store.js';
import { WaSimulator } from '../../../src/sim/wa-simulator.js';

let db: TestDatabase;
let store: PostgresSessionStore;

beforeAll(async () => {
  db = await testDatabase();
  store = new PostgresSessionStore({ pool: db.pool, ownership: {} as never });
});
afterAll(async () => {
  await db.drop();
});

it('null, {}, "hello", truncated or empty creds rows are corrupt_credentials; a missing row is a fresh device', async () => {
  const damaged: Array<[string, string, string]> = [
    ['null', 'null', 'not an object (null)'],
    ['{}', '{}', 'noiseKey'],
    ['"hello"', '"hello"', 'not an object (string)'],
    ['truncated', '{"noiseKey":{"private":{"type":"Buffer","da', 'not valid JSON'],
    ['empty', '', 'not valid JSON'],
  ];
  for (const [index, [name, text, message]] of damaged.entries()) {
    const key = { userId: `pg${index}`, sessionId: 'default' };
    expect(await store.create(key)).toBe(true);
    const lease = await takeLease(db, key, 'node-a');
    const fresh = await store.openAuthState(lease);
    expect(fresh.existed, name).toBe(false);
    await fresh.saveCreds();
    await fresh.flush();
    // A good row reads back.
    expect((await store.openAuthState(lease)).existed, name).toBe(true);
    await db.pool.query('UPDATE wa_vigil_creds SET creds = $3 WHERE user_id = $1 AND session_id = $2', [key.userId, key.sessionId, text]);
    const refused = store.openAuthState(lease);
    await expect(refused, name).rejects.toMatchObject({ code: 'ERR_CORRUPT_CREDENTIALS' });
    await expect(refused, name).rejects.toThrow(message);
  }
});

it('a node on PostgreSQL lists a session with {} or null creds as corrupt_credentials, never connects it, and answers 409 to start', async () => {
  const cluster = await testDatabase();
  const sim = await new WaSimulator().start();
  const dir = await tempSessionsDir();
  try {
    await seedPairedSessions(cluster.pool, 3, '1555300');
    await cluster.pool.query(`UPDATE wa_vigil_creds SET creds = '{}' WHERE session_id = 's1'`);
    await cluster.pool.query(`UPDATE wa_vigil_creds SET creds = 'null' WHERE session_id = 's2'`);
    const app = await startTestService({ sim, sessionsDir: dir, env: { DATABASE_URL: cluster.url, LEASE_TTL_MS: '3000', LEASE_RENEW_MS: '500' } });
    try {
      await app.waitForState('crm0', 's0', 'open', 15_000);
      await waitUntil(async () => {
        const { body } = await app.call('GET', '/sessions');
        return (body as unknown as Array<{ error?: unknown }>).filter((view) => view.error).length === 2;
      }, 15_000);
      for (const [path, message] of [['/sessions/crm1/s1', 'noiseKey'], ['/sessions/crm2/s2', 'not an object (null)']] as const) {
        const { body } = await app.call('GET', path);
        expect(body).toMatchObject({ terminatedReason: 'corrupt_credentials', error: { code: 'corrupt_credentials' } });
        expect((body.error as unknown as { message: string }).message).toContain(message);
        const start = await app.call('POST', `${path}/start`);
        expect(start.status).toBe(409);
        expect(start.body.error).toBe('corrupt_credentials');
      }
      // Only the whole session logged in; the damaged ones never reached the simulator (no QR either).
      expect(sim.counters.logins).toBe(1);
      expect(sim.issuedRefs).toHaveLength(0);
    } finally {
      await app.service.stop();
    }
  } finally {
    await sim.stop();
    await removeDir(dir);
    await cluster.drop();
  }
}, 60_000);
