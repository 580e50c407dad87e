/**
 * Session ownership: which process may run a session and write its state.
 *
 * A socket exists only while its session holds a lease, and every credential or
 * metadata write carries the lease and is refused without it. Nothing else — a
 * pid, a map entry, a flag — counts as ownership. A lease that is taken over
 * bumps the epoch, so a stale holder can tell it lost and can never roll the
 * Signal state back (the "Bad MAC" failure of tools that write without fencing).
 *
 * Implementations: files/file-ownership.ts (one machine, the default);
 * PostgreSQL lease rows for a cluster follow the same contract.
 */
import type { SessionKey } from './session-key.js';

/** Proof that `holder` owned `key` at `epoch`. Epochs only grow. */
export interface Lease {
  readonly key: SessionKey;
  readonly holder: string;
  readonly epoch: number;
}

export type AcquireResult =
  | { readonly acquired: true; readonly lease: Lease }
  /** Another live holder has it. */
  | { readonly acquired: false; readonly owner: string }
  /** The session no longer exists (deleted, by this process or another). */
  | { readonly acquired: false; readonly gone: true };

/** A holder that is alive now, and where its API can be reached (null when it does not say). */
export interface LiveHolder {
  readonly holder: string;
  readonly url: string | null;
}

export class LeaseLostError extends Error {
  readonly code = 'ERR_LEASE_LOST';
  constructor(readonly lease: Lease) {
    super(`lease on ${lease.key.userId}/${lease.key.sessionId} (epoch ${lease.epoch}) is no longer held by ${lease.holder}`);
    this.name = 'LeaseLostError';
  }
}

export interface Ownership {
  /** This process's holder id: random per start, so a reused pid is never mistaken for the old owner. */
  readonly holder: string;
  /** How long a silent holder keeps its sessions before others may take them. */
  readonly ttlMs: number;
  /** Announce this holder alive (before any acquire). */
  start(): Promise<void>;
  /** Take the session if it is free, released, or held by a dead holder; otherwise say who has it. */
  acquire(key: SessionKey): Promise<AcquireResult>;
  /** Resolves if `lease` is still the current one; throws LeaseLostError otherwise. Called before every write. */
  confirm(lease: Lease): Promise<void>;
  /** Keep this holder alive and report which of `leases` were lost since the last call. */
  renew(leases: readonly Lease[]): Promise<Lease[]>;
  /** Give the session up so another holder can take it at once. A lost lease is left alone. */
  release(lease: Lease): Promise<void>;
  /** The live holder of the session, or null when nobody (alive) has it. */
  liveOwner(key: SessionKey): Promise<string | null>;
  /** liveOwner for many sessions at once (one query on a database), in the same order. */
  liveOwners(keys: readonly SessionKey[]): Promise<Array<string | null>>;
  /** Every holder alive now, this one included (placement spreads sessions over them). */
  liveHolders(): Promise<LiveHolder[]>;
  /** This holder is gone: whatever it still holds may be taken at once. */
  stop(): Promise<void>;
}
