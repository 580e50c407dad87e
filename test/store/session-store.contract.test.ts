/**
 * The SessionStore contract, run against both stores: the files (the embedded
 * default) and PostgreSQL (a cluster). What Baileys writes must come back
 * byte for byte, a batch must not tear, concurrent batches must not lose
 * writes, and a writer whose lease was taken over must change nothing.
 */
import { BufferJSON, proto, type SignalDataSet } from '@whiskeysockets/baileys';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LeaseLostError } from '../../src/store/ownership.js';
import type { SessionKey } from '../../src/store/session-key.js';
import type { SessionMeta } from '../../src/store/session-store.js';
import { fileHarness, postgresHarness, type StoreHarness } from './store-harnesses.js';

const key: SessionKey = { userId: 'ana', sessionId: 'main' };

function bytes(seed: number, length = 32): Buffer {
  return Buffer.from(Array.from({ length }, (_, i) => (seed * 31 + i * 7) % 256));
}

/** One value of every key type Baileys stores, Buffers included. */
function everyKeyType(seed: number): SignalDataSet {
  return {
    'pre-key': { [`${seed}`]: { public: bytes(seed), private: bytes(seed + 1) } },
    session: { [`${seed}@s.whatsapp.net.0`]: bytes(seed + 2, 200) },
    'sender-key': { [`group-${seed}@g.us::peer::0`]: bytes(seed + 3, 90) },
    'sender-key-memory': { [`group-${seed}@g.us`]: { [`peer-${seed}@s.whatsapp.net`]: true } },
    'app-state-sync-key': {
      [`AAAA${seed}`]: proto.Message.AppStateSyncKeyData.fromObject({
        keyData: bytes(seed + 4),
        fingerprint: { rawId: seed, currentIndex: 2, deviceIndexes: [0, 1] },
        timestamp: 1_700_000_000 + seed,
      }),
    },
    'app-state-sync-version': { regular: { version: seed, hash: bytes(seed + 5, 128), indexValueMap: { abc: { valueMac: bytes(seed + 6) } } } },
    'lid-mapping': { [`${seed}`]: `${seed}@lid` },
    'device-list': { [`${seed}`]: ['0', '1', '14'] },
    tctoken: { [`${seed}@s.whatsapp.net`]: { token: bytes(seed + 7, 24), timestamp: '1700000000' } },
    'identity-key': { [`${seed}@s.whatsapp.net.0`]: bytes(seed + 8, 33) },
  };
}

/** What a value looks like once stored and read back by Baileys' own encoding (Uint8Arrays become Buffers). */
function asStored(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, BufferJSON.replacer), BufferJSON.reviver);
}

/** The ids a keys.get found (the files answer `id: undefined` for a missing one, PostgreSQL leaves it out). */
const found = (read: Record<string, unknown>) => Object.keys(read).filter((id) => read[id] !== undefined);

const preKeys = (ids: string[], seed: number): SignalDataSet => ({
  'pre-key': Object.fromEntries(ids.map((id) => [id, { public: bytes(seed), private: bytes(seed + Number(id)) }])),
});

for (const factory of [fileHarness, postgresHarness]) {
  describe(factory.name, () => {
    let h: StoreHarness;
    beforeAll(async () => (h = await factory.open()), 120_000);
    afterAll(() => h?.close());
    beforeEach(async () => {
      await h.reset();
      expect(await h.store.create(key)).toBe(true);
    });

    it('creates a session once, lists sessions in key order, and a new session runs nothing', async () => {
      expect(await h.store.create(key)).toBe(false);
      for (const k of [{ userId: 'bob', sessionId: 'b' }, { userId: 'Zed', sessionId: 'a' }, { userId: 'ana', sessionId: 'Main2' }]) await h.store.create(k);
      // Code-point order, as folder names sort: upper case before lower case.
      expect(await h.store.list()).toEqual([
        { userId: 'Zed', sessionId: 'a' },
        { userId: 'ana', sessionId: 'Main2' },
        { userId: 'ana', sessionId: 'main' },
        { userId: 'bob', sessionId: 'b' },
      ]);
      const fresh = await h.store.readMeta({ userId: 'bob', sessionId: 'b' });
      // Files: no metadata yet; PostgreSQL: a stopped session. Neither is restored as running.
      expect(fresh === null || fresh.shouldRun === false).toBe(true);
      expect(await h.store.hasCredentials(key)).toBe(false);
      expect(await h.store.readMeta({ userId: 'nobody', sessionId: 'x' })).toBeNull();
    });

    it('round-trips metadata, fields without a column of their own included', async () => {
      const lease = await h.lease(key);
      const meta = {
        userId: key.userId,
        sessionId: key.sessionId,
        createdAt: '2026-03-01T10:20:30.456Z',
        shouldRun: true,
        terminatedReason: 'maxAttempts',
        lastDisconnect: { statusCode: 428, message: 'Connection Terminated', at: '2026-03-02T00:00:00.000Z' },
      } as SessionMeta;
      await h.store.writeMeta(lease, meta);
      expect(await h.store.readMeta(key)).toEqual(meta);
    });

    it('round-trips creds and every key type exactly: Buffers come back as Buffers with the same bytes', async () => {
      const lease = await h.lease(key);
      const auth = await h.store.openAuthState(lease);
      expect(auth.existed).toBe(false);
      auth.state.creds.me = { id: '15550001111:3@s.whatsapp.net', name: 'Ana' };
      auth.state.creds.accountSyncCounter = 7;
      await auth.saveCreds();
      const written = everyKeyType(1);
      await auth.state.keys.set(written);
      await auth.flush();

      const again = await h.store.openAuthState(lease);
      expect(again.existed).toBe(true);
      expect(await h.store.hasCredentials(key)).toBe(true);
      expect(again.state.creds).toEqual(asStored(auth.state.creds));
      expect(Buffer.isBuffer(again.state.creds.noiseKey.private)).toBe(true);
      expect(Buffer.from(again.state.creds.noiseKey.private).equals(Buffer.from(auth.state.creds.noiseKey.private))).toBe(true);
      for (const [type, entries] of Object.entries(written) as [keyof typeof written, Record<string, unknown>][]) {
        const ids = Object.keys(entries);
        const read = await again.state.keys.get(type, [...ids, 'missing-id']);
        expect(found(read), type).toEqual(ids);
        if (type === 'app-state-sync-key') {
          // Decoded into the protobuf class, as Baileys expects of this one type.
          expect(read[ids[0]!]).toBeInstanceOf(proto.Message.AppStateSyncKeyData);
          expect(proto.Message.AppStateSyncKeyData.toObject(read[ids[0]!] as proto.Message.AppStateSyncKeyData)).toEqual(
            proto.Message.AppStateSyncKeyData.toObject(entries[ids[0]!] as proto.Message.AppStateSyncKeyData),
          );
        } else {
          expect(read, type).toEqual(asStored(entries));
        }
      }
      const session = (await again.state.keys.get('session', ['1@s.whatsapp.net.0']))['1@s.whatsapp.net.0'];
      expect(Buffer.isBuffer(session) && session.equals(bytes(3, 200))).toBe(true);
    });

    it('a null value deletes the key, and wipe removes creds and keys but keeps the session', async () => {
      const lease = await h.lease(key);
      const auth = await h.store.openAuthState(lease);
      await auth.saveCreds();
      await auth.state.keys.set(preKeys(['1', '2'], 1));
      await auth.state.keys.set({ 'pre-key': { '1': null } });
      expect(found(await auth.state.keys.get('pre-key', ['1', '2']))).toEqual(['2']);
      await auth.wipe();
      expect(await h.store.hasCredentials(key)).toBe(false);
      expect(found(await auth.state.keys.get('pre-key', ['1', '2']))).toEqual([]);
      expect(await h.store.list()).toEqual([key]);
      expect((await h.store.openAuthState(lease)).existed).toBe(false);
    });

    it('a stored key that cannot be decoded is an error, never "missing"', async () => {
      const auth = await h.store.openAuthState(await h.lease(key));
      await auth.state.keys.set(preKeys(['5'], 1));
      await h.corruptKey(key, 'pre-key', '5');
      await expect(auth.state.keys.get('pre-key', ['5'])).rejects.toMatchObject({ code: 'ERR_CORRUPT_CREDENTIALS' });
    });

    it(`a batch that fails midway ${factory === postgresHarness ? 'leaves nothing of itself behind' : 'leaves every key whole, old or new (files have no transactions)'}`, async () => {
      const auth = await h.store.openAuthState(await h.lease(key));
      const ids = Array.from({ length: 10 }, (_, i) => String(i + 1));
      await auth.state.keys.set({ ...preKeys(ids, 1), session: { doomed: bytes(9) } });
      await h.poisonKey(key, 'pre-key', 'poison');

      const failing: SignalDataSet = { 'pre-key': { ...preKeys(ids, 2)['pre-key'], poison: { public: bytes(3), private: bytes(4) } }, session: { doomed: null, born: bytes(5) } };
      await expect(auth.state.keys.set(failing)).rejects.toThrow();

      const after = await auth.state.keys.get('pre-key', ids);
      const sessions = await auth.state.keys.get('session', ['doomed', 'born']);
      if (h.atomicBatches) {
        expect(after).toEqual(asStored(preKeys(ids, 1)['pre-key']));
        expect(found(sessions)).toEqual(['doomed']);
      } else {
        for (const id of ids) expect([asStored(preKeys([id], 1)['pre-key']![id]), asStored(preKeys([id], 2)['pre-key']![id])]).toContainEqual(after[id]);
      }
    });

    it('concurrent batches lose nothing, and a key written by several lands in call order', async () => {
      const lease = await h.lease(key);
      const [a, b] = await Promise.all([h.store.openAuthState(lease), h.store.openAuthState(lease)]);
      const batches = Array.from({ length: 20 }, (_, i) => ({
        'pre-key': { [`own-${i}`]: { public: bytes(i), private: bytes(i + 100) }, shared: { public: bytes(i), private: bytes(i) } },
      }));
      await Promise.all(batches.map((batch, i) => (i % 2 ? a : b).state.keys.set(batch)));
      const read = await a.state.keys.get('pre-key', [...batches.map((_, i) => `own-${i}`), 'shared']);
      for (let i = 0; i < batches.length; i++) expect(read[`own-${i}`]).toEqual(asStored(batches[i]!['pre-key'][`own-${i}`]));
      expect(read.shared).toEqual(asStored(batches[19]!['pre-key'].shared));

      // creds saved without waiting, as Baileys does on creds.update: the last one is what stays.
      for (let i = 1; i <= 10; i++) {
        a.state.creds.accountSyncCounter = i;
        void a.saveCreds();
      }
      await a.flush();
      expect((await h.store.openAuthState(lease)).state.creds.accountSyncCounter).toBe(10);
    });

    it('a writer whose lease was taken over is refused every write, is told, and changes nothing', async () => {
      const lease = await h.lease(key);
      const refusals: unknown[] = [];
      const auth = await h.store.openAuthState(lease, (error) => refusals.push(error));
      const meta: SessionMeta = { ...key, createdAt: '2026-03-01T00:00:00.000Z', shouldRun: true, terminatedReason: null };
      await h.store.writeMeta(lease, meta);
      auth.state.creds.accountSyncCounter = 1;
      await auth.saveCreds();
      await auth.state.keys.set(preKeys(['1'], 1));

      await h.takeOver(key);

      auth.state.creds.accountSyncCounter = 2;
      await expect(auth.saveCreds()).rejects.toBeInstanceOf(LeaseLostError);
      await expect(auth.state.keys.set({ ...preKeys(['1', '2'], 2) })).rejects.toBeInstanceOf(LeaseLostError);
      await expect(auth.wipe()).rejects.toBeInstanceOf(LeaseLostError);
      await expect(h.store.writeMeta(lease, { ...meta, shouldRun: false })).rejects.toBeInstanceOf(LeaseLostError);
      await expect(h.store.remove(lease)).rejects.toBeInstanceOf(LeaseLostError);
      expect(refusals).toHaveLength(3);
      expect(refusals.every((e) => e instanceof LeaseLostError)).toBe(true);

      expect(await h.store.readMeta(key)).toEqual(meta);
      // Reading needs no lease.
      const stored = await h.store.openAuthState(lease);
      expect(stored.state.creds.accountSyncCounter).toBe(1);
      const keys = await stored.state.keys.get('pre-key', ['1', '2']);
      expect(found(keys)).toEqual(['1']);
      expect(keys['1']).toEqual(asStored(preKeys(['1'], 1)['pre-key']!['1']));
    });

    it('remove takes the session and everything in it; a later create starts empty', async () => {
      const lease = await h.lease(key);
      const auth = await h.store.openAuthState(lease);
      await auth.saveCreds();
      await auth.state.keys.set(everyKeyType(2));
      await h.store.remove(lease);
      expect(await h.store.list()).toEqual([]);
      expect(await h.store.readMeta(key)).toBeNull();
      expect(await h.store.hasCredentials(key)).toBe(false);
      expect(await h.store.create(key)).toBe(true);
      const fresh = await h.store.openAuthState(await h.lease(key));
      expect(fresh.existed).toBe(false);
      expect(found(await fresh.state.keys.get('pre-key', ['2']))).toEqual([]);
    });
  });
}
