/**
 * What a store found when a session's stored state cannot be trusted: metadata
 * or credentials that do not parse, or parse into something that is not what the
 * service wrote. Both are errors with codes, never "missing": a missing
 * session.json reads as a create that never finished, and missing credentials
 * as an unpaired device that shows a QR — and neither is true of a damaged file.
 * A session so damaged is listed with the problem and never started until a
 * person repairs (or deletes) it.
 */
import type { SessionKey } from './session-key.js';
import type { SessionMeta } from './session-store.js';

/** session.json (or its row) is not valid metadata. */
export class CorruptMetaError extends Error {
  readonly code = 'ERR_CORRUPT_META';
  constructor(message: string) {
    super(message);
    this.name = 'CorruptMetaError';
  }
}

/** creds.json (or its row) is not a set of Baileys credentials. */
export class CorruptCredentialsError extends Error {
  readonly code = 'ERR_CORRUPT_CREDENTIALS';
  constructor(message: string) {
    super(message);
    this.name = 'CorruptCredentialsError';
  }
}

export function isCorruptMeta(error: unknown): error is CorruptMetaError {
  return (error as { code?: unknown } | null)?.code === 'ERR_CORRUPT_META';
}

export function isCorruptCredentials(error: unknown): error is CorruptCredentialsError {
  return (error as { code?: unknown } | null)?.code === 'ERR_CORRUPT_CREDENTIALS';
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The metadata in `raw` (parsed session.json), or CorruptMetaError naming the first
 * bad field. The folder names the session: ids inside the file are not trusted.
 */
export function checkedMeta(raw: unknown, key: SessionKey, what = 'session.json'): SessionMeta {
  if (!isObject(raw)) throw new CorruptMetaError(`${what} is not an object`);
  const { createdAt, shouldRun, terminatedReason } = raw;
  if (typeof createdAt !== 'string' || Number.isNaN(Date.parse(createdAt))) throw new CorruptMetaError(`${what}: createdAt is not a date`);
  if (typeof shouldRun !== 'boolean') throw new CorruptMetaError(`${what}: shouldRun is not true or false`);
  if (terminatedReason !== undefined && terminatedReason !== null && typeof terminatedReason !== 'string') {
    throw new CorruptMetaError(`${what}: terminatedReason is not a string or null`);
  }
  return { ...raw, userId: key.userId, sessionId: key.sessionId, createdAt, shouldRun, terminatedReason: terminatedReason ?? null };
}

const isBytes = (value: unknown): boolean => value instanceof Uint8Array && value.length > 0;
const isKeyPair = (value: unknown): boolean => isObject(value) && isBytes(value.private) && isBytes(value.public);

/**
 * Throws CorruptCredentialsError unless `value` (parsed creds, Buffers revived) has what
 * Baileys needs to connect: `null`, `{}` or `"hello"` are damage, not an unpaired device.
 */
export function checkCredentials(value: unknown, what = 'creds.json'): void {
  if (!isObject(value)) throw new CorruptCredentialsError(`${what} is not an object (${value === null ? 'null' : typeof value})`);
  for (const field of ['noiseKey', 'pairingEphemeralKeyPair', 'signedIdentityKey'] as const) {
    if (!isKeyPair(value[field])) throw new CorruptCredentialsError(`${what}: ${field} is not a key pair`);
  }
  const preKey = value.signedPreKey;
  if (!isObject(preKey) || !isKeyPair(preKey.keyPair) || !isBytes(preKey.signature) || typeof preKey.keyId !== 'number') {
    throw new CorruptCredentialsError(`${what}: signedPreKey is not a signed key pair`);
  }
  if (typeof value.registrationId !== 'number') throw new CorruptCredentialsError(`${what}: registrationId is not a number`);
  if (typeof value.advSecretKey !== 'string') throw new CorruptCredentialsError(`${what}: advSecretKey is not a string`);
}
