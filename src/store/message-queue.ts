/**
 * Each session's outgoing messages: accepted durably before the API answers,
 * sent in order while the session is open, and kept after sending so a retry
 * receipt can be answered with exactly what was sent (Baileys' getMessage asks
 * by message id, with a PN, a LID or a device jid as remoteJid: the id alone is
 * the key here).
 *
 * Like credentials, every write carries the session's lease and is refused
 * (LeaseLostError) once it is lost: a node that lost a session cannot mark its
 * messages sent, and the next owner sends what the last one did not.
 *
 * Implementations: files/file-message-queue.ts, postgres/pg-message-queue.ts.
 */
import type { Lease } from './ownership.js';
import type { SessionKey } from './session-key.js';

export type MessageStatus = 'queued' | 'sent' | 'delivered' | 'read' | 'failed';
export const messageStatuses: readonly MessageStatus[] = ['queued', 'sent', 'delivered', 'read', 'failed'];

/** WhatsApp's own message ids are upper-case hexadecimal; so are ours, and callers' idempotency keys. */
export const messageIdPattern = /^[0-9A-F]{16,32}$/;

export interface OutgoingMessage {
  /** The WhatsApp message id: what the contact's phone sees, and the caller's idempotency key. */
  readonly id: string;
  /** The recipient's jid (a phone number's `…@s.whatsapp.net`, or a `…@lid`). */
  readonly to: string;
  readonly text: string;
  readonly status: MessageStatus;
  readonly error: string | null;
  readonly createdAt: string;
  /** When WhatsApp's server acknowledged it. */
  readonly sentAt: string | null;
  readonly deliveredAt: string | null;
  readonly readAt: string | null;
  /**
   * Times it was written to a socket. A message still `queued` with attempts > 0
   * was written but never acknowledged (a crash, a dead link): it is written again
   * under the same id, so the phone shows it once.
   */
  readonly attempts: number;
  /** The encoded proto.Message first written for it (base64): what a retry receipt is answered with. */
  readonly content: string | null;
}

export type NewOutgoingMessage = Pick<OutgoingMessage, 'id' | 'to' | 'text' | 'createdAt'>;

export type MessageChange = Partial<Pick<OutgoingMessage, 'status' | 'error' | 'sentAt' | 'deliveredAt' | 'readAt' | 'attempts' | 'content'>>;

export class QueueFullError extends Error {
  readonly code = 'ERR_QUEUE_FULL';
  constructor(readonly limit: number) {
    super(`the session already has ${limit} queued messages`);
    this.name = 'QueueFullError';
  }
}

export interface MessageQueue {
  /**
   * Stores `message` as queued, durably, before it resolves. An id the session
   * already has returns that message instead (`created: false`), whatever its text:
   * an idempotency key never sends twice. QueueFullError past `maxQueued`.
   */
  accept(lease: Lease, message: NewOutgoingMessage, maxQueued: number): Promise<{ created: boolean; message: OutgoingMessage }>;
  get(key: SessionKey, id: string): Promise<OutgoingMessage | null>;
  /** The session's messages, oldest first, each whole (every field, as stored); only those with `status` when given. */
  list(key: SessionKey, status?: MessageStatus): Promise<OutgoingMessage[]>;
  /**
   * Stores whole records exactly as given, whatever their status and past any queue limit:
   * what `list` of another store returned (tools/session-copy.ts moves sessions with it).
   * Refuses the whole call, before writing any of them, if one is not a record both stores
   * hold unchanged (checkedRecord) or its id is already in the session: nothing is overwritten.
   * PostgreSQL writes them in one transaction; the files one file each.
   */
  restore(lease: Lease, records: readonly OutgoingMessage[]): Promise<void>;
  /** Applies `change` as far as mergeChange allows; null when the id is unknown. */
  update(lease: Lease, id: string, change: MessageChange): Promise<OutgoingMessage | null>;
  /** Forgets messages created before `before` that are no longer queued; how many went. */
  prune(lease: Lease, before: Date): Promise<number>;
}

const statusRank: Record<MessageStatus, number> = { queued: 0, sent: 1, delivered: 2, read: 3, failed: 4 };

/**
 * What `change` makes of `current`. Statuses only move forward (queued → sent →
 * delivered → read): a late server ack never undoes a read receipt that overtook
 * it. `failed` is reached only from `queued` (a message the server acknowledged
 * was not lost), and nothing leaves it. Timestamps already set are kept.
 */
export function mergeChange(current: OutgoingMessage, change: MessageChange): OutgoingMessage {
  let status = current.status;
  if (change.status && change.status !== status) {
    const forward = statusRank[change.status] > statusRank[status];
    const reachable = change.status === 'failed' ? status === 'queued' : status !== 'failed';
    if (forward && reachable) status = change.status;
  }
  // A receipt that overtook the server's ack still means the message was sent by then.
  const at = change.readAt ?? change.deliveredAt ?? change.sentAt ?? null;
  const reached = (step: MessageStatus) => status !== 'failed' && statusRank[status] >= statusRank[step];
  return {
    ...current,
    status,
    error: status === 'failed' ? (change.error ?? current.error) : current.error,
    sentAt: current.sentAt ?? (reached('sent') ? (change.sentAt ?? at) : null),
    deliveredAt: current.deliveredAt ?? (reached('delivered') ? (change.deliveredAt ?? at) : null),
    readAt: current.readAt ?? (reached('read') ? (change.readAt ?? at) : null),
    attempts: Math.max(current.attempts, change.attempts ?? 0),
    content: current.content ?? change.content ?? null,
  };
}

export function newQueuedMessage(message: NewOutgoingMessage): OutgoingMessage {
  return { ...message, status: 'queued', error: null, sentAt: null, deliveredAt: null, readAt: null, attempts: 0, content: null };
}

/** Refuses an id that is not a message id: it also names a file. */
export function checkedMessageId(id: string): string {
  if (!messageIdPattern.test(id)) throw new Error(`not a message id: ${JSON.stringify(id).slice(0, 40)}`);
  return id;
}

/** A stored message's fields, in the order the stores write them (newQueuedMessage's). */
const recordFields = ['id', 'to', 'text', 'createdAt', 'status', 'error', 'sentAt', 'deliveredAt', 'readAt', 'attempts', 'content'] as const;

/**
 * `record`, fields in their stored order, once it is one both stores hold unchanged: exactly
 * the known fields, a message id, a known status, timestamps as toISOString writes them (PostgreSQL
 * would keep microseconds JavaScript drops), attempts a PostgreSQL integer, and no NUL in any
 * text (PostgreSQL text cannot hold one). The error names the id and the field, never a value:
 * texts and recipients are users' content.
 */
export function checkedRecord(record: OutgoingMessage): OutgoingMessage {
  const id = checkedMessageId(typeof record?.id === 'string' ? record.id : '');
  const fields = Object.keys(record);
  const unknown = fields.find((field) => !(recordFields as readonly string[]).includes(field));
  const missing = recordFields.find((field) => !fields.includes(field));
  const refuse = (why: string): never => {
    throw new Error(`message ${id}: ${why}`);
  };
  if (unknown) refuse(`holds a field the stores do not know (${JSON.stringify(unknown).slice(0, 40)})`);
  if (missing) refuse(`has no ${missing}`);
  const text = (field: 'to' | 'text' | 'error' | 'content', nullable: boolean) => {
    const value = record[field];
    if (value === null && nullable) return;
    if (typeof value !== 'string') refuse(`${field} is not ${nullable ? 'text or null' : 'text'}`);
    if (value!.includes('\u0000')) refuse(`${field} holds a NUL character`);
  };
  text('to', false);
  text('text', false);
  text('error', true);
  text('content', true);
  if (!messageStatuses.includes(record.status)) refuse('status is not a message status');
  const time = (field: 'createdAt' | 'sentAt' | 'deliveredAt' | 'readAt', nullable: boolean) => {
    const value = record[field];
    if (value === null && nullable) return;
    const date = typeof value === 'string' ? new Date(value) : null;
    if (!date || Number.isNaN(date.getTime()) || date.toISOString() !== value) refuse(`${field} is not an ISO timestamp in milliseconds`);
  };
  time('createdAt', false);
  time('sentAt', true);
  time('deliveredAt', true);
  time('readAt', true);
  if (!Number.isSafeInteger(record.attempts) || record.attempts < 0 || record.attempts > 2_147_483_647) refuse('attempts is not a count');
  const ordered: Record<string, unknown> = {};
  for (const field of recordFields) ordered[field] = record[field];
  return ordered as unknown as OutgoingMessage;
}
