/**
 * Copies every session from one store to another: metadata, creds and every
 * signal key, values byte for byte, and its outgoing messages, each record whole
 * (queued ones are sent by the target under the same id; sent ones answer retry
 * receipts there). Nothing in the target is ever overwritten:
 * if any session already exists there, nothing is copied and the error names
 * them. A session a live process is running is refused too (stop the service
 * first: a copy taken while Baileys writes could pair old creds with new keys).
 *
 * A session keeps the meaning it had in the source. One without metadata (a plain
 * Baileys folder another tool left: credentials, no session.json) is written with
 * the metadata the source store reads it as — a folder with credentials runs, one
 * without is a create that never finished — never with the target's own default
 * for a bare session (PostgreSQL's is "stopped"), which would silently stop it.
 */
import { BufferJSON, type AuthenticationCreds, type SignalDataSet } from '@whiskeysockets/baileys';
import { newMeta } from '../service/session-owner.js';
import { checkedRecord, type OutgoingMessage } from '../store/message-queue.js';
import { keyString, type SessionKey } from '../store/session-key.js';
import type { SessionMeta } from '../store/session-store.js';
import type { SessionEndpoint } from './session-endpoints.js';
import type { SubscriptionFiles } from '../webhooks/subscriptions.js';

/** Keys per keys.set on the target: one transaction each on PostgreSQL. */
const keysPerBatch = 500;
/** Messages per messages.restore on the target: one transaction each on PostgreSQL. */
const messagesPerBatch = 500;

export class CopyRefusedError extends Error {
  readonly code = 'ERR_COPY_REFUSED';
}

export interface CopiedSession {
  key: SessionKey;
  /** Whether the source held metadata; false: it was implied (see impliedMeta). */
  meta: boolean;
  /** Whether the session runs in the target, as it would have in the source. */
  shouldRun: boolean;
  creds: boolean;
  keys: number;
  /** Outgoing messages copied, and how many of them were still queued (to be sent by the target). */
  messages: number;
  queued: number;
}

export async function copySessions(from: SessionEndpoint, to: SessionEndpoint, onCopied: (copied: CopiedSession) => void = () => {}): Promise<CopiedSession[]> {
  const sessions = await from.store.list();
  const existing = new Set((await to.store.list()).map(keyString));
  const clashes = sessions.filter((key) => existing.has(keyString(key))).map(keyString);
  if (clashes.length > 0) throw new CopyRefusedError(`already in ${to.location}, not overwritten: ${clashes.join(', ')}`);
  const running: string[] = [];
  for (const key of sessions) {
    const owner = await from.liveOwner(key);
    if (owner) running.push(`${keyString(key)} (run by ${owner})`);
  }
  if (running.length > 0) throw new CopyRefusedError(`stop the service first; sessions still running in ${from.location}: ${running.join(', ')}`);
  // A message the target could not hold unchanged refuses the whole copy before anything is written.
  for (const key of sessions) await sourceMessages(from, key);

  const copied: CopiedSession[] = [];
  for (const key of sessions) {
    const one = await copySession(from, to, key);
    copied.push(one);
    onCopied(one);
  }
  return copied;
}

async function copySession(from: SessionEndpoint, to: SessionEndpoint, key: SessionKey): Promise<CopiedSession> {
  if (!(await to.store.create(key))) throw new CopyRefusedError(`${keyString(key)} appeared in ${to.location} during the copy, not overwritten`);
  const lease = await to.lease(key);
  try {
    const stored = await from.store.readMeta(key);
    const credsText = await from.credsText(key);
    const meta = stored ?? impliedMeta(key, credsText !== null);
    await to.store.writeMeta(lease, meta);
    const auth = await to.store.openAuthState(lease);
    if (credsText !== null) {
      const creds = parse(credsText, `${keyString(key)} creds`) as AuthenticationCreds;
      for (const field of Object.keys(auth.state.creds)) delete (auth.state.creds as unknown as Record<string, unknown>)[field];
      Object.assign(auth.state.creds, creds);
      await auth.saveCreds();
    }
    const keys = await from.keys(key);
    for (let start = 0; start < keys.length; start += keysPerBatch) {
      const batch: Record<string, Record<string, unknown>> = {};
      for (const { type, id, text } of keys.slice(start, start + keysPerBatch)) (batch[type] ??= {})[id] = parse(text, `${keyString(key)} ${type} key`);
      await auth.state.keys.set(batch as SignalDataSet);
    }
    await auth.flush();
    // Oldest first, as the source lists them; the target orders them the same way (by createdAt, then id).
    const messages = await sourceMessages(from, key);
    for (let start = 0; start < messages.length; start += messagesPerBatch) await to.store.messages.restore(lease, messages.slice(start, start + messagesPerBatch));
    const queued = messages.filter((m) => m.status === 'queued').length;
    return { key, meta: stored !== null, shouldRun: meta.shouldRun, creds: credsText !== null, keys: keys.length, messages: messages.length, queued };
  } finally {
    await to.release(lease);
  }
}

/**
 * What a session without metadata means where it is stored: the service restores a folder that
 * holds credentials and runs it; a folder without them is a create that never finished.
 */
export function impliedMeta(key: SessionKey, hasCredentials: boolean): SessionMeta {
  return newMeta(key, hasCredentials);
}

/** The session's messages as whole records, each one the target can hold unchanged (the error names ids, never a text). */
async function sourceMessages(from: SessionEndpoint, key: SessionKey): Promise<OutgoingMessage[]> {
  const messages = await from.store.messages.list(key);
  try {
    return messages.map(checkedRecord);
  } catch (error) {
    throw new CopyRefusedError(`${keyString(key)} ${(error as Error).message}; nothing copied`);
  }
}

/** Plain BufferJSON decoding (no protobuf classes), so encoding it again gives the same text. */
function parse(text: string, what: string): unknown {
  try {
    return JSON.parse(text, BufferJSON.reviver) as unknown;
  } catch {
    throw new CopyRefusedError(`${what} is not valid JSON; nothing more copied`);
  }
}

/**
 * Copies the webhook subscriptions the target does not have (by id; one there already is left
 * as it is). Their text moves as stored, secret included: the receivers check signatures with it.
 * A subscription starts again from the target's newest event: the outboxes are not copied.
 */
export async function copySubscriptions(source: SubscriptionFiles, target: SubscriptionFiles): Promise<{ copied: string[]; present: string[] }> {
  const have = new Set((await target.readAll()).entries.map((entry) => entry.id));
  const { entries } = await source.readAll();
  const copied: string[] = [];
  const present: string[] = [];
  for (const { id, text } of entries) {
    if (have.has(id)) {
      present.push(id);
      continue;
    }
    await (target.create ? target.create(id, text) : target.write(id, text));
    copied.push(id);
  }
  return { copied, present };
}
