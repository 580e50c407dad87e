/**
 * Session identities. Both ids become folder names under sessions/, so they
 * are checked before anything touches the disk: letters, digits, _ and -,
 * 1 to 64 of them. No dots, no slashes, nothing to escape with.
 */
export const idPattern = /^[A-Za-z0-9_-]{1,64}$/;

export interface SessionKey {
  userId: string;
  sessionId: string;
}

export class InvalidIdError extends Error {
  readonly code = 'ERR_INVALID_ID';
  constructor(readonly field: 'userId' | 'sessionId') {
    super(`${field}: must be 1 to 64 characters of A-Z, a-z, 0-9, _ or -`);
    this.name = 'InvalidIdError';
  }
}

/** The key, or an InvalidIdError naming the first bad field. */
export function parseSessionKey(userId: unknown, sessionId: unknown): SessionKey | InvalidIdError {
  if (typeof userId !== 'string' || !idPattern.test(userId)) return new InvalidIdError('userId');
  if (typeof sessionId !== 'string' || !idPattern.test(sessionId)) return new InvalidIdError('sessionId');
  return { userId, sessionId };
}

/** The key, or throws the InvalidIdError naming the first bad field. */
export function checkedSessionKey(userId: unknown, sessionId: unknown): SessionKey {
  const key = parseSessionKey(userId, sessionId);
  if (key instanceof InvalidIdError) throw key;
  return key;
}

export function keyString({ userId, sessionId }: SessionKey): string {
  return `${userId}/${sessionId}`;
}
