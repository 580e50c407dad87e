/**
 * Storage faults made visible: every failed write is counted by kind, the
 * process is "degraded" (GET /health 503, naming the cause) while some kind's
 * last write failed, and it is healthy again once a write of that kind — or a
 * probe write — succeeds. A full or read-only disk (or a database that refuses
 * writes) is thereby an alert, not a silent loss.
 *
 * What each kind is:
 *   credentials  creds and signal keys      meta     session.json / its row
 *   session      creating or removing one   lease    acquiring, renewing, releasing
 *   outbox       storing events             messages the outgoing message queue
 */
import { EventEmitter } from 'node:events';
import type { Logger } from '../logging/logger.js';
import type { MessageQueue } from './message-queue.js';
import type { Lease, Ownership } from './ownership.js';
import type { SessionAuthState, SessionStore } from './session-store.js';

export const writeKinds = ['credentials', 'meta', 'session', 'lease', 'outbox', 'messages'] as const;
export type WriteKind = (typeof writeKinds)[number];

/** A degraded process tries one probe write per this interval, at most, when asked for its health. */
export const defaultProbeIntervalMs = 1_000;

/** Errno codes of a disk that refuses writes (full, read-only, failing, out of handles or permissions). */
const fileErrors: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EIO: 'input/output error',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in the system',
};

/**
 * "no space left on device (ENOSPC)" for an error of a storage that refuses writes
 * (a file errno, or PostgreSQL's disk full, read-only or connection classes); null
 * for anything else. Never the path: this reaches API clients.
 */
export function storageProblem(error: unknown): string | null {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return null;
  if (fileErrors[code]) return `${fileErrors[code]} (${code})`;
  if (code.startsWith('53')) return `the database is out of resources (${code})`;
  if (code === '25006') return `the database is read-only (${code})`;
  if (code.startsWith('08') || code === 'ECONNREFUSED' || code === 'ETIMEDOUT') return `the database is unreachable (${code})`;
  return null;
}

const leaseLost = (error: unknown) => (error as { code?: unknown } | null)?.code === 'ERR_LEASE_LOST';

export interface StorageFaultsOptions {
  /** A small write that proves the storage takes writes again (files: write and remove a file). */
  probe?: () => Promise<void>;
  probeIntervalMs?: number;
  logger?: Logger;
  now?: () => number;
}

interface Failing {
  at: number;
  problem: string;
}

/** Emits 'failed' (kind) on every failed write. */
export class StorageFaults extends EventEmitter {
  /** Failed writes so far, by kind. */
  readonly failures = new Map<WriteKind, number>(writeKinds.map((kind) => [kind, 0]));
  private readonly failing = new Map<WriteKind, Failing>();
  private lastProbeAt = -Infinity;
  private probing: Promise<void> | null = null;
  private readonly now: () => number;

  constructor(private readonly options: StorageFaultsOptions = {}) {
    super();
    this.now = options.now ?? Date.now;
  }

  get degraded(): boolean {
    return this.failing.size > 0;
  }

  /** A write of `kind` failed. A lost lease is not a storage fault (the write was refused on purpose). */
  failed(kind: WriteKind, error: unknown): void {
    if (leaseLost(error)) return;
    this.failures.set(kind, (this.failures.get(kind) ?? 0) + 1);
    const problem = storageProblem(error) ?? (error instanceof Error ? error.message : String(error));
    if (!this.failing.has(kind)) {
      // One line when a kind starts failing, not one per write: a full disk fails thousands.
      this.options.logger?.error({ kind, err: error instanceof Error ? error.message : String(error) }, `Storage writes failing (${kind}): ${problem}`);
    }
    this.failing.set(kind, { at: this.now(), problem });
    this.emit('failed', kind);
  }

  /** A write of `kind` succeeded: that kind is healthy again. */
  succeeded(kind: WriteKind): void {
    if (!this.failing.delete(kind)) return;
    this.options.logger?.info({ kind }, `Storage writes succeed again (${kind})`);
  }

  /** Runs `write`, recording its outcome under `kind`. */
  async track<T>(kind: WriteKind, write: () => Promise<T>): Promise<T> {
    try {
      const result = await write();
      this.succeeded(kind);
      return result;
    } catch (error) {
      this.failed(kind, error);
      throw error;
    }
  }

  /** For GET /health: ok, or the kinds failing and why. A degraded process probes (rate-limited) to find out it recovered. */
  async health(): Promise<{ ok: boolean; message?: string }> {
    if (this.degraded && this.options.probe && this.now() - this.lastProbeAt >= (this.options.probeIntervalMs ?? defaultProbeIntervalMs)) {
      this.probing ??= this.probe().finally(() => (this.probing = null));
      await this.probing;
    }
    if (!this.degraded) return { ok: true };
    const causes = [...this.failing].map(([kind, { at, problem }]) => `${kind}: ${problem} since ${new Date(at).toISOString()}`);
    return { ok: false, message: `storage writes failing — ${causes.join('; ')}` };
  }

  private async probe(): Promise<void> {
    this.lastProbeAt = this.now();
    try {
      await this.options.probe!();
    } catch {
      return;
    }
    // The storage takes writes again: every kind will succeed on its next write.
    for (const kind of [...this.failing.keys()]) this.succeeded(kind);
  }
}

/** The store, with every write's outcome recorded in `faults` (reads are not writes). */
export function watchStore(store: SessionStore, faults: StorageFaults): SessionStore {
  const queue = store.messages;
  // Only what the storage refused counts: a full queue or an id that is not one is the caller's doing.
  const trackMessages = async <T>(write: () => Promise<T>): Promise<T> => {
    try {
      const result = await write();
      faults.succeeded('messages');
      return result;
    } catch (error) {
      if (storageProblem(error)) faults.failed('messages', error);
      throw error;
    }
  };
  const watchedMessages: MessageQueue = {
    accept: (lease, message, maxQueued) => trackMessages(() => queue.accept(lease, message, maxQueued)),
    update: (lease, id, change) => trackMessages(() => queue.update(lease, id, change)),
    prune: (lease, before) => trackMessages(() => queue.prune(lease, before)),
    restore: (lease, records) => trackMessages(() => queue.restore(lease, records)),
    get: (key, id) => queue.get(key, id),
    list: (key, status) => queue.list(key, status),
  };
  const watchedAuth = (auth: SessionAuthState): SessionAuthState => ({
    ...auth,
    state: {
      creds: auth.state.creds,
      keys: { ...auth.state.keys, set: (data) => faults.track('credentials', async () => auth.state.keys.set(data)) },
    },
    saveCreds: () => faults.track('credentials', () => auth.saveCreds()),
    wipe: () => faults.track('credentials', () => auth.wipe()),
    flush: () => auth.flush(),
    existed: auth.existed,
  });
  return new Proxy(store, {
    get(target, property, receiver) {
      switch (property) {
        case 'create':
          return (key: Parameters<SessionStore['create']>[0]) => faults.track('session', () => target.create(key));
        case 'remove':
          return (lease: Lease) => faults.track('session', () => target.remove(lease));
        case 'writeMeta':
          return (lease: Lease, meta: Parameters<SessionStore['writeMeta']>[1]) => faults.track('meta', () => target.writeMeta(lease, meta));
        case 'openAuthState':
          return async (lease: Lease, onRefused?: (error: unknown) => void) => watchedAuth(await target.openAuthState(lease, onRefused));
        case 'messages':
          return watchedMessages;
        default: {
          const value: unknown = Reflect.get(target, property, receiver);
          return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
        }
      }
    },
  });
}

/** The ownership, with every lease write's outcome (acquire, renew, release) recorded in `faults`. */
export function watchOwnership<T extends Ownership>(ownership: T, faults: StorageFaults): T {
  const tracked = new Set<PropertyKey>(['acquire', 'renew', 'release']);
  return new Proxy(ownership, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      const method = (value as (...args: unknown[]) => Promise<unknown>).bind(target);
      if (!tracked.has(property)) return method;
      return (...args: unknown[]) => faults.track('lease', () => method(...args));
    },
  });
}
