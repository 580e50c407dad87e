/**
 * The lease is a fact only at the instant it is checked. These tests hold a start at
 * a gate (the credentials being opened, a create on disk, a flush) and move the lease
 * or begin a shutdown meanwhile, so every interleaving is played the same way on every
 * run. What a user would see is counted directly: live sockets (the real connection
 * actor, with a stand-in socket that records the credentials it was given), who holds
 * the lease on disk, and how long a shutdown takes.
 */
import { EventEmitter } from 'node:events';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AuthenticationState, WASocket } from '@whiskeysockets/baileys';
import { Registry as MetricsRegistry } from 'prom-client';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { AnyActorRef } from 'xstate';
import { createLogger } from '../../src/logging/logger.js';
import { registerOwnershipMetrics } from '../../src/metrics/ownership-metrics.js';
import { Placement } from '../../src/service/placement.js';
import { SessionRegistry } from '../../src/service/registry.js';
import { FileOwnership } from '../../src/store/files/file-ownership.js';
import { FileSessionStore } from '../../src/store/files/file-session-store.js';
import type { Lease } from '../../src/store/ownership.js';
import type { SessionKey } from '../../src/store/session-key.js';
import type { SessionAuthState, SessionMeta } from '../../src/store/session-store.js';
import { createConnectionLogic } from '../../src/whatsapp/connection.actor.js';
import { resolveSocketOptions } from '../../src/whatsapp/socket-options.js';
import { writeBaileysAuthFolder } from '../../fixtures/baileys-folder.js';
import { LogCapture, removeDir, tempSessionsDir } from '../support/service-harness.js';
import { waitUntil } from '../../fixtures/wait.js';

/** A gate a test opens when it has done what it wanted to do meanwhile. */
function gate() {
  let open!: () => void;
  let reached!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const arrived = new Promise<void>((resolve) => (reached = resolve));
  return { open, opened, arrived, reached };
}
type Gate = ReturnType<typeof gate>;

/** A file store with gates and injected failures, as a slow or failing disk (or database) would behave. */
class GatedStore extends FileSessionStore {
  openGate: Gate | null = null;
  createGate: Gate | null = null;
  flushGate: Gate | null = null;
  /** Fail this many openAuthState calls (EMFILE). */
  failOpens = 0;
  /** Fail the readMeta call with this number (1-based), as a database blip would. */
  failReadMetaCall = 0;
  private readMetaCalls = 0;
  /** Every credentials handle opened, with the epoch it was opened under. */
  readonly opened: { epoch: number; state: AuthenticationState }[] = [];

  override async openAuthState(lease: Lease, onRefused?: (error: unknown) => void): Promise<SessionAuthState> {
    if (this.failOpens > 0) {
      this.failOpens -= 1;
      throw new Error('EMFILE: too many open files');
    }
    const auth = await super.openAuthState(lease, onRefused);
    this.opened.push({ epoch: lease.epoch, state: auth.state });
    const pending = this.openGate;
    if (pending) {
      pending.reached();
      await pending.opened;
    }
    const flushGate = () => this.flushGate;
    return {
      ...auth,
      flush: async () => {
        const held = flushGate();
        if (held) {
          held.reached();
          await held.opened;
        }
        return auth.flush();
      },
    };
  }
  override async create(key: SessionKey): Promise<boolean> {
    const made = await super.create(key);
    const pending = this.createGate;
    if (pending) {
      pending.reached();
      await pending.opened;
    }
    return made;
  }
  override async readMeta(key: SessionKey): Promise<SessionMeta | null> {
    this.readMetaCalls += 1;
    if (this.readMetaCalls === this.failReadMetaCall) throw new Error('connection terminated unexpectedly');
    return super.readMeta(key);
  }
}

/** Stand-in Baileys sockets: each records the credentials it was built with and whether it was ended. */
function standInSockets() {
  const made: { auth: AuthenticationState; ended: boolean; ev: EventEmitter }[] = [];
  const makeSocket = (config: { auth: AuthenticationState }) => {
    const ev = new EventEmitter();
    const ws = Object.assign(new EventEmitter(), { isOpen: false, socket: null });
    const socket = { auth: config.auth, ended: false, ev };
    made.push(socket);
    return {
      ev,
      ws,
      end: async () => {
        socket.ended = true;
      },
      // WhatsApp that never answers a pairing-code request (Baileys would wait up to a minute).
      requestPairingCode: () => new Promise<string>(() => undefined),
      logout: async () => undefined,
    } as unknown as WASocket;
  };
  return {
    made,
    makeSocket: makeSocket as never,
    get live() {
      return made.filter((socket) => !socket.ended);
    },
  };
}

const key = { userId: 'ann', sessionId: 'main' };
let dir: string;
let logs: LogCapture;
const cleanups: (() => Promise<void>)[] = [];

beforeEach(async () => {
  dir = await tempSessionsDir();
  logs = new LogCapture();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await removeDir(dir);
});

async function node(holder: string, options: { sessionStopWaitMs?: number; beforeRelease?: () => Promise<void> } = {}) {
  const ownership = new FileOwnership(dir, { holder, ttlMs: 60_000 });
  await ownership.start();
  const store = new GatedStore(dir, ownership);
  const sockets = standInSockets();
  const logger = createLogger({ level: 'debug', destination: logs });
  /** The session actor of every connection attempt, in order (what each attempt asks credentials for). */
  const attempts: AnyActorRef[] = [];
  const sessions: SessionRegistry = new SessionRegistry({
    store,
    logger,
    ...options,
    connection: (registry) =>
      createConnectionLogic({
        ...registry.connectionHooks(),
        openAuthState: (userId, sessionId, session) => {
          if (session) attempts.push(session);
          return registry.connectionHooks().openAuthState(userId, sessionId, session);
        },
        socketOptions: resolveSocketOptions({ waWebSocketUrl: 'ws://127.0.0.1:9/ws' }),
        baileysLogger: logger,
        staleLinkAfterMs: 0,
        makeSocket: sockets.makeSocket,
      }),
  });
  // Ticks are run by hand: each renew and placement pass happens exactly where the test says.
  const placement = new Placement({ registry: sessions, store, ownership, logger, renewIntervalMs: 1_000 });
  cleanups.push(async () => {
    store.openGate?.open();
    store.flushGate?.open();
    await sessions.shutdown();
    await placement.stop();
    await ownership.stop();
  });
  return { ownership, store, sessions, sockets, placement, attempts };
}

async function leaseOnDisk(): Promise<{ epoch: number; holder: string | null }> {
  const folder = join(dir, key.userId, key.sessionId);
  const epochs = (await readdir(folder)).filter((f) => /^lease\.\d+$/.test(f)).map((f) => Number(f.slice(6)));
  const epoch = Math.max(...epochs);
  return { epoch, holder: JSON.parse(await readFile(join(folder, `lease.${epoch}`), 'utf8')).holder };
}

/** Another live holder claims the next epoch, as its takeover would after this node fenced itself. */
async function anotherHolderTakes(epoch: number): Promise<FileOwnership> {
  const other = new FileOwnership(dir, { holder: 'node-b' });
  await other.start();
  cleanups.push(() => other.stop());
  await writeFile(join(dir, key.userId, key.sessionId, `lease.${epoch + 1}`), JSON.stringify({ epoch: epoch + 1, holder: 'node-b' }));
  return other;
}

it('a lease lost while the start waits for its credentials starts no socket; re-adoption makes one; shutdown leaves none', async () => {
  await writeBaileysAuthFolder(dir, key.userId, key.sessionId, '15550007001');
  const a = await node('node-a');
  const waiting = gate();
  a.store.openGate = waiting;
  const { restored } = await a.sessions.load();
  await waiting.arrived;

  // While the credentials open: another node takes the session, and this node's renew learns it.
  const taken = await leaseOnDisk();
  const other = await anotherHolderTakes(taken.epoch);
  await a.placement.tick();
  expect(a.sessions.get(key.userId, key.sessionId).owner).toBe('node-b');
  a.store.openGate = null;
  waiting.open();
  await restored;
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(a.sockets.live).toHaveLength(0);

  // The other node lets it go; this node adopts it again on its next pass: one socket, never two.
  await other.release({ key, holder: 'node-b', epoch: taken.epoch + 1 });
  await a.placement.tick();
  await waitUntil(() => a.sockets.live.length === 1);
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(a.sockets.live).toHaveLength(1);
  expect(a.sockets.made).toHaveLength(1);
  // Its credentials are the ones opened under the epoch it holds now, not the stale start's.
  const now = await leaseOnDisk();
  expect(now.holder).toBe('node-a');
  expect(a.sockets.live[0]!.auth).toBe(a.store.opened.find((o) => o.epoch === now.epoch)!.state);

  await a.sessions.shutdown();
  expect(a.sockets.live).toHaveLength(0);
});

it('a lease taken by another node while the start waits, before any renew notices, starts no socket', async () => {
  await writeBaileysAuthFolder(dir, key.userId, key.sessionId, '15550007002');
  const a = await node('node-a');
  const waiting = gate();
  a.store.openGate = waiting;
  const { restored } = await a.sessions.load();
  await waiting.arrived;
  await anotherHolderTakes((await leaseOnDisk()).epoch);
  waiting.open();
  expect(await restored).toBe(0);
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(a.sockets.made).toHaveLength(0);
  expect(a.sessions.get(key.userId, key.sessionId)).toMatchObject({ owner: 'node-b' });
});

it('a fence while the start waits for its credentials starts no socket', async () => {
  await writeBaileysAuthFolder(dir, key.userId, key.sessionId, '15550007003');
  const a = await node('node-a');
  const waiting = gate();
  a.store.openGate = waiting;
  const { restored } = await a.sessions.load();
  await waiting.arrived;
  // What the fence timer does when renews stopped succeeding: every socket it cannot prove stops.
  a.sessions.owner(key)!.leaseLost(null, { unproven: true });
  waiting.open();
  await restored;
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(a.sockets.made).toHaveLength(0);
});

it.each([
  ['the credentials cannot be opened (EMFILE)', (store: GatedStore) => (store.failOpens = 1)],
  ['the metadata read after taking the lease fails (a database blip)', (store: GatedStore) => (store.failReadMetaCall = 2)],
])('a restore that fails after taking the lease when %s releases it, logs and counts it, and runs on the next tick', async (_, fail) => {
  await writeBaileysAuthFolder(dir, key.userId, key.sessionId, '15550007004');
  const a = await node('node-a');
  const metrics = new MetricsRegistry();
  registerOwnershipMetrics(metrics, { owned: () => a.sessions.heldLeases().length, events: a.placement, sessions: a.sessions });
  fail(a.store);
  const { restored } = await a.sessions.load();
  expect(await restored).toBe(0);

  // Not held idle: the lease names nobody, so any node can take the session at once.
  expect(a.sessions.get(key.userId, key.sessionId).owner).toBeNull();
  // Meant to run and run by nobody for now: on its way, never shown as ended.
  expect(a.sessions.get(key.userId, key.sessionId)).toMatchObject({ state: 'connecting', status: 'connecting.awaitingOwner', terminatedReason: null });
  expect((await leaseOnDisk()).holder).toBeNull();
  expect(logs.text).toContain('Session could not start after taking its lease');
  expect(await metrics.getSingleMetricAsString('wa_vigil_start_failures_total')).toMatch(/wa_vigil_start_failures_total 1$/m);

  await a.placement.tick();
  await waitUntil(() => a.sockets.live.length === 1);
  expect(a.sessions.get(key.userId, key.sessionId).owner).toBe('node-a');
});

it('a create is not adopted idle by a peer between the folder and the lease: the creator gets its session', async () => {
  const a = await node('node-a');
  const b = await node('node-b');
  const made = gate();
  a.store.createGate = made;
  const created = a.sessions.create(key.userId, key.sessionId);
  await made.arrived;
  // The peer's placement sees the new folder and adopts it.
  expect(await b.sessions.adopt(key)).toBe('idle');
  made.open();
  await expect(created).resolves.toMatchObject({ owner: 'node-a' });
  expect((await leaseOnDisk()).holder).toBe('node-a');
});

it('shutdown cancels a pairing-code request WhatsApp never answers and the operations queued behind it, stops the socket and releases the lease', async () => {
  const a = await node('node-a');
  await a.sessions.create(key.userId, key.sessionId);
  await waitUntil(() => a.sockets.live.length === 1);
  a.sockets.live[0]!.ev.emit('connection.update', { qr: 'qr-ref-1' });
  await waitUntil(() => a.sessions.get(key.userId, key.sessionId).status === 'connecting.awaitingQr');
  const code = a.sessions.requestPairingCode(key.userId, key.sessionId, '4915112345678');
  const queued = a.sessions.restart(key.userId, key.sessionId);
  const codeOutcome = code.catch((error: { code?: string }) => error.code);
  const queuedOutcome = queued.catch((error: { code?: string }) => error.code);

  const startedAt = performance.now();
  await a.sessions.shutdown();
  expect(performance.now() - startedAt).toBeLessThan(2_000);
  expect(await codeOutcome).toBe('ERR_SHUTTING_DOWN');
  expect(await queuedOutcome).toBe('ERR_SHUTTING_DOWN');
  expect(a.sockets.live).toHaveLength(0);
  expect((await leaseOnDisk()).holder).toBeNull();
});

it('while shutdown flushes, renewing goes on for the lease still held; stop() then returns though a renew hangs', async () => {
  await writeBaileysAuthFolder(dir, key.userId, key.sessionId, '15550007005');
  const a = await node('node-a');
  await a.sessions.load();
  await waitUntil(() => a.sockets.live.length === 1);
  const renewed: number[] = [];
  const renew = a.ownership.renew.bind(a.ownership);
  a.ownership.renew = async (leases) => {
    renewed.push(leases.length);
    return renew(leases);
  };
  const flushing = gate();
  a.store.flushGate = flushing;
  const shutdown = a.sessions.shutdown();
  await flushing.arrived;
  // The socket is already down; its writes are still flushing, so its lease must stay proven.
  expect(a.sockets.live).toHaveLength(0);
  await a.placement.tick();
  expect(renewed).toEqual([1]);
  expect(a.sessions.get(key.userId, key.sessionId).owner).toBe('node-a');
  flushing.open();
  await shutdown;
  expect((await leaseOnDisk()).holder).toBeNull();

  // A renew that never answers does not hold the exit.
  a.ownership.renew = () => new Promise(() => undefined);
  void a.placement.tick();
  const stoppedAt = performance.now();
  await a.placement.stop();
  expect(performance.now() - stoppedAt).toBeLessThan(3_000);
});

it('a session removed here leaves nothing behind in placement (its free-tick count included)', async () => {
  await writeBaileysAuthFolder(dir, key.userId, key.sessionId, '15550007006');
  const a = await node('node-a');
  const other = new FileOwnership(dir, { holder: 'node-b' });
  await other.start();
  cleanups.push(() => other.stop());
  // With spread, a free session that ranks for another live node waits graceTicks before this one takes it.
  const spread = new Placement({ registry: a.sessions, store: a.store, ownership: a.ownership, logger: createLogger({ level: 'silent' }), renewIntervalMs: 1_000, spread: true });
  cleanups.push(() => spread.stop());
  await a.sessions.load({ take: false });
  const keys = [key];
  for (let i = 0; i < 8; i++) {
    await writeBaileysAuthFolder(dir, 'many', `s${i}`, `1555000710${i}`);
    keys.push({ userId: 'many', sessionId: `s${i}` });
  }
  await spread.tick(); // registers the new folders
  await spread.tick(); // counts the free ones that rank for node-b
  const counted = spread.trackedFreeSessions;
  expect(counted).toBeGreaterThan(0);
  for (const k of keys) await a.sessions.remove(k.userId, k.sessionId);
  await spread.tick();
  expect(a.sessions.list()).toEqual([]);
  expect(spread.trackedFreeSessions).toBe(0);
});

it('a reconnect of an actor whose lease moved gets no credentials, not the newer epoch\'s', async () => {
  await writeBaileysAuthFolder(dir, key.userId, key.sessionId, '15550007007');
  const a = await node('node-a');
  await a.sessions.load();
  await waitUntil(() => a.attempts.length === 1);
  const first = a.attempts[0]!;
  const hooks = a.sessions.connectionHooks();
  await expect(hooks.openAuthState(key.userId, key.sessionId, first)).resolves.toBeTruthy();

  // The lease moves and comes back: a new actor runs under the new epoch.
  const taken = await leaseOnDisk();
  const other = await anotherHolderTakes(taken.epoch);
  await a.placement.tick();
  await other.release({ key, holder: 'node-b', epoch: taken.epoch + 1 });
  await a.placement.tick();
  await waitUntil(() => a.attempts.length === 2);
  const second = a.attempts[1]!;
  expect(second).not.toBe(first);

  // The first actor's next attempt (were it still running) would find nothing to write with.
  await expect(hooks.openAuthState(key.userId, key.sessionId, first)).rejects.toThrow('no open credentials');
  const now = await leaseOnDisk();
  await expect(hooks.openAuthState(key.userId, key.sessionId, second)).resolves.toMatchObject({
    state: a.store.opened.find((o) => o.epoch === now.epoch)!.state,
  });
});

it("a self-fence ends the session as fenced, never as an operator's stop, and it runs again once its lease is proven", async () => {
  await writeBaileysAuthFolder(dir, key.userId, key.sessionId, '15550007005');
  const a = await node('node-a');
  const { restored } = await a.sessions.load();
  await restored;
  await waitUntil(() => a.sockets.live.length === 1);
  // What the fence timer does when renews stopped succeeding.
  a.sessions.owner(key)!.leaseLost(null, { unproven: true });
  await waitUntil(() => a.sessions.get(key.userId, key.sessionId).state === 'terminated');
  expect(a.sessions.get(key.userId, key.sessionId)).toMatchObject({ state: 'terminated', terminatedReason: 'fenced' });
  expect(a.sockets.live).toHaveLength(0);
  expect(logs.text).toContain(`Session terminated for user ${key.userId}: fenced`);
  expect(logs.text).not.toContain(`Session terminated for user ${key.userId}: stopped`);

  // The next good renew proves the lease free again: the session runs, nobody had to start it.
  await a.placement.tick();
  await waitUntil(() => a.sockets.live.length === 1);
  expect(a.sessions.get(key.userId, key.sessionId)).toMatchObject({ owner: 'node-a' });
});

it('a shutdown ends each session as shutdown, keeping it to run at the next start', async () => {
  await writeBaileysAuthFolder(dir, key.userId, key.sessionId, '15550007006');
  const a = await node('node-a');
  const { restored } = await a.sessions.load();
  await restored;
  await waitUntil(() => a.sockets.live.length === 1);
  await a.sessions.shutdown();
  expect(logs.text).toContain(`Session terminated for user ${key.userId}: shutdown`);
  expect(logs.text).not.toContain(`Session terminated for user ${key.userId}: stopped`);
  // Nothing recorded against running it: the next process starts it.
  const next = await node('node-b');
  const again = await next.sessions.load();
  expect(await again.restored).toBe(1);
  await waitUntil(() => next.sockets.live.length === 1);
});

it('a hand-over gives the lease up only once the events of its stop are stored (on PostgreSQL they are refused after)', async () => {
  await writeBaileysAuthFolder(dir, key.userId, key.sessionId, '15550007007');
  const stored = gate();
  let waiting = false;
  const a = await node('node-a', {
    beforeRelease: () => {
      if (!waiting) return Promise.resolve();
      stored.reached();
      return stored.opened;
    },
  });
  const { restored } = await a.sessions.load();
  await restored;
  await waitUntil(() => a.sockets.live.length === 1);
  waiting = true;
  const handedOver = a.sessions.owner(key)!.handOver();
  await stored.arrived;
  // The socket is stopped, its events are on their way to the outbox: the lease still names this node.
  expect(a.sockets.live).toHaveLength(0);
  expect((await leaseOnDisk()).holder).toBe('node-a');
  stored.open();
  await handedOver;
  expect((await leaseOnDisk()).holder).toBeNull();
});

it('an outbox that never answers holds a hand-over for a bounded time only', async () => {
  await writeBaileysAuthFolder(dir, key.userId, key.sessionId, '15550007008');
  let hang = false;
  const a = await node('node-a', { beforeRelease: () => (hang ? new Promise<void>(() => undefined) : Promise.resolve()) });
  const { restored } = await a.sessions.load();
  await restored;
  await waitUntil(() => a.sockets.live.length === 1);
  hang = true;
  await a.sessions.owner(key)!.handOver();
  expect((await leaseOnDisk()).holder).toBeNull();
}, 10_000);

it('a placement pass that reads a half-made session (metadata saying "not yet running", as a database row is before the create finishes) does not make the create store it stopped', async () => {
  const a = await node('node-a');
  const made = gate();
  a.store.createGate = made;
  const created = a.sessions.create(key.userId, key.sessionId);
  await made.arrived;
  // What PostgreSQL's create leaves until the creator writes its metadata: a row that should not run yet.
  await writeFile(join(dir, key.userId, key.sessionId, 'session.json'), JSON.stringify({ ...key, createdAt: new Date().toISOString(), shouldRun: false, terminatedReason: null }));
  await a.placement.tick();
  made.open();
  await expect(created).resolves.toMatchObject({ owner: 'node-a' });
  // What the next owner (a restart, a failover, a hand-over) reads: the session runs.
  expect((await a.store.readMeta(key))?.shouldRun).toBe(true);
  expect(a.sessions.get(key.userId, key.sessionId).state).toBe('connecting');
});
