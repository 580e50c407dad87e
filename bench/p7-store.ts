/**
 * P7 store cost: what a credential write costs on the files, on PostgreSQL
 * (this project's store: one fenced transaction per write), and on PostgreSQL
 * the way the npm `postgres-baileys` package writes (one autocommit query per
 * key, one after the other, no transaction, no fence) — side by side, in one
 * run, on one database, interleaved so the shared machine's noise hits all three.
 *
 * Two operations, as Baileys issues them for one session:
 *   - keys.set of 50 keys (40 pre-keys + 10 Signal sessions of 1.5 KB),
 *   - a creds update (saveCreds).
 * Latency is per operation from one session, one at a time; throughput is
 * 16 sessions writing at once. Every side is warmed first.
 *
 *   node --import tsx bench/p7-store.ts [rounds=150]
 *
 * Database: BENCH_DATABASE_URL, else TEST_DATABASE_URL, else an embedded
 * PostgreSQL with fsync on (the files fsync too: like for like). A fresh
 * database is made for the run and dropped after.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { BufferJSON, initAuthCreds, type SignalDataSet } from '@whiskeysockets/baileys';
import { FileOwnership } from '../src/store/files/file-ownership.js';
import { FileSessionStore } from '../src/store/files/file-session-store.js';
import type { Lease, Ownership } from '../src/store/ownership.js';
import { PostgresSessionStore } from '../src/store/postgres/pg-session-store.js';
import type { SessionKey } from '../src/store/session-key.js';
import type { SessionStore } from '../src/store/session-store.js';
import { benchDatabase } from './support/bench-database.js';
import { percentile, report } from './support/measure.js';

const rounds = Number(process.argv[2] ?? 150);
const warmupRounds = 20;
const concurrentSessions = 16;
const concurrentRoundsEach = 10;
const keysPerBatch = 50;

// ---- the database ----
const database = await benchDatabase({ poolSize: concurrentSessions + 2, name: 'p7' });
const { pool } = database;
const folder = await mkdtemp(join(tmpdir(), 'wa-vigil-p7-'));

// ---- what Baileys writes ----
const bytes = (n: number) => randomBytes(n);
const round1 = (n: number) => Math.round(n * 10) / 10;
function keyBatch(round: number): SignalDataSet {
  const preKeys: Record<string, { public: Buffer; private: Buffer }> = {};
  const sessions: Record<string, Buffer> = {};
  for (let i = 0; i < 40; i++) preKeys[`${round * 40 + i}`] = { public: bytes(33), private: bytes(32) };
  for (let i = 0; i < keysPerBatch - 40; i++) sessions[`1555000${String(i).padStart(4, '0')}.0`] = bytes(1_500);
  return { 'pre-key': preKeys, session: sessions };
}

// ---- the three sides ----
interface Writer {
  keys(batch: SignalDataSet): Promise<void>;
  creds(counter: number): Promise<void>;
}
type Side = 'files' | 'postgres' | 'perKeyBaseline';
const sides: Side[] = ['files', 'postgres', 'perKeyBaseline'];

async function storeWriter(store: SessionStore, lease: Lease): Promise<Writer> {
  const auth = await store.openAuthState(lease);
  auth.state.creds.me = { id: '15550001111:3@s.whatsapp.net', name: 'bench' };
  return {
    keys: async (batch) => {
      await auth.state.keys.set(batch);
    },
    creds: async (counter) => {
      auth.state.creds.accountSyncCounter = counter;
      await auth.saveCreds();
    },
  };
}

const fileOwnership = new FileOwnership(folder, { holder: 'bench' });
await fileOwnership.start();
const fileStore = new FileSessionStore(folder, fileOwnership);
const pgStore = new PostgresSessionStore({ pool, ownership: { holder: 'bench' } as Ownership });

async function fileWriter(key: SessionKey): Promise<Writer> {
  await fileStore.create(key);
  const result = await fileOwnership.acquire(key);
  if (!result.acquired) throw new Error('no file lease');
  return storeWriter(fileStore, result.lease);
}

async function pgWriter(key: SessionKey): Promise<Writer> {
  await pgStore.create(key);
  const { rows } = await pool.query<{ epoch: string }>(
    "UPDATE wa_vigil_leases SET holder = 'bench', epoch = epoch + 1, expires_at = now() + interval '1 hour' WHERE user_id = $1 AND session_id = $2 RETURNING epoch",
    [key.userId, key.sessionId],
  );
  return storeWriter(pgStore, { key, holder: 'bench', epoch: Number(rows[0]!.epoch) });
}

/**
 * The peer baseline, re-implemented from its description: one row per key in a
 * `session_key → text` table, and keys.set awaits one autocommit upsert (or
 * delete) per key in turn, each on a client taken from the pool. No transaction,
 * no lease check.
 */
await pool.query('CREATE TABLE p7_per_key (session_key text PRIMARY KEY, data text NOT NULL)');
function perKeyWriter(key: SessionKey): Writer {
  const prefix = `${key.userId}/${key.sessionId}:`;
  const upsert = async (name: string, value: unknown) => {
    const client = await pool.connect();
    try {
      await client.query('INSERT INTO p7_per_key (session_key, data) VALUES ($1, $2) ON CONFLICT (session_key) DO UPDATE SET data = EXCLUDED.data', [
        prefix + name,
        JSON.stringify(value, BufferJSON.replacer),
      ]);
    } finally {
      client.release();
    }
  };
  const creds = { ...initAuthCreds(), me: { id: '15550001111:3@s.whatsapp.net', name: 'bench' } };
  return {
    async keys(batch) {
      for (const [type, entries] of Object.entries(batch)) {
        for (const [id, value] of Object.entries(entries ?? {})) {
          if (value) await upsert(`${type}-${id}`, value);
          else await pool.query('DELETE FROM p7_per_key WHERE session_key = $1', [`${prefix}${type}-${id}`]);
        }
      }
    },
    creds: async (counter) => {
      creds.accountSyncCounter = counter;
      await upsert('creds', creds);
    },
  };
}

const open: Record<Side, (key: SessionKey) => Promise<Writer>> = {
  files: fileWriter,
  postgres: pgWriter,
  perKeyBaseline: async (key) => perKeyWriter(key),
};

// ---- latency: one session per side, operations one at a time, sides interleaved ----
const single = Object.fromEntries(await Promise.all(sides.map(async (s) => [s, await open[s]({ userId: `lat-${s}`, sessionId: 'main' })] as const))) as Record<
  Side,
  Writer
>;
const latency: Record<Side, { keys: number[]; creds: number[] }> = { files: { keys: [], creds: [] }, postgres: { keys: [], creds: [] }, perKeyBaseline: { keys: [], creds: [] } };
for (let round = 0; round < warmupRounds + rounds; round++) {
  const batch = keyBatch(round);
  for (const side of sides) {
    let started = performance.now();
    await single[side].keys(batch);
    const keysMs = performance.now() - started;
    started = performance.now();
    await single[side].creds(round);
    const credsMs = performance.now() - started;
    if (round >= warmupRounds) {
      latency[side].keys.push(keysMs);
      latency[side].creds.push(credsMs);
    }
  }
}

// ---- throughput: 16 sessions per side writing at once (one side at a time, so they do not share the disk) ----
const throughput: Partial<Record<Side, { batchesPerS: number; keysPerS: number; credsPerS: number }>> = {};
for (const side of sides) {
  const writers = await Promise.all(Array.from({ length: concurrentSessions }, (_, i) => open[side]({ userId: `tp-${side}`, sessionId: `s${i}` })));
  await Promise.all(writers.map((w) => w.keys(keyBatch(0)))); // warm
  let started = performance.now();
  await Promise.all(writers.map(async (w, i) => {
    for (let r = 1; r <= concurrentRoundsEach; r++) await w.keys(keyBatch(i * 1_000 + r));
  }));
  const batchSeconds = (performance.now() - started) / 1_000;
  started = performance.now();
  await Promise.all(writers.map(async (w) => {
    for (let r = 1; r <= concurrentRoundsEach * 2; r++) await w.creds(r);
  }));
  const credsSeconds = (performance.now() - started) / 1_000;
  const batches = concurrentSessions * concurrentRoundsEach;
  throughput[side] = {
    batchesPerS: round1(batches / batchSeconds),
    keysPerS: Math.round((batches * keysPerBatch) / batchSeconds),
    credsPerS: round1((concurrentSessions * concurrentRoundsEach * 2) / credsSeconds),
  };
}

// ---- the verdict ----
const round2 = (n: number) => Math.round(n * 100) / 100;
const summary = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50Ms: round2(percentile(sorted, 50)), p95Ms: round2(percentile(sorted, 95)), maxMs: round2(sorted[sorted.length - 1]!) };
};
const figures = Object.fromEntries(sides.map((s) => [s, { keysBatch: summary(latency[s].keys), credsUpdate: summary(latency[s].creds), concurrent: throughput[s] }])) as Record<
  Side,
  { keysBatch: ReturnType<typeof summary>; credsUpdate: ReturnType<typeof summary>; concurrent: (typeof throughput)[Side] }
>;
const ratio = (a: number, b: number) => round2(a / b);
const verdict = {
  /** < 1: PostgreSQL is faster. */
  keysBatchP50PostgresOverFiles: ratio(figures.postgres.keysBatch.p50Ms, figures.files.keysBatch.p50Ms),
  credsUpdateP50PostgresOverFiles: ratio(figures.postgres.credsUpdate.p50Ms, figures.files.credsUpdate.p50Ms),
  /** < 1: one transaction beats one query per key. */
  keysBatchP50PostgresOverPerKey: ratio(figures.postgres.keysBatch.p50Ms, figures.perKeyBaseline.keysBatch.p50Ms),
  concurrentKeysPerSPostgresOverFiles: ratio(figures.postgres.concurrent!.keysPerS, figures.files.concurrent!.keysPerS),
  concurrentKeysPerSPostgresOverPerKey: ratio(figures.postgres.concurrent!.keysPerS, figures.perKeyBaseline.concurrent!.keysPerS),
};
report('P7 store cost', {
  database: database.description,
  rounds,
  warmupRounds,
  keysPerBatch,
  concurrent: { sessions: concurrentSessions, batchesEach: concurrentRoundsEach, credsEach: concurrentRoundsEach * 2 },
  ...figures,
  verdict: {
    ...verdict,
    batchBeatsPerKeyBaseline: verdict.keysBatchP50PostgresOverPerKey < 1 && verdict.concurrentKeysPerSPostgresOverPerKey > 1,
  },
});

await fileOwnership.stop();
await rm(folder, { recursive: true, force: true });
await database.drop();
process.exit(0);
