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
import { createActor, type Actor, type InspectionEvent, type SnapshotFrom } from 'xstate';
import type { SessionMachine } from '../../machines/session.machine.js';
import type { SessionPolicy } from '../../machines/session.policy.js';
import type { Logger } from '../logging/logger.js';
import { LeaseLostError, type Lease, type Ownership } from '../store/ownership.js';
import { keyString, type SessionKey } from '../store/session-key.js';
import type { SessionAuthState, SessionMeta, SessionStore } from '../store/session-store.js';
import { SessionError } from './session-error.js';
import { SessionFacts, type FleetCounters } from './session-facts.js';
import { toSessionView, type SessionView } from './session-view.js';

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
  /** A state change or a disconnect worth telling listeners about. */
  onNews(owner: SessionOwner, snapshot: SnapshotFrom<SessionMachine> | null): void;
  /** The session's folder is gone (deleted here or by its owner elsewhere). */
  onGone(owner: SessionOwner): void;
  /** Aborted when the service starts shutting down: long waits inside operations end early. */
  closing: AbortSignal;
}

export type RestoreOutcome = 'started' | 'idle' | 'elsewhere' | 'gone';

export class SessionOwner {
  readonly facts: SessionFacts;
  /** The open credentials of the running actor (read by the connection actor). */
  auth: SessionAuthState | null = null;
  /** The live Baileys socket, for pairing codes. */
  socket: WASocket | null = null;

  private meta: SessionMeta;
  private lease: Lease | null = null;
  private elsewhere: string | null = null;
  private actor: Actor<SessionMachine> | null = null;
  /** Settles once an ended actor's writes are flushed and its termination recorded; never rejects. */
  private released: Promise<void> = Promise.resolve();
  private wiping: Promise<void> | null = null;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly key: SessionKey,
    private readonly env: OwnerEnvironment,
    meta?: SessionMeta,
  ) {
    this.meta = meta ?? newMeta(key);
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
    return toSessionView({ key: this.key, meta: this.meta, facts: this.facts, owner, ownedElsewhere: this.ownedElsewhere }, this.actor?.getSnapshot() ?? null);
  }

  /** Runs `operation` after every operation queued before it. */
  private enqueue<T>(operation: () => Promise<T>): Promise<T> {
    const next = this.queue.then(operation, operation);
    this.queue = next.catch(() => undefined);
    return next;
  }

  // ---- operations (each queued) ----

  /** Takes the session if nobody alive owns it, and runs it if it should run. */
  restore(): Promise<RestoreOutcome> {
    return this.enqueue(async () => {
      if (this.lease) return this.running() ? 'started' : 'idle';
      const taken = await this.tryLease();
      if (taken !== 'acquired') return taken;
      const stored = await this.env.store.readMeta(this.key);
      // A folder with neither metadata nor credentials is a create that never finished: nothing to run.
      if (!stored && !(await this.hasCredentialsFile())) return 'idle';
      this.meta = stored ?? this.meta;
      if (!this.meta.shouldRun) return 'idle';
      await this.spawn();
      return 'started';
    });
  }

  /** A brand-new session: its folder was just made by the registry. */
  create(): Promise<SessionView> {
    return this.enqueue(async () => {
      const lease = await this.ensureLease();
      await this.env.store.writeMeta(lease, this.meta);
      await this.spawn();
      return this.view();
    });
  }

  start(): Promise<SessionView> {
    return this.enqueue(() => this.startNow());
  }

  /** Stops the session (credentials kept) and remembers it should stay stopped. */
  stop(): Promise<SessionView> {
    return this.enqueue(async () => {
      const lease = await this.ensureLease();
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
    });
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
      this.env.onGone(this);
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
      return this.socket.requestPairingCode(phoneNumber);
    });
  }

  /** Stops the actor without logging out (shouldRun kept), flushes, and gives the lease up. */
  shutdown(): Promise<void> {
    return this.handOver();
  }

  /** Lets another node run the session: a clean stop (shouldRun kept), flushed writes, the lease released. */
  handOver(): Promise<void> {
    return this.enqueue(async () => {
      await this.stopActor();
      const lease = this.lease;
      this.lease = null;
      if (lease) await this.env.ownership.release(lease).catch((error: unknown) => this.logFailure('Releasing the session lease failed', error));
    });
  }

  // ---- not queued: what must happen at once ----

  /**
   * Another holder has the session now (or, `unproven`, this one cannot prove it still
   * does): stop the socket at once; nothing more is written (the store refuses).
   */
  leaseLost(newOwner: string | null = null, options: { unproven?: boolean } = {}): void {
    if (!this.lease) return;
    this.lease = null;
    this.elsewhere = options.unproven ? null : (newOwner ?? 'another process');
    if (!options.unproven) this.env.logger.warn({ ...this.key, owner: this.elsewhere }, 'Session lease lost: its socket is stopped');
    if (this.running()) this.actor!.send({ type: 'STOP' });
    else this.env.onNews(this, null);
  }

  /** Another live holder was seen owning the session (placement). */
  seenElsewhere(owner: string): void {
    if (this.lease || this.elsewhere === owner) return;
    this.elsewhere = owner;
    this.env.onNews(this, null);
  }

  /** The fleet saw WhatsApp answer again: a session waiting out an outage connects now. */
  wake(): void {
    if (this.running()) this.actor!.send({ type: 'WAKE' });
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
    if (!this.meta.shouldRun || this.meta.terminatedReason) await this.writeMeta(lease, { shouldRun: true, terminatedReason: null });
    await this.spawn();
    return this.view();
  }

  private async logoutNow(): Promise<SessionView> {
    const lease = await this.ensureLease();
    const paired = await this.hasPairedCredentials(lease);
    if (!this.running() && paired) await this.spawn();
    let reached = false;
    if (this.running()) {
      // The unlink reaches the phone only through a connected socket; the machine wipes either way.
      reached = paired && (await this.untilConnected());
      this.actor!.send({ type: 'LOGOUT' });
      await this.stopActor();
    } else {
      const auth = await this.env.store.openAuthState(lease);
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
    if (taken === 'elsewhere') {
      throw new SessionError('ERR_OWNED_ELSEWHERE', `session ${keyString(this.key)} is owned by ${this.elsewhere}`, this.elsewhere ?? undefined);
    }
    return this.lease!;
  }

  private async tryLease(): Promise<'acquired' | 'elsewhere' | 'gone'> {
    const result = await this.env.ownership.acquire(this.key);
    if (result.acquired) {
      this.lease = result.lease;
      this.elsewhere = null;
      // Another process may have changed the session while it owned it.
      this.meta = (await this.env.store.readMeta(this.key)) ?? this.meta;
      return 'acquired';
    }
    if ('gone' in result) {
      this.env.onGone(this);
      return 'gone';
    }
    this.seenElsewhere(result.owner);
    return 'elsewhere';
  }

  private async spawn(): Promise<void> {
    const lease = this.lease!;
    await this.released;
    this.retireActor();
    this.auth = await this.env.store.openAuthState(lease, (error) => this.refused(lease, error));
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
        if (news) env.onNews(this, snapshot);
      },
      error: (error) => env.logger.error({ ...key, err: error }, 'Session actor failed'),
    });
    actor.start();
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
    if (reason === 'stopped' || reason === null || this.lease !== lease) return;
    await this.writeMeta(lease, { shouldRun: reason === 'maxAttempts', terminatedReason: reason }).catch((error: unknown) =>
      this.logFailure('Writing session.json failed', error),
    );
  }

  private async stopActor(): Promise<void> {
    if (this.running()) this.actor!.send({ type: 'STOP' });
    await this.released;
  }

  private async writeMeta(lease: Lease, change: Partial<SessionMeta>): Promise<void> {
    const meta = { ...this.meta, ...change };
    await this.env.store.writeMeta(lease, meta);
    this.meta = meta;
  }

  /** Whether the session holds a linked device (a running actor's credentials, or those on disk). */
  private async hasPairedCredentials(lease: Lease): Promise<boolean> {
    const auth = this.running() && this.auth ? this.auth : await this.env.store.openAuthState(lease);
    return Boolean(auth.state.creds.me);
  }

  /** The ended actor's view gives way to the metadata (an operation changed the session without one). */
  private retireActor(): void {
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
