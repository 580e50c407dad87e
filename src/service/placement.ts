/**
 * The ownership loop, one tick every renewIntervalMs:
 *   1. renew: keep this holder alive; any lease found lost stops its socket at once;
 *   2. adopt: session folders this process has not seen (made by another process);
 *   3. take over: sessions whose owner is dead (crashed, SIGKILLed, its container
 *      restarted) are taken and run if they should — within one lease TTL plus one tick.
 * Ticks never overlap: a slow file system delays the next one instead of piling up.
 *
 * A process that could not renew for half a TTL (it was SIGSTOPped, its VM paused,
 * its disk hung) may already have been replaced: before anything else — before
 * the event loop reads the sockets' pending frames — it stops every socket it
 * cannot prove, then takes back whatever is still its own.
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../logging/logger.js';
import type { Ownership } from '../store/ownership.js';
import { keyString } from '../store/session-key.js';
import type { SessionStore } from '../store/session-store.js';
import type { SessionRegistry } from './registry.js';
import { preferredHolder } from './rendezvous.js';

/** Default renew interval: a fifth of the default 10 s TTL, so a live holder misses several renews before it looks dead. */
export const defaultRenewIntervalMs = 2_000;

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
  private timer: NodeJS.Timeout | null = null;
  private renewing: Promise<void> | null = null;
  private placing: Promise<void> | null = null;
  private readonly renewIntervalMs: number;
  /** Monotonic time of the last successful renew. */
  private renewedAt = performance.now();
  /** With spread: consecutive ticks each free session has been seen free. */
  private readonly freeTicks = new Map<string, number>();

  constructor(private readonly options: PlacementOptions) {
    super();
    this.renewIntervalMs = options.renewIntervalMs ?? defaultRenewIntervalMs;
    if (!(this.renewIntervalMs > 0 && this.renewIntervalMs * 2 <= options.ownership.ttlMs)) {
      throw new RangeError('renewIntervalMs: must be positive and at most half the lease TTL');
    }
  }

  start(): void {
    this.renewedAt = performance.now();
    this.timer ??= setInterval(() => {
      this.fenceIfSilent();
      void this.tick();
    }, this.renewIntervalMs);
    this.timer.unref?.();
  }

  /**
   * Synchronously stops every socket whose lease may expire before the next renew can
   * prove it: silent for TTL minus one renew interval, so the socket is gone before
   * another holder may take the session.
   */
  private fenceIfSilent(): void {
    const silentMs = performance.now() - this.renewedAt;
    if (silentMs < this.options.ownership.ttlMs - this.renewIntervalMs) return;
    const held = this.options.registry.all().filter((owner) => owner.heldLease);
    if (held.length === 0) return;
    this.options.logger.warn({ silentMs: Math.round(silentMs), sessions: held.length }, 'Ownership not renewed in time: stopping every socket until the leases are proven again');
    for (const owner of held) owner.leaseLost(null, { unproven: true });
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await Promise.all([this.renewing, this.placing]);
  }

  /**
   * One tick: renew, then place. Renewing never waits behind placing (a scan of many
   * sessions may be slow; a late renew would fence a healthy node), and neither overlaps itself.
   */
  tick(): Promise<void> {
    this.renewing ??= this.guarded('Renewing leases failed', () => this.renew()).finally(() => {
      this.renewing = null;
    });
    const renewed = this.renewing;
    this.placing ??= renewed
      .then(() => this.guarded('Placing sessions failed', () => this.place()))
      .finally(() => {
        this.placing = null;
      });
    return this.placing;
  }

  private guarded(what: string, work: () => Promise<void>): Promise<void> {
    return work().catch((error: unknown) => this.options.logger.warn({ err: error instanceof Error ? error.message : String(error) }, what));
  }

  /** Keeps this holder alive and its leases held; stops the sockets of leases found lost. */
  private async renew(): Promise<void> {
    const { registry, ownership } = this.options;
    if (registry.isClosing) return;
    const renewStart = performance.now();
    const lost = await ownership.renew(registry.heldLeases());
    // The leases run from when the renew was sent, not from when its answer was read:
    // an answer read late (a process frozen in between) proves nothing about now.
    this.renewedAt = renewStart;
    this.renewStats.lastMs = performance.now() - renewStart;
    this.renewStats.at = new Date().toISOString();
    this.emit('renewed', this.renewStats.lastMs);
    if (lost.length > 0) this.emit('lost', lost.length);
    const newOwners = await ownership.liveOwners(lost.map((lease) => lease.key));
    lost.forEach((lease, i) => registry.owner(lease.key)?.leaseLost(newOwners[i] ?? null));
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
          .catch(() => undefined);
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
