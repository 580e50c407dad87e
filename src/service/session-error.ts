/**
 * Errors of session operations, as values with codes (the HTTP layer maps each
 * code to a status; nothing here knows about HTTP).
 */
export type SessionErrorCode =
  | 'ERR_NOT_FOUND' // no such session
  | 'ERR_EXISTS' // create of a session that exists (in this process or on disk)
  | 'ERR_OWNED_ELSEWHERE' // another live process owns it: this one changes nothing
  | 'ERR_NO_QR' // no QR is waiting to be scanned
  | 'ERR_NOT_PAIRING' // pairing code asked of a session that is not an unpaired one awaiting its QR
  | 'ERR_SHUTTING_DOWN' // the service is stopping and takes no more operations
  | 'ERR_SESSION_NOT_RUNNING' // a message for a session that is stopped or ended
  | 'ERR_QUEUE_FULL' // the session's outgoing queue is at MAX_QUEUED_MESSAGES
  | 'ERR_NOT_CONNECTED' // asks WhatsApp something, but the session is not open
  | 'ERR_CORRUPT_META' // session.json is damaged: not started, nothing written over it
  | 'ERR_CORRUPT_CREDENTIALS' // the credentials are damaged: not started, never replaced by new ones
  | 'ERR_STORAGE_UNAVAILABLE'; // the disk (or database) refused a write: full, read-only, failing

export class SessionError extends Error {
  constructor(
    readonly code: SessionErrorCode,
    message: string,
    /** With ERR_OWNED_ELSEWHERE: the holder that owns the session. */
    readonly owner?: string,
  ) {
    super(message);
    this.name = 'SessionError';
  }
}
