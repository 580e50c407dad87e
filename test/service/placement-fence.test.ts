/**
 * The self-fence is a timer armed at each successful renew's start + TTL − renew
 * interval, whatever runs the renews (interval ticks or a NOTIFY at any moment); and
 * a node whose renew failed takes nothing new. Time is an EventClock: every timer fires
 * at exactly its due time.
 */
import { expect, it } from 'vitest';
import { createLogger } from '../../src/logging/logger.js';
import { Placement } from '../../src/service/placement.js';
import type { SessionRegistry } from '../../src/service/registry.js';
import type { Lease, Ownership } from '../../src/store/ownership.js';
import type { SessionStore } from '../../src/store/session-store.js';
import { EventClock } from '../../fixtures/event-clock.js';

const ttlMs = 900;
const renewIntervalMs = 300;

/** One session held by this node; `fencedAt` is when its socket was stopped as unproven. */
function setUp() {
  const clock = new EventClock();
  const lease: Lease = { key: { userId: 'fay', sessionId: 'main' }, holder: 'me', epoch: 1 };
  const session = {
    key: lease.key,
    heldLease: lease as Lease | null,
    fencedAt: null as number | null,
    leaseLost(_owner: string | null, options: { unproven?: boolean } = {}) {
      if (options.unproven && this.heldLease) this.fencedAt = clock.now();
      this.heldLease = null;
    },
    seenElsewhere() {},
    restore: async () => 'idle' as const,
  };
  const registry = {
    isClosing: false,
    all: () => [session],
    heldLeases: () => (session.heldLease ? [session.heldLease] : []),
    owner: () => session,
    adopt: async () => 'idle' as const,
  } as unknown as SessionRegistry;
  let renewAnswer: () => Promise<Lease[]> = async () => [];
  let listed = 0;
  const ownership = {
    holder: 'me',
    ttlMs,
    renew: () => renewAnswer(),
    liveOwners: async (keys: unknown[]) => keys.map(() => null),
    liveHolders: async () => [{ holder: 'me', url: null }],
  } as unknown as Ownership;
  const store = {
    list: async () => {
      listed += 1;
      return [];
    },
  } as unknown as SessionStore;
  const placement = new Placement({ registry, store, ownership, logger: createLogger({ level: 'silent' }), renewIntervalMs, clock, stopWaitMs: 10 });
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  return {
    clock,
    session,
    placement,
    settle,
    get listed() {
      return listed;
    },
    renewsHang: () => (renewAnswer = () => new Promise<Lease[]>(() => undefined)),
    renewsFail: () => (renewAnswer = () => Promise.reject(new Error('connection terminated unexpectedly'))),
    renewsSucceed: () => (renewAnswer = async () => []),
  };
}

it('TTL 900 / renew 300: the fence fires 600 ms after the last good renew started, even when a NOTIFY ran it between ticks', async () => {
  const t = setUp();
  t.placement.start();
  t.clock.advance(300); // interval tick at 300: renew succeeds
  await t.settle();
  // A NOTIFY runs a renew between ticks, at 316; it succeeds. From then on every renew hangs.
  t.clock.advance(16);
  await t.placement.tick();
  t.renewsHang();
  t.clock.advance(600 - 1);
  await t.settle();
  expect(t.session.fencedAt).toBeNull();
  t.clock.advance(1);
  expect(t.session.fencedAt).toBe(316 + 600);
  await t.placement.stop();
});

it('each good renew moves the fence: renews that keep succeeding never fence', async () => {
  const t = setUp();
  t.placement.start();
  for (let i = 0; i < 20; i++) {
    t.clock.advance(renewIntervalMs);
    await t.settle();
  }
  expect(t.session.fencedAt).toBeNull();
  expect(t.session.heldLease).not.toBeNull();
  t.renewsHang();
  t.clock.advance(renewIntervalMs);
  await t.settle();
  const lastGoodStart = t.clock.now() - renewIntervalMs;
  t.clock.advance(ttlMs);
  expect(t.session.fencedAt).toBe(lastGoodStart + ttlMs - renewIntervalMs);
  await t.placement.stop();
});

it('after a failed renew, placement neither adopts nor takes over anything', async () => {
  const t = setUp();
  t.renewsFail();
  await t.placement.tick();
  expect(t.listed).toBe(0);
  t.renewsSucceed();
  await t.placement.tick();
  expect(t.listed).toBe(1);
  await t.placement.stop();
});
