/**
 * One live feed for the whole fleet: every page gets all sessions once, then
 * only what changed (views of sessions that moved or were added, keys of
 * sessions removed), coalesced per flush so a reconnect storm of 2,000
 * sessions is a few messages a second, not 2,000.
 *
 * It listens to the session registry's 'transition' (a session view; a new
 * session's first one is its addition) and 'removed' ({userId, sessionId})
 * events once, however many pages are open. What it sends is read with get()
 * when it flushes, not taken from the event: a view emitted while a new actor
 * is still starting describes the one before it (see the report on #13).
 */
import type { SessionView } from '../service/session-view.js';
import { keyString, type SessionKey } from '../store/session-key.js';

/** What the feed needs of the session registry. */
export interface FleetSource {
  list(): SessionView[];
  get(userId: unknown, sessionId: unknown): SessionView;
  on(event: 'transition', listener: (view: SessionView) => void): unknown;
  on(event: 'removed', listener: (key: SessionKey) => void): unknown;
  off(event: 'transition', listener: (view: SessionView) => void): unknown;
  off(event: 'removed', listener: (key: SessionKey) => void): unknown;
}

export interface FleetChanges {
  views: SessionView[];
  removed: SessionKey[];
}

export interface FleetFeedOptions {
  /** How long changes are gathered before they are sent. Default 100 ms (badges stay well within 1 s). */
  flushIntervalMs?: number;
  /**
   * How often the whole list is compared with what was sent, while a page
   * listens. Catches what no event announces: sessions restored without being
   * started, a logout of a stopped session. Default 5 000 ms.
   */
  reconcileIntervalMs?: number;
}

/** What a page shows of a session; a change in any of it is worth sending. */
function signature(view: SessionView): string {
  return `${view.status}|${view.attempt}|${view.terminatedReason ?? ''}|${view.nextRetryAt ?? ''}|${view.lastDisconnect?.at ?? ''}`;
}

export class FleetFeed {
  private readonly listeners = new Set<(changes: FleetChanges) => void>();
  private readonly pendingViews = new Map<string, SessionKey>();
  private readonly pendingRemovals = new Map<string, SessionKey>();
  private timer: NodeJS.Timeout | null = null;
  private readonly reconcileTimer: NodeJS.Timeout;
  private readonly flushIntervalMs: number;
  /** The signature of every session as last sent. */
  private readonly sent = new Map<string, string>();

  constructor(
    private readonly source: FleetSource,
    options: FleetFeedOptions = {},
  ) {
    this.flushIntervalMs = options.flushIntervalMs ?? 100;
    source.on('transition', this.onTransition);
    source.on('removed', this.onRemoved);
    this.reconcileTimer = setInterval(() => this.reconcile(), options.reconcileIntervalMs ?? 5_000);
    this.reconcileTimer.unref();
  }

  /** All sessions now, then `listener` with each batch of changes; returns the way to stop. */
  subscribe(listener: (changes: FleetChanges) => void): { sessions: SessionView[]; stop: () => void } {
    this.listeners.add(listener);
    const sessions = this.source.list();
    for (const view of sessions) this.sent.set(keyString(view), signature(view));
    return { sessions, stop: () => void this.listeners.delete(listener) };
  }

  close(): void {
    this.source.off('transition', this.onTransition);
    this.source.off('removed', this.onRemoved);
    if (this.timer) clearTimeout(this.timer);
    clearInterval(this.reconcileTimer);
    this.timer = null;
    this.listeners.clear();
  }

  /** Queue whatever differs between the registry and what pages were sent. */
  reconcile(): void {
    if (this.listeners.size === 0) return;
    const present = new Set<string>();
    for (const view of this.source.list()) {
      const id = keyString(view);
      present.add(id);
      if (this.sent.get(id) !== signature(view)) this.pendingViews.set(id, { userId: view.userId, sessionId: view.sessionId });
    }
    for (const id of this.sent.keys()) {
      if (present.has(id)) continue;
      const [userId, sessionId] = id.split('/') as [string, string];
      this.pendingRemovals.set(id, { userId, sessionId });
    }
    if (this.pendingViews.size || this.pendingRemovals.size) this.schedule();
  }

  private readonly onTransition = (view: SessionView): void => {
    const id = keyString(view);
    this.pendingRemovals.delete(id);
    this.pendingViews.set(id, { userId: view.userId, sessionId: view.sessionId });
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
    for (const view of views) this.sent.set(keyString(view), signature(view));
    for (const key of changes.removed) this.sent.delete(keyString(key));
    for (const listener of this.listeners) listener(changes);
  }
}
