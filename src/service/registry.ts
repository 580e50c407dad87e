/**
 * The sessions of this process: one SessionOwner per (userId, sessionId), found
 * by key. The registry routes each operation to its owner's queue, lists the
 * store at boot (before the API serves, so a create can never shadow a session
 * that is on disk but not yet restored), and shuts down in order: first it stops
 * taking operations, then it stops every owner behind whatever was in flight.
 *
 * Data flows one way: actor snapshots and operations → owner → 'change'
 * (SessionChange, worked out once by the owner) for the API, the metrics, the
 * event streams, messaging and the inspector; 'removed' when a session is gone;
 * 'added' (key) when one joins this process; 'startFailed' (key) when a start
 * failed after taking the lease.
 */
import { EventEmitter } from 'node:events';
import type { AnyActorLogic, InspectionEvent } from 'xstate';
import { sessionMachine, type SessionMachine } from '../../machines/session.machine.js';
import type { SessionPolicy } from '../../machines/session.policy.js';
import type { Logger } from '../logging/logger.js';
import { sessionLogWriter } from '../logging/session-log.js';
import type { Lease, Ownership } from '../store/ownership.js';
import { checkedSessionKey, keyString, type SessionKey } from '../store/session-key.js';
import type { SessionStore } from '../store/session-store.js';
import type { ConnectionDependencies } from '../whatsapp/connection.actor.js';
import type { SessionChange } from '../session/session-change.js';
import type { SessionFeed, SessionFeedEvents } from '../session/session-feed.js';
import { Fleet } from './fleet.js';
import { SessionError } from './session-error.js';
import type { FleetCounters } from '../session/session-facts.js';
import { newMeta, SessionOwner, type OwnerEnvironment, type RestoreOutcome } from './session-owner.js';
import type { RemoteStatus, SessionView } from '../session/session-view.js';

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
  /**
   * At shutdown, how long each session may take to stop, flush and release before the
   * shutdown goes on without it (its lease then expires after the TTL). Default defaultSessionStopWaitMs.
   */
  sessionStopWaitMs?: number;
  /**
   * Resolves once what the sessions announced so far is stored (the outbox). Awaited before
   * a lease is given up: on PostgreSQL an event is stored only while its session's lease
   * names this node, so a hand-over must not overtake the events of the stop it caused.
   */
  beforeRelease?: () => Promise<void>;
}

/** Default sessionStopWaitMs: well inside a service's 10 s shutdown deadline. */
export const defaultSessionStopWaitMs = 5_000;

export interface RegistryEvents extends SessionFeedEvents {
  added: [key: SessionKey];
  startFailed: [key: SessionKey];
}

export class SessionRegistry extends EventEmitter<RegistryEvents> implements SessionFeed {
  readonly counters: FleetCounters = { reconnectAttempts: 0, closesByStatusCode: new Map() };
  readonly fleet: Fleet;
  readonly ownership: Ownership;
  private readonly owners = new Map<string, SessionOwner>();
  /** Sessions between their registration and their owner's create (see current). */
  private readonly creating = new Set<SessionOwner>();
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
      onSnapshot: (owner, snapshot) => this.fleet.observe(owner, snapshot),
      onChange: (owner, change) => this.changed(owner, change),
      onGone: (owner) => this.forget(owner),
      onStartFailed: (owner) => this.emit('startFailed', owner.key),
      ...(options.beforeRelease ? { beforeRelease: options.beforeRelease } : {}),
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
   * How a connection attempt reaches its session: the credentials opened for its very
   * actor under the lease held now (never a newer epoch's), and where it reports its socket.
   */
  connectionHooks(): Pick<ConnectionDependencies, 'openAuthState' | 'onSocket'> {
    return {
      openAuthState: async (userId, sessionId, session) => {
        const auth = this.owner({ userId, sessionId })?.authFor(session) ?? null;
        if (!auth) throw new Error('session has no open credentials under a held lease');
        return auth;
      },
      onSocket: (userId, sessionId, socket, session) => this.owner({ userId, sessionId })?.attachSocket(session, socket),
    };
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
    if (!take) {
      // Listed as it is until placement takes it: its stored metadata says whether it waits for an owner.
      return owner.readMeta().then(
        () => 'idle' as const,
        () => {
          owner.announce();
          return 'idle' as const;
        },
      );
    }
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
    this.creating.add(owner);
    let made: boolean;
    try {
      made = await this.options.store.create(key);
    } catch (error) {
      this.owners.delete(keyString(key));
      throw error;
    } finally {
      // From here the owner's own queue runs the create (owner.create below): its operations guard its view.
      this.creating.delete(owner);
    }
    if (!made) {
      // On disk already (another process made it, or a listing has not reached it yet): leave it alone.
      // Placement's next tick adopts it the way every new folder is adopted (and, in a cluster, places it).
      this.owners.delete(keyString(key));
      throw new SessionError('ERR_EXISTS', `session ${keyString(key)} already exists`);
    }
    this.emit('added', key);
    try {
      return await owner.create();
    } catch (error) {
      await this.undoCreate(owner);
      throw error;
    }
  }

  /**
   * A create is all or nothing: one that failed (a full disk refused its lease or its
   * metadata) leaves no session behind — no ghost that answers 409 to the next create.
   */
  private async undoCreate(owner: SessionOwner): Promise<void> {
    const removed = await owner.remove().then(
      () => true,
      () => false,
    );
    if (!removed) {
      // No lease could be taken (the disk refuses that too): remove what this create made, if it is still only that.
      await this.options.store.discard?.(owner.key).catch((error: unknown) =>
        this.options.logger.warn({ ...owner.key, err: error instanceof Error ? error.message : String(error) }, 'A failed create could not be undone'),
      );
    }
    this.forget(owner);
  }

  list(): SessionView[] {
    return [...this.owners.values()].map((owner) => owner.view());
  }

  /** Another node announced the state of a session it runs (see SessionOwner.remoteStatus); unknown sessions wait for placement to list them. */
  remoteStatus(key: SessionKey, node: string, status: RemoteStatus): void {
    if (node === this.ownership.holder) return;
    this.owners.get(keyString(key))?.remoteStatus(node, status);
  }

  get(userId: unknown, sessionId: unknown): SessionView {
    return this.find(userId, sessionId).view();
  }

  /**
   * As get, with the stored metadata read again when this process does not hold the session:
   * on a cluster, what this node read when it first listed a session (a create under way, say)
   * may since have changed on the node that ran it; one read keeps a session that merely waits
   * for its next owner from being shown as stopped.
   */
  current(userId: unknown, sessionId: unknown): Promise<SessionView> {
    const owner = this.find(userId, sessionId);
    // Being created here: the creator's metadata is the truth, the store's not yet written.
    return this.creating.has(owner) ? Promise.resolve(owner.view()) : owner.storedView();
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

  /** Calls `listener` with the session's view on each of its changes; returns the way to stop. */
  watch(userId: unknown, sessionId: unknown, listener: (view: SessionView) => void): () => void {
    // Kept per session: a change reaches its own session's watchers only, so one
    // event stream per session costs O(1) per change, not O(streams).
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
   * Stops taking operations and cancels the ones still queued (the running ones end
   * their long waits; none can start a new actor after this). Idempotent; shutdown() begins with it.
   */
  close(): void {
    this.closing.abort();
  }

  /**
   * close(), then stops every socket at once, and per session flushes its writes and
   * releases its lease — each bounded by sessionStopWaitMs, so one stuck session (a store
   * that hangs) cannot hold the others' hand-over or the process's exit.
   */
  async shutdown(): Promise<void> {
    this.close();
    const waitMs = this.options.sessionStopWaitMs ?? defaultSessionStopWaitMs;
    await Promise.all(
      this.all().map(async (owner) => {
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), waitMs)));
        const outcome = await Promise.race([owner.shutdown().catch((error: unknown) => error), late]);
        clearTimeout(timer);
        if (outcome === 'late') this.options.logger.warn({ ...owner.key, waitMs }, 'Session did not finish stopping in time: its lease is left to expire');
      }),
    );
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

  private changed(owner: SessionOwner, change: SessionChange): void {
    // An owner that is gone (removed, or a create undone) has nobody left to tell.
    if (this.owners.get(keyString(owner.key)) !== owner) return;
    this.emit('change', change);
    const watchers = this.watchers.get(keyString(owner.key));
    if (watchers) for (const listener of [...watchers]) listener(change.after);
  }

  private forget(owner: SessionOwner): void {
    if (this.owners.get(keyString(owner.key)) !== owner) return;
    this.owners.delete(keyString(owner.key));
    this.watchers.delete(keyString(owner.key));
    this.fleet.forget(owner);
    this.emit('removed', owner.key, owner.lastOwner);
  }
}
