/**
 * One change of one session's view, worked out once by the session's owner: the
 * view before (null for a session just added to this process) and after. Every
 * consumer (metrics, events, the inspector, messaging) reads what changed from
 * here, so none of them keeps a copy of the last view to diff against.
 */
import type { SessionKey } from '../store/session-key.js';
import type { SessionView } from './session-view.js';

export interface SessionChange {
  key: SessionKey;
  /** The view as last announced; null when the session was just added to this process. */
  before: SessionView | null;
  after: SessionView;
  /**
   * The last holder seen before this change, kept through the moments the lease is
   * between holders (a view's owner is null then): who a takeover took the session from.
   */
  previousOwner: string | null;
}

/**
 * Views are plain data (what the API sends), so two with the same JSON are the same view.
 * `before` is compared as the JSON kept from its announcement.
 */
export function viewJson(view: SessionView): string {
  return JSON.stringify(view);
}
