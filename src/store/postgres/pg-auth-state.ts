/**
 * A session's Baileys credentials in PostgreSQL: `creds` in wa_vigil_creds, one
 * row per signal key in wa_vigil_keys, every value the BufferJSON text the file
 * store writes (so Buffers round-trip exactly, and a session moves between the
 * stores byte for byte).
 *
 * Unlike the npm auth-state packages that write one key per query: a
 * `keys.set(batch)` is one transaction (all of it or none of it), every write
 * first proves the session's lease (see fenced-transaction.ts), and a failed
 * read is an error — never "the key is missing", which would make Baileys
 * start a new Signal session and the peer see "Bad MAC".
 */
import { BufferJSON, initAuthCreds, proto, type AuthenticationCreds, type SignalDataSet, type SignalDataTypeMap } from '@whiskeysockets/baileys';
import type { Pool } from 'pg';
import { checkCredentials, CorruptCredentialsError } from '../corruption.js';
import type { Lease } from '../ownership.js';
import type { SessionAuthState } from '../session-store.js';
import { fencedTransaction } from './fenced-transaction.js';
import type { WriteQueue } from './write-queue.js';

export interface PgAuthStateOptions {
  pool: Pool;
  lease: Lease;
  /** Orders this session's writes (shared by every handle on the session in this process). */
  queue: WriteQueue;
  /** Told of every refused write (LeaseLostError) before it is thrown. */
  onRefused: (error: unknown) => void;
}

export function encodeValue(value: unknown): string {
  return JSON.stringify(value, BufferJSON.replacer);
}

export function decodeValue(text: string, what: string): unknown {
  try {
    return JSON.parse(text, BufferJSON.reviver) as unknown;
  } catch {
    throw new CorruptCredentialsError(`${what} is not valid JSON`);
  }
}

/** Rows of a keys.set batch: values to store and (type, id) pairs to delete (a null value deletes, as in the files). */
export function batchRows(data: SignalDataSet): { upserts: [string, string, string][]; deletes: [string, string][] } {
  const upserts: [string, string, string][] = [];
  const deletes: [string, string][] = [];
  for (const [type, entries] of Object.entries(data)) {
    for (const [id, value] of Object.entries((entries ?? {}) as Record<string, unknown>)) {
      if (value) upserts.push([type, id, encodeValue(value)]);
      else deletes.push([type, id]);
    }
  }
  // One lock order for every writer, so two transactions on one session never deadlock.
  const byKey = (a: string[], b: string[]) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : a[1]! < b[1]! ? -1 : a[1]! > b[1]! ? 1 : 0);
  upserts.sort(byKey);
  deletes.sort(byKey);
  return { upserts, deletes };
}

const upsertKeysSql = `INSERT INTO wa_vigil_keys (user_id, session_id, type, id, value)
  SELECT $1, $2, t, i, v FROM unnest($3::text[], $4::text[], $5::text[]) AS batch(t, i, v)
  ON CONFLICT (user_id, session_id, type, id) DO UPDATE SET value = EXCLUDED.value`;
const deleteKeysSql = `DELETE FROM wa_vigil_keys
  WHERE user_id = $1 AND session_id = $2 AND (type, id) IN (SELECT * FROM unnest($3::text[], $4::text[]))`;
const upsertCredsSql = `INSERT INTO wa_vigil_creds (user_id, session_id, creds) VALUES ($1, $2, $3)
  ON CONFLICT (user_id, session_id) DO UPDATE SET creds = EXCLUDED.creds`;

export async function openPgAuthState({ pool, lease, queue, onRefused }: PgAuthStateOptions): Promise<SessionAuthState> {
  const { userId, sessionId } = lease.key;
  let wiped = false;

  /** Queued after this session's earlier writes, in one fenced transaction. */
  const write = (work: Parameters<typeof fencedTransaction>[2]): Promise<void> =>
    queue.run(async () => {
      try {
        await fencedTransaction(pool, lease, work);
      } catch (error) {
        if ((error as { code?: string }).code === 'ERR_LEASE_LOST') onRefused(error);
        throw error;
      }
    });

  const { rows } = await pool.query<{ creds: string }>('SELECT creds FROM wa_vigil_creds WHERE user_id = $1 AND session_id = $2', [userId, sessionId]);
  // A row that holds no credentials (null, {}, a string) is damage, not an unpaired device: no QR from invented keys.
  const stored = rows[0] ? (decodeValue(rows[0].creds, 'creds') as AuthenticationCreds) : null;
  if (rows[0]) checkCredentials(stored, 'creds');
  const creds = stored ?? initAuthCreds();

  return {
    existed: stored !== null,
    state: {
      creds,
      keys: {
        get: async <T extends keyof SignalDataTypeMap>(type: T, ids: string[]) => {
          // Read your own writes: a write queued before this read lands first (as the files' per-path queue does).
          await queue.idle();
          const found = await pool.query<{ id: string; value: string }>(
            'SELECT id, value FROM wa_vigil_keys WHERE user_id = $1 AND session_id = $2 AND type = $3 AND id = ANY($4::text[])',
            [userId, sessionId, type, ids],
          );
          const byId = new Map(found.rows.map((row) => [row.id, row.value]));
          const result: { [id: string]: SignalDataTypeMap[T] } = {};
          for (const id of ids) {
            const text = byId.get(id);
            if (text === undefined) continue;
            let value = decodeValue(text, `${type}-${id}`);
            if (type === 'app-state-sync-key' && value) value = proto.Message.AppStateSyncKeyData.fromObject(value as object);
            result[id] = value as SignalDataTypeMap[T];
          }
          return result;
        },
        set: async (data) => {
          if (wiped) return;
          const { upserts, deletes } = batchRows(data);
          if (upserts.length === 0 && deletes.length === 0) return;
          await write(async (client) => {
            if (upserts.length > 0) {
              await client.query(upsertKeysSql, [userId, sessionId, upserts.map((r) => r[0]), upserts.map((r) => r[1]), upserts.map((r) => r[2])]);
            }
            if (deletes.length > 0) {
              await client.query(deleteKeysSql, [userId, sessionId, deletes.map((r) => r[0]), deletes.map((r) => r[1])]);
            }
          });
        },
      },
    },
    saveCreds: async () => {
      if (wiped) return;
      // The creds as they are now: Baileys mutates the object, and a later save must not be overtaken by an earlier one.
      const text = encodeValue(creds);
      await write((client) => client.query(upsertCredsSql, [userId, sessionId, text]));
    },
    flush: () => queue.idle(),
    wipe: async () => {
      wiped = true;
      await write(async (client) => {
        await client.query('DELETE FROM wa_vigil_keys WHERE user_id = $1 AND session_id = $2', [userId, sessionId]);
        await client.query('DELETE FROM wa_vigil_creds WHERE user_id = $1 AND session_id = $2', [userId, sessionId]);
      });
    },
  };
}
