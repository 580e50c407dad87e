/**
 * Outgoing messages in PostgreSQL (wa_vigil_messages), so the node that takes a
 * session over sends what the last owner did not. Every write is one fenced
 * transaction (see fenced-transaction.ts) queued behind the session's other
 * writes on this node; reads need nothing.
 */
import type { Pool, PoolClient } from 'pg';
import type { Lease } from '../ownership.js';
import { keyString, type SessionKey } from '../session-key.js';
import {
  checkedMessageId,
  checkedRecord,
  mergeChange,
  newQueuedMessage,
  QueueFullError,
  type MessageChange,
  type MessageQueue,
  type MessageStatus,
  type NewOutgoingMessage,
  type OutgoingMessage,
} from '../message-queue.js';
import { fencedTransaction } from './fenced-transaction.js';
import type { WriteQueues } from './write-queue.js';

interface MessageRow {
  id: string;
  to_jid: string;
  text: string;
  status: MessageStatus;
  error: string | null;
  created_at: Date;
  sent_at: Date | null;
  delivered_at: Date | null;
  read_at: Date | null;
  attempts: number;
  content: string | null;
}

const columns = 'id, to_jid, text, status, error, created_at, sent_at, delivered_at, read_at, attempts, content';

const upsertSql = `INSERT INTO wa_vigil_messages (user_id, session_id, ${columns})
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
  ON CONFLICT (user_id, session_id, id) DO UPDATE SET status = $6, error = $7, sent_at = $9, delivered_at = $10,
    read_at = $11, attempts = $12, content = $13`;

export class PostgresMessageQueue implements MessageQueue {
  constructor(
    private readonly pool: Pool,
    /** The session store's write queues: message writes wait behind credential writes, in call order. */
    private readonly queues: WriteQueues,
  ) {}

  async accept(lease: Lease, message: NewOutgoingMessage, maxQueued: number): Promise<{ created: boolean; message: OutgoingMessage }> {
    const id = checkedMessageId(message.id);
    return this.write(lease, async (client) => {
      const existing = await select(client, lease.key, id);
      if (existing) return { created: false, message: existing };
      const { rows } = await client.query<{ depth: string }>(
        "SELECT count(*) AS depth FROM wa_vigil_messages WHERE user_id = $1 AND session_id = $2 AND status = 'queued'",
        [lease.key.userId, lease.key.sessionId],
      );
      if (Number(rows[0]!.depth) >= maxQueued) throw new QueueFullError(maxQueued);
      const stored = newQueuedMessage({ ...message, id });
      await store(client, lease.key, stored);
      return { created: true, message: stored };
    });
  }

  async get(key: SessionKey, id: string): Promise<OutgoingMessage | null> {
    return select(this.pool, key, checkedMessageId(id));
  }

  async list(key: SessionKey, status?: MessageStatus): Promise<OutgoingMessage[]> {
    const { rows } = await this.pool.query<MessageRow>(
      `SELECT ${columns} FROM wa_vigil_messages WHERE user_id = $1 AND session_id = $2 AND ($3::text IS NULL OR status = $3)
       ORDER BY created_at, id COLLATE "C"`,
      [key.userId, key.sessionId, status ?? null],
    );
    return rows.map(fromRow);
  }

  async update(lease: Lease, id: string, change: MessageChange): Promise<OutgoingMessage | null> {
    const checked = checkedMessageId(id);
    return this.write(lease, async (client) => {
      const current = await select(client, lease.key, checked, true);
      if (!current) return null;
      const next = mergeChange(current, change);
      await store(client, lease.key, next);
      return next;
    });
  }

  async restore(lease: Lease, records: readonly OutgoingMessage[]): Promise<void> {
    const checked = records.map(checkedRecord);
    return this.write(lease, async (client) => {
      const ids = checked.map((m) => m.id);
      const duplicate = ids.find((id, i) => ids.indexOf(id) !== i);
      const { rows } = await client.query<{ id: string }>(
        'SELECT id FROM wa_vigil_messages WHERE user_id = $1 AND session_id = $2 AND id = ANY($3::text[]) LIMIT 1',
        [lease.key.userId, lease.key.sessionId, ids],
      );
      const existing = duplicate ?? rows[0]?.id;
      if (existing) throw new Error(`message ${existing} is already in the session, not overwritten`);
      for (const record of checked) await store(client, lease.key, record);
    });
  }

  prune(lease: Lease, before: Date): Promise<number> {
    return this.write(lease, async (client) => {
      const result = await client.query(
        "DELETE FROM wa_vigil_messages WHERE user_id = $1 AND session_id = $2 AND status <> 'queued' AND created_at < $3",
        [lease.key.userId, lease.key.sessionId, before],
      );
      return result.rowCount ?? 0;
    });
  }

  private write<T>(lease: Lease, work: (client: PoolClient) => Promise<T>): Promise<T> {
    return this.queues.for(keyString(lease.key)).run(() => fencedTransaction(this.pool, lease, work));
  }
}

async function select(db: Pool | PoolClient, key: SessionKey, id: string, forUpdate = false): Promise<OutgoingMessage | null> {
  const { rows } = await db.query<MessageRow>(
    `SELECT ${columns} FROM wa_vigil_messages WHERE user_id = $1 AND session_id = $2 AND id = $3${forUpdate ? ' FOR UPDATE' : ''}`,
    [key.userId, key.sessionId, id],
  );
  return rows[0] ? fromRow(rows[0]) : null;
}

function store(client: PoolClient, key: SessionKey, m: OutgoingMessage): Promise<unknown> {
  return client.query(upsertSql, [
    key.userId,
    key.sessionId,
    m.id,
    m.to,
    m.text,
    m.status,
    m.error,
    m.createdAt,
    m.sentAt,
    m.deliveredAt,
    m.readAt,
    m.attempts,
    m.content,
  ]);
}

function fromRow(row: MessageRow): OutgoingMessage {
  const iso = (value: Date | null) => (value ? value.toISOString() : null);
  return {
    id: row.id,
    to: row.to_jid,
    text: row.text,
    status: row.status,
    error: row.error,
    createdAt: row.created_at.toISOString(),
    sentAt: iso(row.sent_at),
    deliveredAt: iso(row.delivered_at),
    readAt: iso(row.read_at),
    attempts: row.attempts,
    content: row.content,
  };
}
