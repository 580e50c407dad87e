import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import type { SessionState } from '../../machines/session.states.js';
import type { SessionView } from '../../src/session/session-view.js';
import { FleetFeed, type FleetChanges } from '../../src/inspector/fleet-feed.js';

function view(userId: string, state: SessionState, attempt = 0): SessionView {
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

/** A registry stand-in: get() answers from `sessions`, changes are announced by the test. */
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
    if (announce) this.announce(v);
  }
  announce(after: SessionView) {
    this.emit('change', { key: { userId: after.userId, sessionId: after.sessionId }, before: null, after, previousOwner: null });
  }
}

let registry: Registry;
let feed: FleetFeed;
let batches: FleetChanges[];
beforeEach(() => {
  vi.useFakeTimers();
  registry = new Registry();
  registry.put(view('a', 'open'));
  feed = new FleetFeed(registry, { flushIntervalMs: 100 });
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
  registry.announce(view('a', 'terminated'));
  registry.put(view('a', 'open'), false);
  vi.advanceTimersByTime(100);
  expect(batches[0]!.views.map((v) => v.state)).toEqual(['open']);
});

it('polls nothing: a session nobody announces is not sent, however long the page listens', () => {
  feed.subscribe((changes) => batches.push(changes));
  registry.put(view('quiet', 'terminated'), false);
  vi.advanceTimersByTime(60_000);
  expect(batches).toEqual([]);
  expect(vi.getTimerCount()).toBe(0);
});

it('stops listening to the registry when closed', () => {
  feed.close();
  expect(registry.listenerCount('change')).toBe(0);
  expect(registry.listenerCount('removed')).toBe(0);
});
