/**
 * Where sessions live: their metadata, their Baileys credentials, and the
 * ownership that guards both. Two implementations keep the same contract:
 * files/ (one folder per session, the embedded default) and postgres/ (a
 * cluster of nodes on one database).
 *
 * Reads need nothing. Every write carries the session's lease and is refused
 * (LeaseLostError) once the lease is no longer the current one, so a process
 * that lost a session writes nothing more.
 */
import type { AuthenticationState } from '@whiskeysockets/baileys';
import type { MessageQueue } from './message-queue.js';
import type { Lease, Ownership } from './ownership.js';
import type { SessionKey } from './session-key.js';

/** What the service remembers of a session besides its credentials. */
export interface SessionMeta {
  userId: string;
  sessionId: string;
  createdAt: string;
  /** Whether it should be running: restored on boot when true. */
  shouldRun: boolean;
  /** Why it last ended, when it did. */
  terminatedReason: string | null;
}

/** A session's credentials, open for one actor. */
/** Credentials as a connection needs them: Baileys' state and how to save its creds. */
export interface AuthStateHandle {
  state: AuthenticationState;
  saveCreds(): Promise<void>;
}

export interface SessionAuthState extends AuthStateHandle {
  /** Whether credentials existed when opened (false: fresh ones were made). */
  readonly existed: boolean;
  /** Stop writing, wait for queued writes, delete creds and keys. The session stays. */
  wipe(): Promise<void>;
  /** Wait for every queued write. */
  flush(): Promise<void>;
}

export interface SessionStore {
  readonly ownership: Ownership;
  /** Where the sessions are, for people (a folder, a database without its password). */
  readonly location: string;
  /** Every session, in key order. */
  list(): Promise<SessionKey[]>;
  /** Makes an empty session; true when it did not exist before (false: it exists, leave it alone). */
  create(key: SessionKey): Promise<boolean>;
  readMeta(key: SessionKey): Promise<SessionMeta | null>;
  writeMeta(lease: Lease, meta: SessionMeta): Promise<void>;
  /** The credentials; every write confirms `lease` and is refused (also told to `onRefused`) once it is lost. */
  openAuthState(lease: Lease, onRefused?: (error: unknown) => void): Promise<SessionAuthState>;
  /** Whether the session holds credentials (a linked or half-linked device). */
  hasCredentials(key: SessionKey): Promise<boolean>;
  /** Removes the session and everything in it. */
  remove(lease: Lease): Promise<void>;
  /** Each session's outgoing messages, fenced by the same leases. */
  readonly messages: MessageQueue;
  /**
   * Removes a session whose create did not finish, without a lease: only while it holds
   * neither metadata nor credentials (anything more is a session, and is left alone).
   */
  discard?(key: SessionKey): Promise<void>;
  /** A small write that proves the storage takes writes (a degraded process probes to learn it recovered). */
  probeWrite?(): Promise<void>;
}
