/**
 * Placement: renewing this process's leases and deciding which sessions it runs, one tick every renewIntervalMs:
 *   1. renew: keep this holder alive; any lease found lost stops its socket at once;
 *   2. adopt: session folders this process has not seen (made by another process);
 *   3. take over: sessions whose owner is dead (crashed, SIGKILLed, its container
 *      restarted) are taken and run if they should — within one lease TTL plus one tick.
 * Ticks never overlap: a slow file system delays the next one instead of piling up.
 *
 * Placement runs only after a renew that succeeded: a node that cannot prove its
 * own leases takes nothing new.
 *
 * The fence is a timer, not a tick: each successful renew arms it at that renew's
 * start + TTL − renew interval. A process that could not renew by then (it was
 * SIGSTOPped, its VM paused, its disk or database hung) may be replaced one renew
 * interval later: the timer stops every socket it cannot prove first — whenever the
 * renews ran (on ticks or on a NOTIFY) — then a renew that succeeds takes back
 * whatever is still its own. After a freeze, Node runs due timers before it reads
 * the sockets' pending frames.
 *
 * Renewing goes on while the service shuts down, until stop() (called once the last
 * socket is down and the leases are released).
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../logging/logger.js';
import type { Lease, Ownership } from '../store/ownership.js';
import { keyString } from '../store/session-key.js';
import type { SessionStore } from '../store/session-store.js';
import type { SessionRegistry } from './registry.js';
import { preferredHolder } from './rendezvous.js';

/** Default renew interval: a fifth of the default 10 s TTL, so a live holder misses several renews before it looks dead. */
export const defaultRenewIntervalMs = 2_000;

/** Default stopWaitMs: how long stop() waits for a renew or placement pass under way. */
export const defaultPlacementStopWaitMs = 1_000;

/** Monotonic time and one-shot timers (injectable for tests). */
export interface PlacementClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realClock: PlacementClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface PlacementOptions {
  registry: SessionRegistry;
  store: SessionStore;
  ownership: Ownership;
  logger: Logger;
  /** Default defaultRenewIntervalMs; must be well under the ownership's TTL. */
  renewIntervalMs?: number;
  /**
   * Spread free sessions over the live holders (rendezvous hashing) instead of taking
   * every free one: a node takes a free session when it ranks first for it, or when the
   * session stayed free for graceTicks ticks. Default false (one process per folder).
   */
  spread?: boolean;
  /** With spread: how many sessions per tick to hand to a live holder that ranks higher (a node that joined). Default 0. */
  rebalancePerTick?: number;
  /** Time and timers of ticks and the fence. Default performance.now() and Node's timers. */
  clock?: PlacementClock;
  /** How long stop() waits for a renew under way (one that hangs must not hold the exit). Default defaultPlacementStopWaitMs. */
  stopWaitMs?: number;
}

/** With spread, ticks a free session waits for its preferred holder before any live holder takes it. */
export const graceTicks = 2;

/** How the last renew went (GET /cluster, metrics). */
export interface RenewStats {
  lastMs: number | null;
  at: string | null;
}

/**
 * Events: 'renewed' (ms the renew took), 'lost' (leases found lost),
 * 'taken' (a session this process took over from a dead or departed owner).
 */
export class Placement extends EventEmitter {
  readonly renewStats: RenewStats = { lastMs: null, at: null };
  private tickTimer: unknown = null;
  private fenceTimer: unknown = null;
  private renewing: Promise<boolean> | null = null;
  private placing: Promise<void> | null = null;
  private readonly renewIntervalMs: number;
  private readonly clock: PlacementClock;
  /** Monotonic start time of the last successful renew. */
  private renewedAt: number;
  /** With spread: consecutive ticks each free session has been seen free (only sessions registered and free now). */
  private readonly freeTicks = new Map<string, number>();

  constructor(private readonly options: PlacementOptions) {
    super();
    this.renewIntervalMs = options.renewIntervalMs ?? defaultRenewIntervalMs;
    if (!(this.renewIntervalMs > 0 && this.renewIntervalMs * 2 <= options.ownership.ttlMs)) {
      throw new RangeError('renewIntervalMs: must be positive and at most half the lease TTL');
    }
    this.clock = options.clock ?? realClock;
    this.renewedAt = this.clock.now();
  }

  /** Sessions tracked as free (bounded by the registered sessions that are free now). */
  get trackedFreeSessions(): number {
    return this.freeTicks.size;
  }

  start(): void {
    if (this.tickTimer !== null) return;
    this.renewedAt = this.clock.now();
    this.armFence(this.renewedAt);
    const schedule = () => {
      this.tickTimer = this.clock.setTimeout(() => {
        schedule();
        void this.tick();
      }, this.renewIntervalMs);
    };
    schedule();
  }

  /** The fence fires TTL − renew interval after `renewStart` unless a later renew succeeds first. */
  private armFence(renewStart: number): void {
    if (this.fenceTimer !== null) this.clock.clearTimeout(this.fenceTimer);
    const dueInMs = renewStart + this.options.ownership.ttlMs - this.renewIntervalMs - this.clock.now();
    this.fenceTimer = this.clock.setTimeout(() => {
      this.fenceTimer = null;
      this.fence();
    }, Math.max(0, dueInMs));
  }

  /**
   * Synchronously stops every socket whose lease may expire before a renew can prove
   * it: unrenewed for TTL minus one renew interval, so the socket is gone before
   * another holder may take the session.
   */
  private fence(): void {
    const silentMs = this.clock.now() - this.renewedAt;
    const held = this.options.registry.all().filter((owner) => owner.heldLease);
    if (held.length === 0) return;
    this.options.logger.warn({ silentMs: Math.round(silentMs), sessions: held.length }, 'Ownership not renewed in time: stopping every socket until the leases are proven again');
    for (const owner of held) owner.leaseLost(null, { unproven: true });
  }

  /**
   * Stops ticking and fencing. Called once the sessions are down and their leases
   * released; a renew or pass still under way is waited for at most stopWaitMs.
   */
  async stop(): Promise<void> {
    if (this.tickTimer !== null) this.clock.clearTimeout(this.tickTimer);
    if (this.fenceTimer !== null) this.clock.clearTimeout(this.fenceTimer);
    this.tickTimer = null;
    this.fenceTimer = null;
    const waitMs = this.options.stopWaitMs ?? defaultPlacementStopWaitMs;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)));
    await Promise.race([Promise.all([this.renewing, this.placing]), late]);
    clearTimeout(timer);
  }

  /**
   * One tick: renew, then — only if the renew succeeded — place. Renewing never waits
   * behind placing (a scan of many sessions may be slow; a late renew would fence a
   * healthy node), and neither overlaps itself.
   */
  tick(): Promise<void> {
    this.renewing ??= this.renew()
      .then(() => true)
      .catch((error: unknown) => {
        this.options.logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'Renewing leases failed');
        return false;
      })
      .finally(() => {
        this.renewing = null;
      });
    const renewed = this.renewing;
    this.placing ??= renewed
      .then((ok) => (ok ? this.guarded('Placing sessions failed', () => this.place()) : undefined))
      .finally(() => {
        this.placing = null;
      });
    return this.placing;
  }

  private guarded(what: string, work: () => Promise<void>): Promise<void> {
    return work().catch((error: unknown) => this.options.logger.warn({ err: error instanceof Error ? error.message : String(error) }, what));
  }

  /** Keeps this holder alive and its leases held (also while shutting down); stops the sockets of leases found lost. */
  private async renew(): Promise<void> {
    const { registry, ownership } = this.options;
    const renewStart = this.clock.now();
    const lost = await ownership.renew(registry.heldLeases());
    // The leases run from when the renew was sent, not from when its answer was read:
    // an answer read late (a process frozen in between) proves nothing about now.
    this.renewedAt = Math.max(this.renewedAt, renewStart);
    this.armFence(this.renewedAt);
    this.renewStats.lastMs = this.clock.now() - renewStart;
    this.renewStats.at = new Date().toISOString();
    this.emit('renewed', this.renewStats.lastMs);
    // A lease released meanwhile (a hand-over, a shutdown) is not a loss.
    const stillHeld = lost.filter((lease) => sameLease(registry.owner(lease.key)?.heldLease ?? null, lease));
    if (stillHeld.length > 0) this.emit('lost', stillHeld.length);
    if (stillHeld.length === 0) return;
    const newOwners = await ownership.liveOwners(stillHeld.map((lease) => lease.key));
    stillHeld.forEach((lease, i) => registry.owner(lease.key)?.leaseLost(newOwners[i] ?? null));
  }

  /** Adopts sessions this process has not seen, takes over free ones, hands some to a node that joined. */
  private async place(): Promise<void> {
    const { registry, store, ownership } = this.options;
    if (registry.isClosing) return;

    const spread = this.options.spread ?? false;
    const me = ownership.holder;
    const holders = spread ? (await ownership.liveHolders()).map((h) => h.holder) : [];
    const onDisk = await store.list();
    const known = new Set(registry.all().map((owner) => keyString(owner.key)));
    for (const key of onDisk) if (!known.has(keyString(key))) void registry.adopt(key, { take: !spread });
    const unowned = registry.all().filter((owner) => !owner.heldLease);
    // Only sessions registered and free now are counted: removed or taken ones leave the map.
    const free = new Set(unowned.map((owner) => keyString(owner.key)));
    for (const id of this.freeTicks.keys()) if (!free.has(id)) this.freeTicks.delete(id);
    const owners = await ownership.liveOwners(unowned.map((owner) => owner.key));
    for (const [i, owner] of unowned.entries()) {
      if (owner.heldLease || registry.isClosing) continue;
      const id = keyString(owner.key);
      const live = owners[i] ?? null;
      if (live !== null && live !== me) {
        this.freeTicks.delete(id);
        owner.seenElsewhere(live);
        continue;
      }
      // Free, its owner dead, or still named ours after this process fenced itself.
      const waited = (this.freeTicks.get(id) ?? 0) + 1;
      this.freeTicks.set(id, waited);
      if (!spread || live === me || preferredHolder(holders, owner.key) === me || waited > graceTicks) {
        this.freeTicks.delete(id);
        void owner
          .restore()
          .then((outcome) => outcome === 'started' && this.emit('taken', owner.key))
          .catch((error: unknown) => {
            if (registry.isClosing) return;
            this.options.logger.warn({ ...owner.key, err: error instanceof Error ? error.message : String(error) }, 'Session not taken over; tried again on a later tick');
          });
      }
    }
    if (spread) this.rebalance(holders);
  }

  /** Hands a few sessions per tick to the live holder that ranks first for them (a node that joined). */
  private rebalance(holders: string[]): void {
    let budget = this.options.rebalancePerTick ?? 0;
    const me = this.options.ownership.holder;
    for (const owner of this.options.registry.all()) {
      if (budget <= 0 || this.options.registry.isClosing) return;
      if (!owner.heldLease) continue;
      const preferred = preferredHolder(holders, owner.key);
      if (preferred === null || preferred === me) continue;
      budget -= 1;
      this.options.logger.info({ ...owner.key, to: preferred }, 'Handing the session over to the node it belongs to');
      void owner.handOver().catch(() => undefined);
    }
  }
}

function sameLease(held: Lease | null, lease: Lease): boolean {
  return held !== null && held.epoch === lease.epoch && held.holder === lease.holder;
}
