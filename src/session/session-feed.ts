/**
 * What the session registry tells its listeners, typed once: each session's
 * changes and its removal. Metrics, events, the inspector and messaging depend on
 * this, not on the registry itself.
 */
import type { SessionKey } from '../store/session-key.js';
import type { SessionChange } from './session-change.js';

export interface SessionFeedEvents {
  /** A session's view changed (its state, a disconnect, its owner, its stored metadata…). */
  change: [change: SessionChange];
  /** A session is gone from this process; `lastOwner` is the last holder its views named. */
  removed: [key: SessionKey, lastOwner: string | null];
}

export interface SessionFeed {
  on(event: 'change', listener: (change: SessionChange) => void): unknown;
  on(event: 'removed', listener: (key: SessionKey, lastOwner: string | null) => void): unknown;
  off(event: 'change', listener: (change: SessionChange) => void): unknown;
  off(event: 'removed', listener: (key: SessionKey, lastOwner: string | null) => void): unknown;
}
