/**
 * Copies every session from one store to another: metadata, creds and every
 * signal key, values byte for byte. Nothing in the target is ever overwritten:
 * if any session already exists there, nothing is copied and the error names
 * them. A session a live process is running is refused too (stop the service
 * first: a copy taken while Baileys writes could pair old creds with new keys).
 */
import { BufferJSON, type AuthenticationCreds, type SignalDataSet } from '@whiskeysockets/baileys';
import { keyString, type SessionKey } from '../store/session-key.js';
import type { SessionEndpoint } from './session-endpoints.js';

/** Keys per keys.set on the target: one transaction each on PostgreSQL. */
const keysPerBatch = 500;

export class CopyRefusedError extends Error {
  readonly code = 'ERR_COPY_REFUSED';
}

export interface CopiedSession {
  key: SessionKey;
  meta: boolean;
  creds: boolean;
  keys: number;
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
    const meta = await from.store.readMeta(key);
    if (meta) await to.store.writeMeta(lease, meta);
    const auth = await to.store.openAuthState(lease);
    const credsText = await from.credsText(key);
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
    return { key, meta: meta !== null, creds: credsText !== null, keys: keys.length };
  } finally {
    await to.release(lease);
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
