import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import type { SessionView } from '../../src/service/session-view.js';
import { FleetFeed, type FleetChanges } from '../../src/inspector/fleet-feed.js';

function view(userId: string, state: string, attempt = 0): SessionView {
  return {
    userId,
    sessionId: 'default',
    state,
    status: state,
    attempt,
    nextRetryAt: null,
    openSince: null,
    createdAt: '2026-01-01T00:00:00.000Z',
    reconnects: 0,
    lastDisconnect: null,
    terminatedReason: null,
    me: null,
    owner: 'this-process',
  };
}

/** A registry stand-in: get() answers from `sessions`, events are emitted by the test. */
class Registry extends EventEmitter {
  sessions = new Map<string, SessionView>();
  list = () => [...this.sessions.values()];
  get = (userId: unknown) => {
    const found = this.sessions.get(String(userId));
    if (!found) throw new Error('not found');
    return found;
  };
  put(v: SessionView, announce = true) {
    this.sessions.set(v.userId, v);
    if (announce) this.emit('transition', v);
  }
}

let registry: Registry;
let feed: FleetFeed;
let batches: FleetChanges[];
beforeEach(() => {
  vi.useFakeTimers();
  registry = new Registry();
  registry.put(view('a', 'open'));
  feed = new FleetFeed(registry, { flushIntervalMs: 100, reconcileIntervalMs: 5_000 });
  batches = [];
});
afterEach(() => {
  feed.close();
  vi.useRealTimers();
});

it('sends every session once, then one batch per flush with the latest view of each and the removals', () => {
  const { sessions } = feed.subscribe((changes) => batches.push(changes));
  expect(sessions.map((s) => s.userId)).toEqual(['a']);
  for (let i = 0; i < 50; i++) registry.put(view(`n${i}`, 'connecting'));
  registry.put(view('n1', 'open'));
  registry.put(view('a', 'backingOff', 1));
  registry.sessions.delete('n2');
  registry.emit('removed', { userId: 'n2', sessionId: 'default' });
  expect(batches).toEqual([]);
  vi.advanceTimersByTime(100);
  expect(batches).toHaveLength(1);
  const [batch] = batches;
  expect(batch!.views).toHaveLength(50); // 49 new ones (n2 went) and a
  expect(batch!.views.find((v) => v.userId === 'n1')!.state).toBe('open');
  expect(batch!.views.find((v) => v.userId === 'a')!.attempt).toBe(1);
  expect(batch!.removed).toEqual([{ userId: 'n2', sessionId: 'default' }]);
});

it('sends the view as it is when it flushes, not as the event described it', () => {
  feed.subscribe((changes) => batches.push(changes));
  registry.emit('transition', view('a', 'terminated'));
  registry.put(view('a', 'open'), false);
  vi.advanceTimersByTime(100);
  expect(batches[0]!.views.map((v) => v.state)).toEqual(['open']);
});

it('finds what no event announced (a session restored without starting, one gone quietly)', () => {
  feed.subscribe((changes) => batches.push(changes));
  registry.put(view('quiet', 'terminated'), false);
  registry.sessions.delete('a');
  vi.advanceTimersByTime(5_100);
  expect(batches).toHaveLength(1);
  expect(batches[0]!.views.map((v) => v.userId)).toEqual(['quiet']);
  expect(batches[0]!.removed).toEqual([{ userId: 'a', sessionId: 'default' }]);
  vi.advanceTimersByTime(10_000);
  expect(batches).toHaveLength(1); // nothing new: nothing sent
});

it('stops listening to the registry when closed', () => {
  feed.close();
  expect(registry.listenerCount('transition')).toBe(0);
  expect(registry.listenerCount('removed')).toBe(0);
});
