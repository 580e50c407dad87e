/**
 * One live feed for the whole fleet: every page gets all sessions once, then
 * only what changed (views of sessions that moved or were added, keys of
 * sessions removed), coalesced per flush so a reconnect storm of 2,000
 * sessions is a few messages a second, not 2,000.
 *
 * It listens to the session registry's 'change' (every change of a session's
 * view, metadata and ownership included; a new session's first one is its
 * addition) and 'removed' ({userId, sessionId}) events once, however many pages
 * are open: nothing is polled, and nothing of what was sent is kept. What it
 * sends is read with get() when it flushes, the latest view of the batch.
 */
import type { SessionChange } from '../session/session-change.js';
import type { SessionFeed } from '../session/session-feed.js';
import type { SessionView } from '../session/session-view.js';
import { keyString, type SessionKey } from '../store/session-key.js';

/** What the feed needs of the session registry. */
export interface FleetSource extends SessionFeed {
  list(): SessionView[];
  get(userId: unknown, sessionId: unknown): SessionView;
}

export interface FleetChanges {
  views: SessionView[];
  removed: SessionKey[];
}

export interface FleetFeedOptions {
  /** How long changes are gathered before they are sent. Default 100 ms (badges stay well within 1 s). */
  flushIntervalMs?: number;
}

export class FleetFeed {
  private readonly listeners = new Set<(changes: FleetChanges) => void>();
  private readonly pendingViews = new Map<string, SessionKey>();
  private readonly pendingRemovals = new Map<string, SessionKey>();
  private timer: NodeJS.Timeout | null = null;
  private readonly flushIntervalMs: number;

  constructor(
    private readonly source: FleetSource,
    options: FleetFeedOptions = {},
  ) {
    this.flushIntervalMs = options.flushIntervalMs ?? 100;
    source.on('change', this.onChange);
    source.on('removed', this.onRemoved);
  }

  /** All sessions now, then `listener` with each batch of changes; returns the way to stop. */
  subscribe(listener: (changes: FleetChanges) => void): { sessions: SessionView[]; stop: () => void } {
    this.listeners.add(listener);
    const sessions = this.source.list();
    return { sessions, stop: () => void this.listeners.delete(listener) };
  }

  close(): void {
    this.source.off('change', this.onChange);
    this.source.off('removed', this.onRemoved);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.listeners.clear();
  }

  private readonly onChange = ({ key }: SessionChange): void => {
    const id = keyString(key);
    this.pendingRemovals.delete(id);
    this.pendingViews.set(id, { userId: key.userId, sessionId: key.sessionId });
    this.schedule();
  };

  private readonly onRemoved = (key: SessionKey): void => {
    const id = keyString(key);
    this.pendingViews.delete(id);
    this.pendingRemovals.set(id, { userId: key.userId, sessionId: key.sessionId });
    this.schedule();
  };

  private schedule(): void {
    if (this.timer || this.listeners.size === 0) {
      if (this.listeners.size === 0) this.dropPending();
      return;
    }
    this.timer = setTimeout(() => this.flush(), this.flushIntervalMs);
    this.timer.unref();
  }

  private fresh(key: SessionKey): SessionView | null {
    try {
      return this.source.get(key.userId, key.sessionId);
    } catch {
      return null; // removed since; its removal follows
    }
  }

  private dropPending(): void {
    this.pendingViews.clear();
    this.pendingRemovals.clear();
  }

  private flush(): void {
    this.timer = null;
    const views: SessionView[] = [];
    for (const key of this.pendingViews.values()) {
      const view = this.fresh(key);
      if (view) views.push(view);
    }
    const changes: FleetChanges = { views, removed: [...this.pendingRemovals.values()] };
    this.dropPending();
    for (const listener of this.listeners) listener(changes);
  }
}
