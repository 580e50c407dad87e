/**
 * The fleet feed and the fleet events on a real registry: changes that no actor
 * transition announces (a metadata write, a session adopted without being taken,
 * an owner seen elsewhere) reach them at once. Intervals are faked and never
 * advanced, so a poll could not be what delivered them; none is even set.
 */
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { EventIdFactory } from '../../src/outbox/event-id.js';
import type { FleetEvent } from '../../src/outbox/fleet-event.js';
import { SessionEventSource } from '../../src/outbox/session-events.js';
import { FleetFeed, type FleetChanges } from '../../src/inspector/fleet-feed.js';
import { createLogger } from '../../src/logging/logger.js';
import { SessionRegistry } from '../../src/service/registry.js';
import type { SessionChange } from '../../src/session/session-change.js';
import { FileOwnership } from '../../src/store/files/file-ownership.js';
import { FileSessionStore } from '../../src/store/files/file-session-store.js';
import { createAutoConnection } from '../support/auto-connection.js';
import { LogCapture, removeDir, tempSessionsDir } from '../support/service-harness.js';
import { waitUntil } from '../../fixtures/wait.js';

const node = 'node-under-test';
let dir: string;
let registry: SessionRegistry;
let store: FileSessionStore;

beforeEach(async () => {
  dir = await tempSessionsDir();
  const ownership = new FileOwnership(dir, { holder: node, ttlMs: 60_000 });
  await ownership.start();
  store = new FileSessionStore(dir, ownership);
  const connection = createAutoConnection();
  registry = new SessionRegistry({ store, logger: createLogger({ level: 'debug', destination: new LogCapture() }), connection: () => connection.logic });
  await registry.load();
});
afterEach(async () => {
  vi.useRealTimers();
  await registry.shutdown();
  await removeDir(dir);
});

/** A feed, an event source and the raw changes, all on `registry`, with intervals faked from here on. */
function listen() {
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
  const feed = new FleetFeed(registry, { flushIntervalMs: 10 });
  const batches: FleetChanges[] = [];
  const { stop } = feed.subscribe((changes) => batches.push(changes));
  const events: FleetEvent[] = [];
  const source = new SessionEventSource(registry, node, new EventIdFactory(), (batch) => events.push(...batch));
  source.attach();
  const changes: SessionChange[] = [];
  registry.on('change', (change) => changes.push(change));
  const sent = (userId: string) => batches.flatMap((b) => b.views).filter((v) => v.userId === userId);
  return {
    batches,
    events,
    changes,
    sent,
    close: () => {
      stop();
      feed.close();
      source.detach();
    },
  };
}

it('a logout of a stopped session (a metadata write, no transition) reaches the feed and the change feed without a poll', async () => {
  await registry.create('ann', 'main');
  await waitUntil(() => registry.get('ann', 'main').state === 'open');
  await registry.stop('ann', 'main');
  expect(registry.get('ann', 'main').terminatedReason).toBe('stopped');
  const feed = listen();

  await registry.logout('ann', 'main');
  await waitUntil(() => feed.sent('ann').some((v) => v.terminatedReason === 'loggedOut'));
  const change = feed.changes.find((c) => c.after.terminatedReason === 'loggedOut')!;
  expect(change.before).toMatchObject({ state: 'terminated', terminatedReason: 'stopped' });
  expect(change.after).toMatchObject({ state: 'terminated', owner: node });
  // Still terminated, still here: no status event, no second termination.
  expect(feed.events.filter((e) => e.userId === 'ann')).toEqual([]);
  expect(vi.getTimerCount()).toBe(0);
  feed.close();
});

it('a session adopted without being taken, then seen owned elsewhere, then taken here: each reaches the feed; the take is a session.owner event', async () => {
  const feed = listen();
  const bob = { userId: 'bob', sessionId: 'main' };
  await store.create(bob);
  await registry.adopt(bob, { take: false });
  await waitUntil(() => feed.sent('bob').length > 0);
  expect(feed.changes.find((c) => c.key.userId === 'bob')!.before).toBeNull();

  registry.owner(bob)!.seenElsewhere('node-elsewhere');
  await waitUntil(() => feed.sent('bob').some((v) => v.owner === 'node-elsewhere'));
  expect(feed.events).toEqual([]);

  await registry.start('bob', 'main');
  await waitUntil(() => feed.sent('bob').some((v) => v.owner === node && v.state === 'open'));
  const owner = feed.events.find((e) => e.type === 'session.owner')!;
  expect(owner.payload).toEqual({ owner: node, previousOwner: 'node-elsewhere' });
  expect(vi.getTimerCount()).toBe(0);
  feed.close();
});
