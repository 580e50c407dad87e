/**
 * The one owner of one session in this process: its operation queue, its lease
 * and its actor.
 *
 * Every lifecycle operation (restore, create, start, stop, restart, logout,
 * delete, pairing code, shutdown) runs through `enqueue`, one at a time in
 * arrival order, so no two operations can interleave their awaits and no actor
 * can be created twice or orphaned. Nothing outside this file touches the actor.
 *
 * The machine decides what should happen (reconnect, back off, give up); the
 * owner decides whether it may: an operation first proves the lease, and a lost
 * lease stops the socket at once.
 */
import type { WASocket } from '@whiskeysockets/baileys';
import { createActor, type Actor, type AnyActorRef, type InspectionEvent, type SnapshotFrom } from 'xstate';
import type { SessionMachine } from '../../machines/session.machine.js';
import { isServiceStop, type StopReason } from '../../machines/close-rules.js';
import type { SessionPolicy } from '../../machines/session.policy.js';
import type { Logger } from '../logging/logger.js';
import { isCorruptCredentials, isCorruptMeta } from '../store/corruption.js';
import { LeaseLostError, type Lease, type Ownership } from '../store/ownership.js';
import { keyString, type SessionKey } from '../store/session-key.js';
import type { SessionAuthState, SessionMeta, SessionStore } from '../store/session-store.js';
import { SessionError } from './session-error.js';
import { SessionFacts, type FleetCounters } from '../session/session-facts.js';
import { viewJson, type SessionChange } from '../session/session-change.js';
import { toSessionView, type RemoteStatus, type SessionFault, type SessionView } from '../session/session-view.js';

/** How long a logout of a session that is not connected tries to reach WhatsApp to unlink the device on the phone. */
export const logoutReachWaitMs = 10_000;

/** What every owner of the process shares. */
export interface OwnerEnvironment {
  store: SessionStore;
  ownership: Ownership;
  /** The session machine, provided once for the whole process. */
  machine: SessionMachine;
  policy?: Partial<SessionPolicy>;
  counters: FleetCounters;
  logger: Logger;
  inspect?: (key: SessionKey, event: InspectionEvent) => void;
  /** A new state or a new disconnect of the session's actor (the fleet's outage watch). */
  onSnapshot(owner: SessionOwner, snapshot: SnapshotFrom<SessionMachine>): void;
  /** The session's view changed: announced once, with the view before it. */
  onChange(owner: SessionOwner, change: SessionChange): void;
  /** The session's folder is gone (deleted here or by its owner elsewhere). */
  onGone(owner: SessionOwner): void;
  /** Aborted when the service starts shutting down: long waits inside operations end early. */
  closing: AbortSignal;
  /**
   * A start (restore, takeover, start, create) failed after taking the lease; the
   * lease was released so a later tick (here or on another node) tries again.
   */
  onStartFailed?(owner: SessionOwner, error: unknown): void;
  /** What the session announced is stored before its lease is given up (RegistryOptions.beforeRelease). */
  beforeRelease?(): Promise<void>;
}

/**
 * How long a release waits for the session's announced events to be stored: a database
 * that refuses them must not hold a hand-over or a shutdown (they are then refused, and
 * the next owner speaks for the session).
 */
const eventsStoredWaitMs = 2_000;

export type RestoreOutcome = 'started' | 'idle' | 'elsewhere' | 'gone';

export class SessionOwner {
  readonly facts: SessionFacts;
  /** The open credentials of the current actor, opened under `authLease` (see authFor). */
  private auth: SessionAuthState | null = null;
  private authLease: Lease | null = null;
  /** The live Baileys socket of the current actor, for pairing codes. */
  private socket: WASocket | null = null;

  private meta: SessionMeta;
  /**
   * Whether `meta` is the stored metadata (read, written, or given at create) rather than
   * the default a folder just listed starts with: only then does the view say the session
   * is meant to run while nobody runs it ("awaiting an owner").
   */
  private metaKnown: boolean;
  private lease: Lease | null = null;
  private elsewhere: string | null = null;
  private actor: Actor<SessionMachine> | null = null;
  /** Settles once an ended actor's writes are flushed and its termination recorded; never rejects. */
  private released: Promise<void> = Promise.resolve();
  private wiping: Promise<void> | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  /** What the node running it last announced (see remoteStatus). */
  private remote: { node: string; status: RemoteStatus } | null = null;
  /** Operations queued or running: while any is, this process is changing the session and its view is the truth. */
  private inFlight = 0;
  /** Stored state found damaged: the session is listed with it and not started until it reads well again. */
  private fault: SessionFault | null = null;
  /** The view as last announced (and its JSON, to compare with): the one `before` of every change. */
  private announced: { view: SessionView; json: string } | null = null;
  /** The last non-null owner announced (see SessionChange.previousOwner). */
  private lastHolder: string | null = null;

  /** The last holder the session's announced views named, kept through a lease between holders. */
  get lastOwner(): string | null {
    return this.lastHolder;
  }

  constructor(
    readonly key: SessionKey,
    private readonly env: OwnerEnvironment,
    meta?: SessionMeta,
  ) {
    this.meta = meta ?? newMeta(key);
    this.metaKnown = meta !== undefined;
    this.facts = new SessionFacts(env.counters);
  }

  /** The lease this process holds on the session, if any. */
  get heldLease(): Lease | null {
    return this.lease;
  }

  get ownedElsewhere(): boolean {
    return this.lease === null && this.elsewhere !== null;
  }

  view(): SessionView {
    const owner = this.lease ? this.lease.holder : this.elsewhere;
    const remote = this.ownedElsewhere && this.remote?.node === this.elsewhere ? this.remote.status : null;
    return toSessionView(
      { key: this.key, meta: this.meta, metaKnown: this.metaKnown, facts: this.facts, owner, ownedElsewhere: this.ownedElsewhere, fault: this.fault, remote },
      this.actor?.getSnapshot() ?? null,
    );
  }

  /**
   * The node running the session announced its state (a session.status event from the cluster's
   * outbox): shown here as that node's, so any node's console and list show it live. Ignored
   * while this process holds the session (its own actor speaks then).
   */
  remoteStatus(node: string, status: RemoteStatus): void {
    // Only from the owner placement found: events and lease news travel apart, and a late event of
    // the previous owner must not point this node (its forwards, its view) back at it.
    if (this.lease || this.elsewhere !== node) return;
    this.remote = { node, status };
    this.announce();
  }

  /**
   * Announces the view if it differs from the one announced last. Called wherever the
   * view may have changed — every actor snapshot, the end of every operation (metadata
   * writes, a lease taken, an actor retired) and every lease news — so no change is
   * left for a listener to find by polling.
   */
  announce(): void {
    const after = this.view();
    const json = viewJson(after);
    const before = this.announced;
    if (before?.json === json) return;
    this.announced = { view: after, json };
    const previousOwner = this.lastHolder;
    if (after.owner !== null) this.lastHolder = after.owner;
    this.env.onChange(this, { key: this.key, before: before?.view ?? null, after, previousOwner });
  }

  /**
   * The credentials a connection attempt of `session` may use: only the current actor's,
   * and only while the lease they were opened under is still held. A stranded actor (or
   * a reconnect after the lease moved) gets none, so it can never write under a newer epoch.
   */
  authFor(session: AnyActorRef | undefined): SessionAuthState | null {
    if (!session || session !== this.actor || this.lease === null || this.authLease !== this.lease) return null;
    return this.auth;
  }

  /** A connection attempt of `session` reports its socket (null when it goes); other actors' sockets are ignored. */
  attachSocket(session: AnyActorRef | undefined, socket: WASocket | null): void {
    if (socket === null) {
      if (session === this.socketOf) this.socket = null;
      return;
    }
    if (!session || session !== this.actor) return;
    this.socket = socket;
    this.socketOf = session;
  }

  private socketOf: AnyActorRef | null = null;

  /** The current actor's live socket, if any (messages are written to it). */
  get liveSocket(): WASocket | null {
    return this.socket;
  }

  /**
   * Runs `operation` after every operation queued before it. Once the service is
   * closing, an operation still waiting for its turn is cancelled (ERR_SHUTTING_DOWN)
   * instead of delaying the hand-over; `always` operations (the shutdown itself) run.
   * An operation that `starts` the session and fails gives up a lease it cannot use.
   */
  private enqueue<T>(operation: () => Promise<T>, options: { always?: boolean; starts?: boolean } = {}): Promise<T> {
    const run = async () => {
      if (!options.always && this.env.closing.aborted) throw new SessionError('ERR_SHUTTING_DOWN', 'the service is shutting down');
      try {
        return await operation();
      } catch (error) {
        if (options.starts) await this.releaseIfStranded(error);
        throw error;
      } finally {
        // What the operation changed without a new snapshot (metadata, the lease, a retired actor).
        this.announce();
      }
    };
    this.inFlight += 1;
    const next = this.queue.then(run, run).finally(() => {
      this.inFlight -= 1;
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  /**
   * The view, with the stored metadata read again (and not kept) when this process neither
   * holds nor is changing the session: on a cluster, what it read when it first listed the
   * session (a create under way elsewhere, say) may since have changed on the node that ran it.
   * Nothing is written and nothing here changes: a read that raced an operation would otherwise
   * hand that operation stale metadata.
   */
  async storedView(): Promise<SessionView> {
    if (this.lease || this.actor || this.inFlight > 0) return this.view();
    const stored = await this.env.store.readMeta(this.key).catch(() => null);
    if (!stored || this.lease || this.actor || this.inFlight > 0) return this.view();
    return toSessionView(
      { key: this.key, meta: stored, metaKnown: true, facts: this.facts, owner: this.elsewhere, ownedElsewhere: this.ownedElsewhere, fault: this.fault },
      null,
    );
  }

  /**
   * A start failed (a read, the credentials, the store) after the lease was taken and
   * left the session held but not running: give the lease up, so nobody is locked out
   * of a session nobody runs; placement retries it (here or on another node).
   */
  private async releaseIfStranded(error: unknown): Promise<void> {
    const lease = this.lease;
    if (!lease || this.running() || error instanceof SessionError) return;
    this.lease = null;
    this.env.logger.error(
      { ...this.key, err: error instanceof Error ? error.message : String(error) },
      'Session could not start after taking its lease: lease released, it is retried on a later tick',
    );
    this.env.onStartFailed?.(this, error);
    this.announce();
    await this.eventsStored();
    await this.env.ownership.release(lease).catch((failure: unknown) => this.logFailure('Releasing the session lease failed', failure));
  }

  // ---- operations (each queued) ----

  /** Takes the session if nobody alive owns it, and runs it if it should run. */
  restore(): Promise<RestoreOutcome> {
    return this.enqueue(async () => {
      if (this.lease) return this.running() ? 'started' : 'idle';
      // Nothing to run and no credentials to guard: a create under way (no metadata in a folder; a
      // row not yet told to run in the database), one that never finished, or an unpaired session
      // stopped. Not taken, so a creator's lease is never refused by a peer that adopted it idle.
      const stored = await this.readStoredMeta();
      if (stored) this.knowMeta(stored);
      // Damaged metadata says nothing about whether it should run: never guess, a person decides.
      if (this.metaDamaged) return 'idle';
      if (!stored?.shouldRun && !(await this.hasCredentialsFile())) return 'idle';
      // Credentials and no metadata (a Baileys folder dropped in): it runs, so the default metadata is the truth.
      if (!stored) this.metaKnown = true;
      const taken = await this.tryLease();
      if (taken === 'lost') return 'idle';
      if (taken !== 'acquired') return taken;
      if (this.metaDamaged || !this.meta.shouldRun) return 'idle';
      try {
        return (await this.spawn()) ? 'started' : 'idle';
      } catch (error) {
        // Damaged credentials: listed with the problem, never started, never replaced by new ones.
        if (error instanceof SessionError && error.code === 'ERR_CORRUPT_CREDENTIALS') return 'idle';
        throw error;
      }
    }, { starts: true });
  }

  /** A brand-new session: its folder was just made by the registry. */
  create(): Promise<SessionView> {
    return this.enqueue(async () => {
      const lease = await this.ensureLease();
      // A create means "run it": written as such, whatever a read of the half-made session (a
      // database row says shouldRun false until this write) left in memory meanwhile.
      await this.writeMeta(lease, { shouldRun: true, terminatedReason: null });
      await this.spawnOrRefuse();
      return this.view();
    }, { starts: true });
  }

  start(): Promise<SessionView> {
    return this.enqueue(() => this.startNow(), { starts: true });
  }

  /** Stops the session (credentials kept) and remembers it should stay stopped. */
  stop(): Promise<SessionView> {
    return this.enqueue(async () => {
      const lease = await this.ensureLease();
      await this.refuseCorrupt({ credentials: false });
      await this.writeMeta(lease, { shouldRun: false });
      await this.stopActor();
      return this.view();
    });
  }

  restart(): Promise<SessionView> {
    return this.enqueue(async () => {
      await this.ensureLease();
      await this.stopActor();
      return this.startNow();
    }, { starts: true });
  }

  /**
   * Unlinks the device and wipes the credentials. A session that is not connected
   * first tries to reach WhatsApp (up to logoutReachWaitMs) so the phone forgets the
   * device too; when it cannot, the device is forgotten here only, and says so.
   */
  logout(): Promise<SessionView> {
    return this.enqueue(() => this.logoutNow());
  }

  /** Stops the session and removes its folder; with `logout`, logs out first. */
  remove(options: { logout?: boolean } = {}): Promise<void> {
    return this.enqueue(async () => {
      if (options.logout) await this.logoutNow();
      const lease = await this.ensureLease();
      await this.stopActor();
      await this.env.store.remove(lease);
      this.lease = null;
      // Removed under this lease: its holder speaks for the removal, whatever views were announced before.
      this.lastHolder = lease.holder;
      this.env.onGone(this);
    });
  }

  /**
   * Runs `work` with the session's lease proven now, after every operation queued
   * before it (a restore under way included): what a message is accepted under.
   */
  withLease<T>(work: (lease: Lease, view: SessionView) => Promise<T>): Promise<T> {
    return this.enqueue(async () => {
      const lease = await this.ensureLease();
      return work(lease, this.view());
    });
  }

  /** Links by phone number instead of QR: only an unpaired session that is showing its QR. */
  requestPairingCode(phoneNumber: string): Promise<string> {
    return this.enqueue(async () => {
      await this.ensureLease();
      const snapshot = this.actor?.getSnapshot();
      const paired = Boolean(this.auth?.state.creds.me) || Boolean(snapshot?.context.me);
      if (!this.socket || !snapshot?.matches({ connecting: 'awaitingQr' }) || paired) {
        throw new SessionError('ERR_NOT_PAIRING', 'a pairing code is only for an unpaired session that is waiting for its QR');
      }
      // WhatsApp may take up to a minute to answer: a shutdown does not wait for it.
      return this.unlessClosing(this.socket.requestPairingCode(phoneNumber));
    });
  }

  /**
   * Stops the socket at once (not behind queued operations, which the closing signal
   * cancels), then, in the queue, flushes and gives the lease up (shouldRun kept).
   */
  shutdown(): Promise<void> {
    if (this.running()) this.actor!.send({ type: 'STOP', reason: 'shutdown' });
    return this.enqueue(() => this.handOverNow(), { always: true });
  }

  /**
   * Lets another node run the session: a clean stop (shouldRun kept), flushed writes, the lease
   * released. The ended actor is then retired: the session is not stopped, it waits for its next
   * owner, and its view says so (connecting.awaitingOwner) until that owner is seen.
   */
  handOver(): Promise<void> {
    return this.enqueue(async () => {
      await this.handOverNow('handedOver');
      this.retireActor();
    });
  }

  private async handOverNow(reason: StopReason = 'shutdown'): Promise<void> {
    await this.stopActor(reason);
    await this.eventsStored();
    const lease = this.lease;
    this.lease = null;
    if (lease) await this.env.ownership.release(lease).catch((error: unknown) => this.logFailure('Releasing the session lease failed', error));
  }

  // ---- not queued: what must happen at once ----

  /**
   * Another holder has the session now (or, `unproven`, this one cannot prove it still
   * does): stop the socket at once; nothing more is written (the store refuses).
   */
  leaseLost(newOwner: string | null = null, options: { unproven?: boolean } = {}): void {
    if (!this.lease) {
      // Nothing held, so nothing may run: whatever runs without a lease stops too.
      this.stopUnleased();
      return;
    }
    this.lease = null;
    this.elsewhere = options.unproven ? null : (newOwner ?? 'another process');
    if (!options.unproven) this.env.logger.warn({ ...this.key, owner: this.elsewhere }, 'Session lease lost: its socket is stopped');
    // Unproven: this process fenced itself; the session did not end by anyone's choice, and says so.
    if (!this.stopUnleased(options.unproven ? 'fenced' : 'stopped')) this.announce();
  }

  /** Another live holder was seen owning the session (placement). */
  seenElsewhere(owner: string): void {
    if (this.lease) return;
    this.stopUnleased();
    if (this.elsewhere === owner) return;
    this.elsewhere = owner;
    this.remote = null;
    this.announce();
  }

  /** A running actor without a lease is stopped at once (its socket with it); true when there was one. */
  private stopUnleased(reason: StopReason = 'stopped'): boolean {
    if (this.lease || !this.running()) return false;
    this.actor!.send({ type: 'STOP', reason });
    return true;
  }

  /** The fleet saw WhatsApp answer again: a session waiting out an outage connects now. */
  wake(): void {
    if (this.running()) this.actor!.send({ type: 'WAKE' });
  }

  /** A message written to the socket went unacknowledged: the session probes its link now. */
  suspectLink(): void {
    if (this.running()) this.actor!.send({ type: 'LINK.SUSPECT' });
  }

  /** The QR currently offered, or ERR_NO_QR. */
  pendingQr(): string {
    const qr = this.actor?.getSnapshot().context.qr;
    if (!qr) throw new SessionError('ERR_NO_QR', 'no QR code is pending for this session');
    return qr;
  }

  /** The machine's wipeCredentials action for this session. */
  wipeCredentials(): void {
    const auth = this.auth;
    this.wiping = auth ? auth.wipe() : null;
  }

  // ---- the steps operations are made of ----

  private running(): boolean {
    return this.actor?.getSnapshot().status === 'active';
  }

  private async startNow(): Promise<SessionView> {
    const lease = await this.ensureLease();
    if (this.running()) return this.view();
    await this.released;
    await this.refuseCorrupt({ credentials: true, lease });
    if (!this.meta.shouldRun || this.meta.terminatedReason) await this.writeMeta(lease, { shouldRun: true, terminatedReason: null });
    await this.spawnOrRefuse();
    return this.view();
  }

  private async logoutNow(): Promise<SessionView> {
    const lease = await this.ensureLease();
    await this.refuseCorrupt({ credentials: false });
    const paired = await this.hasPairedCredentials(lease);
    if (!this.running() && paired) await this.spawnOrRefuse();
    let reached = false;
    if (this.running()) {
      // The unlink reaches the phone only through a connected socket; the machine wipes either way.
      reached = paired && (await this.untilConnected());
      this.actor!.send({ type: 'LOGOUT' });
      await this.stopActor();
    } else {
      const auth = await this.openAuth(lease);
      await auth.wipe();
      await this.writeMeta(lease, { shouldRun: false, terminatedReason: 'loggedOut' });
      this.retireActor();
    }
    if (paired && !reached) {
      this.env.logger.warn({ ...this.key }, 'Logged out without reaching WhatsApp: the device is forgotten here; remove it under Linked devices on the phone');
    }
    return this.view();
  }

  /**
   * Waits until the actor is connected (so LOGOUT reaches the phone), has ended, the
   * wait runs out, or shutdown begins. True when connected.
   */
  private async untilConnected(): Promise<boolean> {
    const actor = this.actor!;
    const settled = (s: SnapshotFrom<SessionMachine>) => s.context.connected !== null || s.status !== 'active';
    if (!settled(actor.getSnapshot())) {
      if (actor.getSnapshot().matches('backingOff')) actor.send({ type: 'RECONNECT' });
      await this.until(actor, settled, logoutReachWaitMs);
    }
    const now = actor.getSnapshot();
    return now.status === 'active' && now.context.connected !== null;
  }

  /** `work`, or ERR_SHUTTING_DOWN as soon as the service starts closing. */
  private unlessClosing<T>(work: Promise<T>): Promise<T> {
    const closing = this.env.closing;
    if (closing.aborted) return Promise.reject(new SessionError('ERR_SHUTTING_DOWN', 'the service is shutting down'));
    let onAbort: () => void = () => undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(new SessionError('ERR_SHUTTING_DOWN', 'the service is shutting down'));
      closing.addEventListener('abort', onAbort, { once: true });
    });
    return Promise.race([work, aborted]).finally(() => closing.removeEventListener('abort', onAbort));
  }

  private until(actor: Actor<SessionMachine>, check: (s: SnapshotFrom<SessionMachine>) => boolean, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        subscription.unsubscribe();
        this.env.closing.removeEventListener('abort', finish);
        resolve();
      };
      const timer = setTimeout(finish, timeoutMs);
      const subscription = actor.subscribe((s) => check(s) && finish());
      this.env.closing.addEventListener('abort', finish);
    });
  }

  /** The lease, proven now: kept if still ours, else acquired if free; otherwise ERR_OWNED_ELSEWHERE or ERR_NOT_FOUND. */
  private async ensureLease(): Promise<Lease> {
    if (this.lease) {
      try {
        await this.env.ownership.confirm(this.lease);
        return this.lease;
      } catch (error) {
        if (!(error instanceof LeaseLostError)) throw error;
        this.leaseLost();
      }
    }
    const taken = await this.tryLease();
    if (taken === 'gone') throw new SessionError('ERR_NOT_FOUND', `no session ${keyString(this.key)}`);
    if (taken === 'lost') throw new SessionError('ERR_OWNED_ELSEWHERE', `session ${keyString(this.key)} changed hands while it was being taken`, this.elsewhere ?? undefined);
    if (taken === 'elsewhere') {
      throw new SessionError('ERR_OWNED_ELSEWHERE', `session ${keyString(this.key)} is owned by ${this.elsewhere}`, this.elsewhere ?? undefined);
    }
    return this.lease!;
  }

  private async tryLease(): Promise<'acquired' | 'elsewhere' | 'gone' | 'lost'> {
    const result = await this.env.ownership.acquire(this.key);
    if (result.acquired) {
      const lease = result.lease;
      this.lease = lease;
      this.elsewhere = null;
      // Another process may have changed the session while it owned it.
      const stored = await this.readStoredMeta();
      // Fenced or lost while reading: the lease is no longer a fact.
      if (this.lease !== lease) return 'lost';
      if (stored) this.knowMeta(stored);
      return 'acquired';
    }
    if ('gone' in result) {
      this.env.onGone(this);
      return 'gone';
    }
    this.seenElsewhere(result.owner);
    return 'elsewhere';
  }

  /** spawn, for an operation: a lease lost on the way is the caller's error (ERR_OWNED_ELSEWHERE). */
  private async spawnOrRefuse(): Promise<void> {
    if (await this.spawn()) return;
    if (this.env.closing.aborted) throw new SessionError('ERR_SHUTTING_DOWN', 'the service is shutting down');
    throw new SessionError('ERR_OWNED_ELSEWHERE', `session ${keyString(this.key)} changed hands while it was starting`, this.elsewhere ?? undefined);
  }

  /**
   * Starts an actor under the lease held now. The lease is a fact only at the instant it
   * is checked: after every await on the way to the socket it is checked again, and
   * proven with the store just before the actor starts. False when it was lost on the
   * way (or the service began closing): no actor, no socket.
   */
  private async spawn(): Promise<boolean> {
    const lease = this.lease;
    if (!lease) return false;
    const held = () => this.lease === lease && !this.env.closing.aborted;
    // Whatever ran before ends first: never two actors, never one dropped while running.
    await this.stopActor();
    if (!held()) return false;
    this.retireActor();
    const auth = await this.openAuth(lease, (error) => this.refused(lease, error));
    if (!held()) return false;
    try {
      await this.env.ownership.confirm(lease);
    } catch (error) {
      if (!(error instanceof LeaseLostError)) throw error;
      const owner = await this.env.ownership.liveOwner(this.key).catch(() => null);
      if (this.lease === lease) this.leaseLost(owner);
      return false;
    }
    if (!held()) return false;
    this.auth = auth;
    this.authLease = lease;
    const { key, env } = this;
    const inspect = env.inspect;
    const actor = createActor(env.machine, {
      input: { ...key, policy: env.policy },
      ...(inspect ? { inspect: (event: InspectionEvent) => inspect(key, event) } : {}),
    });
    this.actor = actor;
    let last: SnapshotFrom<SessionMachine> | null = null;
    actor.subscribe({
      next: (snapshot) => {
        if (this.actor !== actor) return;
        const news = this.facts.observe(last, snapshot);
        last = snapshot;
        if (snapshot.status === 'done') this.released = this.finish(snapshot, lease);
        if (news) env.onSnapshot(this, snapshot);
        this.announce();
      },
      error: (error) => env.logger.error({ ...key, err: error }, 'Session actor failed'),
    });
    actor.start();
    return true;
  }

  /** A write was refused because the lease is gone: stop at once. */
  private refused(lease: Lease, error: unknown): void {
    if (error instanceof LeaseLostError && this.lease === lease) this.leaseLost();
  }

  /**
   * An actor ended: wait for its credential writes, then record why it ended. A session
   * that ended on its own stays down after a restart with its reason (logged out,
   * replaced…), except maxAttempts, which a restart retries. A STOP writes nothing: an
   * operator's stop already wrote shouldRun false, and a shutdown's must leave it true.
   */
  private async finish(snapshot: SnapshotFrom<SessionMachine>, lease: Lease): Promise<void> {
    await this.wiping?.catch((error: unknown) => this.logFailure('Wiping credentials failed', error));
    this.wiping = null;
    await this.auth?.flush().catch((error: unknown) => this.logFailure('Flushing credential writes failed', error));
    const reason = snapshot.context.terminatedReason;
    if (reason === 'stopped' || reason === null || isServiceStop(reason) || this.lease !== lease) return;
    await this.writeMeta(lease, { shouldRun: reason === 'maxAttempts', terminatedReason: reason }).catch((error: unknown) =>
      this.logFailure('Writing session.json failed', error),
    );
  }

  /** Waits (bounded) until the session's announced events are stored, while the lease still names this node. */
  private async eventsStored(): Promise<void> {
    if (!this.env.beforeRelease) return;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, eventsStoredWaitMs)));
    await Promise.race([this.env.beforeRelease().catch(() => undefined), late]);
    clearTimeout(timer);
  }

  private async stopActor(reason?: StopReason): Promise<void> {
    if (this.running()) this.actor!.send(reason ? { type: 'STOP', reason } : { type: 'STOP' });
    await this.released;
  }

  private async writeMeta(lease: Lease, change: Partial<SessionMeta>): Promise<void> {
    const meta = { ...this.meta, ...change };
    await this.env.store.writeMeta(lease, meta);
    this.knowMeta(meta);
  }

  private knowMeta(meta: SessionMeta): void {
    this.meta = meta;
    this.metaKnown = true;
  }

  /** Reads the stored metadata without taking the session (a session listed for placement to decide on), so its view says whether it is meant to run. */
  readMeta(): Promise<void> {
    return this.enqueue(async () => {
      const stored = await this.readStoredMeta();
      if (stored) this.knowMeta(stored);
    });
  }

  /** Whether the session holds a linked device (a running actor's credentials, or those on disk). */
  private async hasPairedCredentials(lease: Lease): Promise<boolean> {
    const auth = this.running() && this.auth ? this.auth : await this.openAuth(lease);
    return Boolean(auth.state.creds.me);
  }

  // ---- damaged stored state ----

  /** The stored metadata was found damaged on its last read (a getter: every read may change it). */
  private get metaDamaged(): boolean {
    return this.fault?.code === 'corrupt_meta';
  }

  /** The stored metadata (null: none); damage is recorded as the session's fault and read as none. */
  private async readStoredMeta(): Promise<SessionMeta | null> {
    try {
      const meta = await this.env.store.readMeta(this.key);
      if (this.fault?.code === 'corrupt_meta') this.fault = null;
      return meta;
    } catch (error) {
      if (!isCorruptMeta(error)) throw error;
      this.setFault({ code: 'corrupt_meta', message: error.message });
      return null;
    }
  }

  /** The credentials; damaged ones are recorded as the session's fault and refused (409), never replaced by new ones. */
  private async openAuth(lease: Lease, onRefused?: (error: unknown) => void): Promise<SessionAuthState> {
    try {
      const auth = await this.env.store.openAuthState(lease, onRefused);
      if (this.fault?.code === 'corrupt_credentials') this.fault = null;
      return auth;
    } catch (error) {
      if (!isCorruptCredentials(error)) throw error;
      this.setFault({ code: 'corrupt_credentials', message: error.message });
      throw new SessionError('ERR_CORRUPT_CREDENTIALS', `${keyString(this.key)}: ${error.message}; restore the file from a backup, or delete the session and pair again`);
    }
  }

  /**
   * Refuses an operation on a damaged session (409 naming the problem), after looking
   * again: a file a person has repaired since is read, and the session is whole again.
   */
  private async refuseCorrupt(options: { credentials: boolean; lease?: Lease }): Promise<void> {
    if (this.fault?.code === 'corrupt_meta') {
      const stored = await this.readStoredMeta();
      if (stored) this.knowMeta(stored);
      if (this.fault?.code === 'corrupt_meta') {
        throw new SessionError('ERR_CORRUPT_META', `${keyString(this.key)}: ${this.fault.message}; repair the file, or delete the session`);
      }
    }
    if (options.credentials && options.lease && !this.running()) await this.openAuth(options.lease);
  }

  private setFault(fault: SessionFault): void {
    const news = this.fault?.code !== fault.code || this.fault.message !== fault.message;
    this.fault = fault;
    // An ended actor's view (stopped…) would hide the damage: the metadata and the fault speak now.
    if (!this.running()) this.retireActor();
    if (!news) return;
    this.env.logger.warn({ ...this.key, fault: fault.code, problem: fault.message }, 'Session not started: its stored state is damaged');
    this.announce();
  }

  /** The ended actor's view gives way to the metadata (an operation changed the session without one). */
  private retireActor(): void {
    // A running actor is never dropped: it would keep its socket with nobody to stop it.
    if (this.running()) this.actor!.send({ type: 'STOP' });
    const ended = this.actor?.getSnapshot();
    if (ended) this.facts.carryOver(ended);
    this.actor = null;
  }

  private hasCredentialsFile(): Promise<boolean> {
    return this.env.store.hasCredentials(this.key);
  }

  private logFailure(message: string, error: unknown): void {
    this.env.logger.error({ ...this.key, err: error instanceof Error ? error.message : String(error) }, message);
  }
}

export function newMeta(key: SessionKey, shouldRun = true): SessionMeta {
  return { ...key, createdAt: new Date().toISOString(), shouldRun, terminatedReason: null };
}
