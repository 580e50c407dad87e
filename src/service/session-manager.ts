/**
 * The session manager: one session actor per (userId, sessionId), created,
 * started, stopped, restarted, logged out and deleted on request, restored
 * on boot, and all stopped cleanly on shutdown.
 *
 * Data flows one way: actor snapshots → SessionView (what the API, the
 * metrics, the SSE stream and the inspector show).
 */
import { EventEmitter } from 'node:events';
import type { WASocket } from '@whiskeysockets/baileys';
import { createActor, type Actor, type AnyActorLogic, type InspectionEvent, type SnapshotFrom } from 'xstate';
import { sessionMachine, type SessionMachine } from '../../machines/session.machine.js';
import type { SessionPolicy } from '../../machines/session.policy.js';
import type { LevelWithSilent } from 'pino';
import type { Logger } from '../logging/logger.js';
import { sessionLogWriter } from '../logging/session-log.js';
import type { FileAuthState } from '../store/file-auth-state.js';
import { checkedSessionKey, keyString, type SessionKey } from '../store/session-key.js';
import type { SessionLock } from '../store/session-lock.js';
import type { SessionMeta, SessionStore } from '../store/session-store.js';
import { createConnectionLogic, defaultStaleLinkAfterMs } from '../whatsapp/connection.actor.js';
import type { WhatsAppSocketOptions } from '../whatsapp/socket-options.js';
import { ConnectAdmission } from './admission.js';
import { statePath, toSessionView, type SessionView } from './session-view.js';

export type TopLevelState = 'connecting' | 'open' | 'degraded' | 'backingOff' | 'terminated';

export interface SessionManagerOptions {
  store: SessionStore;
  logger: Logger;
  /** Overrides of the session policy for every session. */
  policy?: Partial<SessionPolicy>;
  socketOptions: WhatsAppSocketOptions;
  /** Baileys' own log level (it is chatty). Default 'error'. */
  baileysLogLevel?: LevelWithSilent;
  /** See ConnectionDependencies.staleLinkAfterMs; default defaultStaleLinkAfterMs (Baileys' keep-alive + 5 s). */
  staleLinkAfterMs?: number;
  /** Connection attempts allowed in their handshake at once. Default 8. */
  maxConcurrentConnects?: number;
  /** Replace the Baileys connection (tests, benchmarks). */
  connectionLogic?: AnyActorLogic;
  /** Receives every session actor's inspection events (the inspector). */
  inspect?: (key: SessionKey, event: InspectionEvent) => void;
}

export class ManagerError extends Error {
  constructor(
    readonly code: 'ERR_NOT_FOUND' | 'ERR_EXISTS' | 'ERR_LOCKED' | 'ERR_NO_QR' | 'ERR_NOT_PAIRING',
    message: string,
  ) {
    super(message);
  }
}

interface ManagedSession {
  key: SessionKey;
  meta: SessionMeta;
  actor: Actor<SessionMachine> | null;
  auth: FileAuthState | null;
  lock: SessionLock | null;
  socket: WASocket | null;
  /** When the current connected period began. */
  openSince: Date | null;
  nextRetryAt: Date | null;
  lastDisconnectAt: Date | null;
  /** Reconnects of earlier actors of this session (this process). */
  earlierReconnects: number;
  /** Resolves once a terminated actor's writes are flushed and its lock released. */
  released: Promise<void>;
  /** A credential wipe under way (after a logout). */
  wiping: Promise<void> | null;
  /** A start under way. */
  starting: Promise<SessionView> | null;
}

/** Counters behind /metrics. */
export interface ManagerCounters {
  reconnectAttempts: number;
  closesByStatusCode: Map<string, number>;
}

export class SessionManager extends EventEmitter {
  readonly counters: ManagerCounters = { reconnectAttempts: 0, closesByStatusCode: new Map() };
  readonly admission: ConnectAdmission;
  private readonly sessions = new Map<string, ManagedSession>();
  private readonly connection: AnyActorLogic;
  /** Every session's `log` action: its records go to the service logger. */
  private readonly writeLog: ReturnType<typeof sessionLogWriter>;

  constructor(private readonly options: SessionManagerOptions) {
    super();
    this.admission = new ConnectAdmission(options.maxConcurrentConnects ?? 8);
    this.writeLog = sessionLogWriter(options.logger);
    this.connection =
      options.connectionLogic ??
      createConnectionLogic({
        openAuthState: async (userId, sessionId) => {
          const managed = this.sessions.get(keyString({ userId, sessionId }));
          if (!managed?.auth) throw new Error('session has no open credentials');
          return managed.auth;
        },
        socketOptions: options.socketOptions,
        baileysLogger: options.logger.child({ component: 'baileys' }, { level: options.baileysLogLevel ?? 'error' }),
        staleLinkAfterMs: options.staleLinkAfterMs ?? defaultStaleLinkAfterMs(options.socketOptions),
        admission: this.admission,
        onSocket: (userId, sessionId, socket) => {
          const managed = this.sessions.get(keyString({ userId, sessionId }));
          if (managed) managed.socket = socket;
        },
      });
  }

  /** Loads every session folder; starts those that were running. Returns how many started. */
  async restore(): Promise<number> {
    let started = 0;
    for (const key of await this.options.store.list()) {
      const meta = (await this.options.store.readMeta(key)) ?? newMeta(key, true);
      this.sessions.set(keyString(key), blankSession(key, meta));
      if (!meta.shouldRun) continue;
      try {
        await this.run(this.find(key.userId, key.sessionId));
        started += 1;
      } catch (error) {
        this.options.logger.warn({ ...key, err: error instanceof Error ? error.message : String(error) }, 'Session not restored');
      }
    }
    return started;
  }

  async create(userId: unknown, sessionId: unknown = 'default'): Promise<SessionView> {
    const key = checkedSessionKey(userId, sessionId);
    if (this.sessions.has(keyString(key))) throw new ManagerError('ERR_EXISTS', `session ${keyString(key)} already exists`);
    // Claimed before the first await, so a concurrent create of the same id gets 409.
    const managed = blankSession(key, newMeta(key, true));
    this.sessions.set(keyString(key), managed);
    try {
      await this.options.store.writeMeta(managed.meta);
    } catch (error) {
      this.sessions.delete(keyString(key));
      throw error;
    }
    return this.run(managed);
  }

  list(): SessionView[] {
    return [...this.sessions.values()].map((s) => this.view(s));
  }

  get(userId: unknown, sessionId: unknown): SessionView {
    return this.view(this.find(userId, sessionId));
  }

  /** Starts the session's actor unless one is already running. */
  start(userId: unknown, sessionId: unknown): Promise<SessionView> {
    return this.run(this.find(userId, sessionId));
  }

  /** One start at a time per session: two concurrent requests must not make two actors. */
  private run(managed: ManagedSession): Promise<SessionView> {
    managed.starting ??= this.spawnWhenStopped(managed).finally(() => {
      managed.starting = null;
    });
    return managed.starting;
  }

  private async spawnWhenStopped(managed: ManagedSession): Promise<SessionView> {
    if (managed.actor && managed.actor.getSnapshot().status === 'active') return this.view(managed);
    await managed.released;
    const { store } = this.options;
    await store.ensureFolder(managed.key);
    managed.lock ??= await store.lock(managed.key).catch((error: unknown) => {
      throw new ManagerError('ERR_LOCKED', error instanceof Error ? error.message : String(error));
    });
    managed.auth = await store.openAuthState(managed.key);
    if (!managed.meta.shouldRun || managed.meta.terminatedReason) {
      managed.meta = { ...managed.meta, shouldRun: true, terminatedReason: null };
      await store.writeMeta(managed.meta);
    }
    if (managed.actor) managed.earlierReconnects += Math.max(0, managed.actor.getSnapshot().context.connectionCount - 1);
    managed.actor = this.spawnActor(managed);
    return this.view(managed);
  }

  /** Stops the session (credentials kept) and remembers it should stay stopped. */
  async stop(userId: unknown, sessionId: unknown): Promise<SessionView> {
    const managed = this.find(userId, sessionId);
    managed.meta = { ...managed.meta, shouldRun: false };
    await this.options.store.writeMeta(managed.meta);
    await this.stopActor(managed);
    return this.view(managed);
  }

  async restart(userId: unknown, sessionId: unknown): Promise<SessionView> {
    const managed = this.find(userId, sessionId);
    await this.stopActor(managed);
    return this.run(managed);
  }

  /** Unlinks the device (through the socket when there is one) and wipes credentials. */
  async logout(userId: unknown, sessionId: unknown): Promise<SessionView> {
    const managed = this.find(userId, sessionId);
    if (managed.actor?.getSnapshot().status === 'active') {
      managed.actor.send({ type: 'LOGOUT' });
      await this.settle(managed);
    } else {
      const auth = managed.auth ?? (await this.options.store.openAuthState(managed.key));
      await auth.wipe();
      managed.meta = { ...managed.meta, shouldRun: false, terminatedReason: 'loggedOut' };
      await this.options.store.writeMeta(managed.meta);
    }
    return this.view(managed);
  }

  async remove(userId: unknown, sessionId: unknown): Promise<void> {
    const managed = this.find(userId, sessionId);
    await this.stopActor(managed);
    this.sessions.delete(keyString(managed.key));
    // Listeners (the inspector's fleet feed) learn of removals as they learn of transitions.
    this.emit('removed', managed.key);
    await this.options.store.remove(managed.key);
  }

  /** The QR currently offered by a session, or ERR_NO_QR. */
  pendingQr(userId: unknown, sessionId: unknown): string {
    const qr = this.find(userId, sessionId).actor?.getSnapshot().context.qr;
    if (!qr) throw new ManagerError('ERR_NO_QR', 'no QR code is pending for this session');
    return qr;
  }

  /** Calls `listener` with the session's view on each of its transitions; returns the way to stop. */
  watch(userId: unknown, sessionId: unknown, listener: (view: SessionView) => void): () => void {
    const { key } = this.find(userId, sessionId);
    const onTransition = (view: SessionView) => {
      if (view.userId === key.userId && view.sessionId === key.sessionId) listener(view);
    };
    this.on('transition', onTransition);
    return () => this.off('transition', onTransition);
  }

  /** Links by phone number instead of QR (Baileys' requestPairingCode). */
  async requestPairingCode(userId: unknown, sessionId: unknown, phoneNumber: string): Promise<string> {
    const managed = this.find(userId, sessionId);
    const snapshot = managed.actor?.getSnapshot();
    if (!managed.socket || !snapshot?.matches('connecting') || snapshot.context.me) {
      throw new ManagerError('ERR_NOT_PAIRING', 'the session is not waiting to be linked');
    }
    return managed.socket.requestPairingCode(phoneNumber);
  }

  /** Stops every actor without logging out, keeps shouldRun, flushes writes, releases locks. */
  async shutdown(): Promise<void> {
    await Promise.all([...this.sessions.values()].map((s) => this.stopActor(s)));
  }

  private find(userId: unknown, sessionId: unknown): ManagedSession {
    const key = checkedSessionKey(userId, sessionId);
    const managed = this.sessions.get(keyString(key));
    if (!managed) throw new ManagerError('ERR_NOT_FOUND', `no session ${keyString(key)}`);
    return managed;
  }

  private spawnActor(managed: ManagedSession): Actor<SessionMachine> {
    const { key } = managed;
    const machine = sessionMachine.provide({
      actors: { connection: this.connection as never },
      actions: {
        log: this.writeLog,
        wipeCredentials: () => {
          managed.wiping = managed.auth?.wipe() ?? null;
        },
      },
    });
    const inspect = this.options.inspect;
    const actor = createActor(machine, {
      input: { ...key, policy: this.options.policy },
      ...(inspect ? { inspect: (event: InspectionEvent) => inspect(key, event) } : {}),
    });
    let previous: SnapshotFrom<SessionMachine> | null = null;
    actor.subscribe({
      next: (snapshot) => {
        this.track(managed, previous, snapshot);
        previous = snapshot;
      },
      error: (error) => this.options.logger.error({ ...key, err: error }, 'Session actor failed'),
    });
    actor.start();
    return actor;
  }

  /** Derives wall-clock facts and counters from one snapshot change. */
  private track(managed: ManagedSession, previous: SnapshotFrom<SessionMachine> | null, snapshot: SnapshotFrom<SessionMachine>): void {
    const now = new Date();
    const { context } = snapshot;
    if (context.connected && !previous?.context.connected) managed.openSince = now;
    if (!context.connected) managed.openSince = null;
    if (context.lastDisconnect && context.lastDisconnect !== previous?.context.lastDisconnect) {
      managed.lastDisconnectAt = now;
      const code = String(context.lastDisconnect.statusCode ?? 'none');
      this.counters.closesByStatusCode.set(code, (this.counters.closesByStatusCode.get(code) ?? 0) + 1);
    }
    if (!snapshot.matches('backingOff')) managed.nextRetryAt = null;
    else if (!previous?.matches('backingOff')) {
      this.counters.reconnectAttempts += 1;
      managed.nextRetryAt = new Date(now.getTime() + (context.retryDelayMs ?? 0));
    }
    if (snapshot.status === 'done') {
      managed.released = Promise.all([this.releaseResources(managed), this.recordTermination(managed, snapshot)]).then(
        () => undefined,
        (error: unknown) => this.options.logger.error({ ...managed.key, err: error }, 'Releasing a session failed'),
      );
    }
    // Timer ticks change the snapshot every few minutes per session; only a new
    // state or a new disconnect is news for listeners, so only then is a view built.
    const moved = !previous || statePath(snapshot.value) !== statePath(previous.value);
    if (moved || context.lastDisconnect !== previous?.context.lastDisconnect) this.emit('transition', this.view(managed));
  }

  /**
   * A session that ended on its own (logged out, replaced, out of attempts…) stays
   * down after a restart, with its reason. A STOP wrote nothing here: an operator's
   * stop() already set shouldRun false, and a shutdown's stop must leave it true.
   */
  private async recordTermination(managed: ManagedSession, snapshot: SnapshotFrom<SessionMachine>): Promise<void> {
    const reason = snapshot.context.terminatedReason;
    if (reason === 'stopped') return;
    managed.meta = { ...managed.meta, shouldRun: false, terminatedReason: reason };
    await this.options.store.writeMeta(managed.meta).catch(() => undefined);
  }

  private async stopActor(managed: ManagedSession): Promise<void> {
    const actor = managed.actor;
    if (actor?.getSnapshot().status === 'active') actor.send({ type: 'STOP' });
    await this.settle(managed);
  }

  /** Waits until the session's actor is done and its files and lock are let go. */
  private async settle(managed: ManagedSession): Promise<void> {
    await managed.released;
  }

  /** Flush the ended actor's writes, then let its lock go (taken now, so a restart's new lock is never the one released). */
  private async releaseResources(managed: ManagedSession): Promise<void> {
    const { auth, lock, wiping } = managed;
    managed.lock = null;
    await wiping;
    await auth?.flush();
    await lock?.release();
  }

  private view(managed: ManagedSession): SessionView {
    return toSessionView(managed, managed.actor?.getSnapshot() ?? null);
  }
}

function newMeta(key: SessionKey, shouldRun: boolean): SessionMeta {
  return { ...key, createdAt: new Date().toISOString(), shouldRun, terminatedReason: null };
}

function blankSession(key: SessionKey, meta: SessionMeta): ManagedSession {
  return {
    key,
    meta,
    actor: null,
    auth: null,
    lock: null,
    socket: null,
    openSince: null,
    nextRetryAt: null,
    lastDisconnectAt: null,
    earlierReconnects: 0,
    released: Promise.resolve(),
    wiping: null,
    starting: null,
  };
}
