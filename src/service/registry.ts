/**
 * The sessions of this process: one SessionOwner per (userId, sessionId), found
 * by key. The registry routes each operation to its owner's queue, lists the
 * store at boot (before the API serves, so a create can never shadow a session
 * that is on disk but not yet restored), and shuts down in order: first it stops
 * taking operations, then it stops every owner behind whatever was in flight.
 *
 * Data flows one way: actor snapshots → owner → 'transition' (SessionView) for
 * the API, the metrics, the event streams and the inspector; 'removed' when a
 * session is gone.
 */
import { EventEmitter } from 'node:events';
import type { AnyActorLogic, InspectionEvent, SnapshotFrom } from 'xstate';
import { sessionMachine, type SessionMachine } from '../../machines/session.machine.js';
import type { SessionPolicy } from '../../machines/session.policy.js';
import type { Logger } from '../logging/logger.js';
import { sessionLogWriter } from '../logging/session-log.js';
import type { Lease, Ownership } from '../store/ownership.js';
import { checkedSessionKey, keyString, type SessionKey } from '../store/session-key.js';
import type { SessionStore } from '../store/session-store.js';
import { Fleet } from './fleet.js';
import { SessionError } from './session-error.js';
import type { FleetCounters } from './session-facts.js';
import { newMeta, SessionOwner, type OwnerEnvironment, type RestoreOutcome } from './session-owner.js';
import type { SessionView } from './session-view.js';

export interface RegistryOptions {
  store: SessionStore;
  logger: Logger;
  /** Builds the `connection` actor logic; it finds a session's credentials and reports its socket through the registry. */
  connection: (registry: SessionRegistry) => AnyActorLogic;
  /** Overrides of the session policy for every session. */
  policy?: Partial<SessionPolicy>;
  /** Connection attempts allowed in their handshake at once. Default 8. */
  maxConcurrentConnects?: number;
  /** Receives every session actor's inspection events (the inspector). */
  inspect?: (key: SessionKey, event: InspectionEvent) => void;
}

export class SessionRegistry extends EventEmitter {
  readonly counters: FleetCounters = { reconnectAttempts: 0, closesByStatusCode: new Map() };
  readonly fleet: Fleet;
  readonly ownership: Ownership;
  private readonly owners = new Map<string, SessionOwner>();
  /** watch() listeners by session key. */
  private readonly watchers = new Map<string, Set<(view: SessionView) => void>>();
  private readonly env: OwnerEnvironment;
  private readonly closing = new AbortController();

  constructor(private readonly options: RegistryOptions) {
    super();
    this.ownership = options.store.ownership;
    this.fleet = new Fleet(options.maxConcurrentConnects ?? 8);
    const writeLog = sessionLogWriter(options.logger);
    // One provided machine for the whole process: inputs carry what differs per session.
    const machine = sessionMachine.provide({
      actors: { connection: options.connection(this) as never },
      actions: {
        log: writeLog,
        wipeCredentials: ({ context }) => this.owners.get(keyString(context))?.wipeCredentials(),
      },
    }) as SessionMachine;
    this.env = {
      store: options.store,
      ownership: this.ownership,
      machine,
      policy: options.policy,
      counters: this.counters,
      logger: options.logger,
      inspect: options.inspect,
      closing: this.closing.signal,
      onNews: (owner, snapshot) => this.news(owner, snapshot),
      onGone: (owner) => this.forget(owner),
    };
  }

  /** The admission control every connection attempt goes through. */
  get admission() {
    return this.fleet.admission;
  }

  /** The owner of a session known to this process, if any (the connection actor's way in). */
  owner(key: SessionKey): SessionOwner | undefined {
    return this.owners.get(keyString(key));
  }

  /**
   * Registers every session on disk, then restores each through its own queue.
   * Resolves once all are registered (serve the API after this); `restored`
   * settles when every restore has run.
   */
  async load(options: { take?: boolean } = {}): Promise<{ restored: Promise<number> }> {
    const keys = await this.options.store.list();
    const restores = keys.filter(() => !this.closing.signal.aborted).map((key) => this.adopt(key, options));
    return { restored: Promise.all(restores).then((outcomes) => outcomes.filter((o) => o === 'started').length) };
  }

  /**
   * A session this process has not seen yet (at boot, or made by another process):
   * register it and, unless `take` is false (placement decides), try to take it.
   */
  adopt(key: SessionKey, options: { take?: boolean } = {}): Promise<RestoreOutcome> {
    const take = options.take ?? true;
    const existing = this.owners.get(keyString(key));
    if (existing) return take ? existing.restore() : Promise.resolve('idle');
    const owner = new SessionOwner(key, this.env);
    this.owners.set(keyString(key), owner);
    this.emit('added', key);
    if (!take) return Promise.resolve('idle');
    return owner.restore().catch((error: unknown) => {
      this.options.logger.warn({ ...key, err: error instanceof Error ? error.message : String(error) }, 'Session not restored');
      return 'idle' as const;
    });
  }

  async create(userId: unknown, sessionId: unknown = 'default'): Promise<SessionView> {
    this.refuseWhenClosing();
    const key = checkedSessionKey(userId, sessionId);
    if (this.owners.has(keyString(key))) throw new SessionError('ERR_EXISTS', `session ${keyString(key)} already exists`);
    // Claimed before the first await, so a concurrent create of the same id gets 409.
    const owner = new SessionOwner(key, this.env, newMeta(key));
    this.owners.set(keyString(key), owner);
    let made: boolean;
    try {
      made = await this.options.store.create(key);
    } catch (error) {
      this.owners.delete(keyString(key));
      throw error;
    }
    if (!made) {
      // On disk already (another process made it, or a listing has not reached it yet): leave it alone.
      // Placement's next tick adopts it the way every new folder is adopted (and, in a cluster, places it).
      this.owners.delete(keyString(key));
      throw new SessionError('ERR_EXISTS', `session ${keyString(key)} already exists`);
    }
    this.emit('added', key);
    return owner.create();
  }

  list(): SessionView[] {
    return [...this.owners.values()].map((owner) => owner.view());
  }

  get(userId: unknown, sessionId: unknown): SessionView {
    return this.find(userId, sessionId).view();
  }

  start(userId: unknown, sessionId: unknown): Promise<SessionView> {
    return this.operate(userId, sessionId, (owner) => owner.start());
  }

  stop(userId: unknown, sessionId: unknown): Promise<SessionView> {
    return this.operate(userId, sessionId, (owner) => owner.stop());
  }

  restart(userId: unknown, sessionId: unknown): Promise<SessionView> {
    return this.operate(userId, sessionId, (owner) => owner.restart());
  }

  logout(userId: unknown, sessionId: unknown): Promise<SessionView> {
    return this.operate(userId, sessionId, (owner) => owner.logout());
  }

  remove(userId: unknown, sessionId: unknown, options: { logout?: boolean } = {}): Promise<void> {
    return this.operate(userId, sessionId, (owner) => owner.remove(options));
  }

  requestPairingCode(userId: unknown, sessionId: unknown, phoneNumber: string): Promise<string> {
    return this.operate(userId, sessionId, (owner) => owner.requestPairingCode(phoneNumber));
  }

  pendingQr(userId: unknown, sessionId: unknown): string {
    return this.find(userId, sessionId).pendingQr();
  }

  /** Calls `listener` with the session's view on each of its transitions; returns the way to stop. */
  watch(userId: unknown, sessionId: unknown, listener: (view: SessionView) => void): () => void {
    // Kept per session: a transition reaches its own session's watchers only, so one
    // event stream per session costs O(1) per transition, not O(streams).
    const id = keyString(this.find(userId, sessionId).key);
    let listeners = this.watchers.get(id);
    if (!listeners) this.watchers.set(id, (listeners = new Set()));
    const mine = listeners;
    mine.add(listener);
    return () => {
      mine.delete(listener);
      if (mine.size === 0 && this.watchers.get(id) === mine) this.watchers.delete(id);
    };
  }

  /** Every owner of the process (placement walks them). */
  all(): SessionOwner[] {
    return [...this.owners.values()];
  }

  /** The leases this process holds (renewed together). */
  heldLeases(): Lease[] {
    return this.all().flatMap((owner) => (owner.heldLease ? [owner.heldLease] : []));
  }

  get isClosing(): boolean {
    return this.closing.signal.aborted;
  }

  /**
   * Stops taking operations, then stops every session behind the operations already
   * queued (none of which can start a new actor after this), flushes and releases.
   */
  async shutdown(): Promise<void> {
    this.closing.abort();
    await Promise.all(this.all().map((owner) => owner.shutdown()));
  }

  private operate<T>(userId: unknown, sessionId: unknown, operation: (owner: SessionOwner) => Promise<T>): Promise<T> {
    try {
      this.refuseWhenClosing();
      return operation(this.find(userId, sessionId));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private refuseWhenClosing(): void {
    if (this.closing.signal.aborted) throw new SessionError('ERR_SHUTTING_DOWN', 'the service is shutting down');
  }

  private find(userId: unknown, sessionId: unknown): SessionOwner {
    const key = checkedSessionKey(userId, sessionId);
    const owner = this.owners.get(keyString(key));
    if (!owner) throw new SessionError('ERR_NOT_FOUND', `no session ${keyString(key)}`);
    return owner;
  }

  private news(owner: SessionOwner, snapshot: SnapshotFrom<SessionMachine> | null): void {
    if (snapshot) this.fleet.observe(owner, snapshot);
    const view = owner.view();
    this.emit('transition', view);
    const watchers = this.watchers.get(keyString(owner.key));
    if (watchers) for (const listener of [...watchers]) listener(view);
  }

  private forget(owner: SessionOwner): void {
    if (this.owners.get(keyString(owner.key)) !== owner) return;
    this.owners.delete(keyString(owner.key));
    this.fleet.forget(owner);
    this.emit('removed', owner.key);
  }
}
