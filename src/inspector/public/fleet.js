// The fleet: every session's latest view, counts per state, the order that
// puts sessions needing a person first, and a virtualised list that draws
// only the rows in sight (2,000 sessions cost ~30 rows of DOM).

// The machine's top-level states, served from machines/session.states.ts (the one list).
import { states } from './states.js';

export { states };
/** From this attempt on, a session backing off is listed with the ones that need attention. */
export const highAttempt = 3;
export const rowHeightPx = 30;
const overscanRows = 6;

/** From this many sessions in one fleet-wide condition on, one banner says it instead of a row each. */
export const bannerMinimum = 3;

export const keyOf = (s) => `${s.userId}/${s.sessionId}`;
const awaitingQr = (s) => s.status === 'connecting.awaitingQr';
/** This node stopped the session to protect itself (it could not prove its lease): not anyone's choice. */
export const isFenced = (s) => s.state === 'terminated' && s.terminatedReason === 'fenced';
/**
 * The fence banner speaks of this node's leases: a session another node runs (and fenced,
 * as that node announced) is that node's banner. `self`: this node's holder, once known.
 */
const isFencedHere = (s, self) => isFenced(s) && !(self && s.owner && s.owner !== self);
/**
 * Backing off from a failure WhatsApp never answered: no close code came back (refused,
 * reset, DNS, a deadline with no server frame). The view carries no more than
 * lastDisconnect.statusCode to tell; a close WhatsApp sent (428, 500, 503 …) has one.
 */
export const isUnanswered = (s) => s.state === 'backingOff' && s.lastDisconnect != null && s.lastDisconnect.statusCode == null;

/**
 * Run by another node of the cluster: this node's feed knows its owner, not its state (it
 * says `terminated · ownedElsewhere`). Not ended, and nothing for this console to act on
 * first: listed apart, never as needing attention; that node's console has its state.
 */
export const isElsewhere = (s) => s.state === 'terminated' && s.terminatedReason === 'ownedElsewhere';

/**
 * Lower first: terminated on its own (a self-fence too), backing off for a while, waiting
 * for a scan, then the rest. Only an operator's stop, and a stop at shutdown (the service
 * was leaving; the session runs again at the next start), are nobody's problem.
 */
export function urgency(s) {
  if (isElsewhere(s)) return 8;
  if (s.state === 'terminated') return s.terminatedReason === 'stopped' || s.terminatedReason === 'shutdown' ? 7 : 0;
  if (s.state === 'backingOff') return s.attempt >= highAttempt ? 1 : 4;
  if (awaitingQr(s)) return 2;
  if (s.state === 'degraded') return 3;
  if (s.state === 'connecting') return 5;
  return 6;
}

export function needsAttention(s) {
  return urgency(s) <= 2;
}

/** Reasons whose word alone would mislead: a fence is not an operator's stop. */
const reasonLabels = { fenced: 'fenced · lease unproven', shutdown: 'ended at shutdown', stopped: 'stopped by operator' };

/** "backingOff · attempt 3", "terminated · replaced", "fenced · lease unproven", "awaiting QR", "open". */
export function describe(s) {
  if (isElsewhere(s)) return 'on another node';
  if (s.state === 'terminated') return reasonLabels[s.terminatedReason] ?? `terminated · ${s.terminatedReason ?? 'unknown'}`;
  if (s.state === 'backingOff') return `backingOff · attempt ${s.attempt}`;
  return awaitingQr(s) ? 'awaiting QR' : s.state;
}

/**
 * The fleet-wide conditions a banner states once:
 *  - fence: bannerMinimum or more sessions fenced (this node could not prove its leases);
 *  - outage: bannerMinimum or more sessions backing off unanswered, and more than half of
 *    the sessions meant to run (every one not terminated) — most
 *    of the fleet cannot reach WhatsApp, so the fault is the network or WhatsApp, not them.
 * A session a banner covers leaves the attention count and goes below the rows that each
 * need a person: 2,000 rows saying the same thing would bury the one that does not.
 */
export const conditions = {
  fence: { matches: isFencedHere, active: (n) => n >= bannerMinimum },
  outage: { matches: isUnanswered, active: (n, running) => n >= bannerMinimum && n * 2 > running },
};

export class FleetModel {
  constructor() {
    this.sessions = new Map();
    this.version = 0;
    /**
     * Per condition, per session: {at, before}: when the page saw it enter the condition live,
     * or (before: true) when a full snapshot (first load, reconnect) showed it already in it.
     */
    this.entered = { fence: new Map(), outage: new Map() };
    this.banners = [];
    /** This node's holder (GET /cluster's self), once known: which sessions are this node's to fence. */
    this.self = null;
  }

  /** Learns which node this is; the conditions are counted again with it. */
  setSelf(self) {
    if (this.self === self) return;
    this.self = self;
    this.reset([...this.sessions.values()]);
  }

  reset(list) {
    this.sessions = new Map(list.map((s) => [keyOf(s), s]));
    for (const [name, times] of Object.entries(this.entered)) {
      for (const key of times.keys()) if (!this.sessions.has(key) || !conditions[name].matches(this.sessions.get(key), this.self)) times.delete(key);
    }
    for (const s of this.sessions.values()) this.note(s, true);
    this.changed();
  }

  apply({ views, removed }) {
    for (const key of removed) {
      this.sessions.delete(keyOf(key));
      for (const times of Object.values(this.entered)) times.delete(keyOf(key));
    }
    for (const view of views) {
      this.sessions.set(keyOf(view), view);
      this.note(view);
    }
    this.changed();
  }

  /** Keeps the first time each session was seen in each condition; forgets it once it leaves. */
  note(s, fromSnapshot = false) {
    const key = keyOf(s);
    for (const [name, { matches }] of Object.entries(conditions)) {
      const times = this.entered[name];
      if (!matches(s, this.self)) times.delete(key);
      else if (!times.has(key)) times.set(key, { at: Date.now(), before: fromSnapshot });
    }
  }

  changed() {
    this.version += 1;
    this.banners = this.findBanners();
  }

  /** [{name, count, running, since, sinceLoad}]: since is the earliest entry the page saw; sinceLoad when it was already so at a snapshot. */
  findBanners() {
    let running = 0;
    for (const s of this.sessions.values()) if (s.state !== 'terminated') running += 1;
    const out = [];
    for (const [name, { active }] of Object.entries(conditions)) {
      const times = this.entered[name];
      const count = times.size;
      if (!active(count, running)) continue;
      const first = [...times.values()].reduce((a, b) => (b.at < a.at ? b : a));
      out.push({ name, count, running, since: first.at, sinceLoad: first.before });
    }
    return out;
  }

  /** How many sessions each owner runs, as the feed says (the owners a filter can offer). */
  owners() {
    const counts = new Map();
    for (const s of this.sessions.values()) if (s.owner) counts.set(s.owner, (counts.get(s.owner) ?? 0) + 1);
    return counts;
  }

  /** Whether a banner speaks for this session already. */
  covered(s) {
    return this.banners.some((banner) => conditions[banner.name].matches(s, this.self));
  }

  /** A session a banner covers ranks after those that each need a person, before the calm ones. */
  rank(s) {
    return this.covered(s) ? 2.5 : urgency(s);
  }

  counts() {
    const counts = Object.fromEntries(states.map((s) => [s, 0]));
    let qr = 0;
    let attention = 0;
    let elsewhere = 0;
    for (const s of this.sessions.values()) {
      if (isElsewhere(s)) {
        elsewhere += 1;
        continue;
      }
      counts[s.state] = (counts[s.state] ?? 0) + 1;
      if (awaitingQr(s)) qr += 1;
      if (needsAttention(s) && !this.covered(s)) attention += 1;
    }
    return { ...counts, awaitingQr: qr, attention, elsewhere, total: this.sessions.size };
  }

  /**
   * Matching sessions, most urgent first, then by id. `fence`/`outage` filter: the ones a banner speaks for;
   * owner: only the sessions that node owns now ('' or absent: any).
   */
  select({ search, filter, owner = '' }) {
    const needle = search.trim().toLowerCase();
    const out = [];
    for (const s of this.sessions.values()) {
      if (needle && !keyOf(s).toLowerCase().includes(needle)) continue;
      if (owner && s.owner !== owner) continue;
      if (!matchesFilter(s, filter, this)) continue;
      out.push(s);
    }
    return out.sort((a, b) => this.rank(a) - this.rank(b) || b.attempt - a.attempt || keyOf(a).localeCompare(keyOf(b)));
  }
}

function matchesFilter(s, filter, model) {
  if (!filter) return true;
  if (filter === 'attention') return needsAttention(s) && !model.covered(s);
  if (filter === 'awaitingQr') return awaitingQr(s);
  if (filter === 'elsewhere') return isElsewhere(s);
  if (isElsewhere(s)) return false; // its state is not known here: no state filter claims it
  if (filter in conditions) return conditions[filter].matches(s, model.self);
  return s.state === filter;
}

/**
 * The list: absolutely placed rows inside a spacer as tall as every row would be.
 *
 * Two kinds of choice, kept apart: the *selected* session (one; its chart, log and
 * actions are shown) and the *checked* ones (any number; the bulk actions act on
 * them). A click selects; a click on a row's box, ctrl/⌘-click or Space checks;
 * shift-click checks every row from the last one checked. Checks are kept by key, so
 * they survive the rows being drawn again, re-sorted or filtered away.
 */
export class FleetList {
  constructor(container, spacer, { onSelect, onCheck = () => {} }) {
    this.container = container;
    this.spacer = spacer;
    this.onSelect = onSelect;
    this.onCheck = onCheck;
    this.rows = [];
    this.selected = null;
    /** Keys of the checked sessions. */
    this.checked = new Set();
    /** The row last checked or unchecked by hand: where a shift-click range starts. */
    this.anchor = null;
    this.pool = new Map();
    container.addEventListener('scroll', () => this.paint());
    container.addEventListener('keydown', (event) => this.onKey(event));
    // Space on a focused row checks it instead of pressing the button (which selects).
    container.addEventListener('keyup', (event) => {
      if (event.key === ' ' && /** @type {Element} */ (event.target).closest?.('.row')) event.preventDefault();
    });
  }

  /** Checks or unchecks `keys` (all set to `on`), then says so once. */
  setChecked(keys, on) {
    for (const key of keys) {
      if (on) this.checked.add(key);
      else this.checked.delete(key);
    }
    this.paint();
    this.onCheck();
  }

  /** Forgets checks of sessions that are gone (removed from the fleet). */
  keepOnly(present) {
    let dropped = false;
    for (const key of this.checked) {
      if (present.has(key)) continue;
      this.checked.delete(key);
      dropped = true;
    }
    if (dropped) this.onCheck();
  }

  onRowClick(event, key, row) {
    const onBox = Boolean(/** @type {Element} */ (event.target).closest('.check'));
    if (event.shiftKey && this.anchor !== null) {
      // The range between the anchor and this row, as the list is ordered now.
      const from = this.rows.findIndex((s) => keyOf(s) === this.anchor);
      const to = Number(row.dataset.index);
      if (from >= 0) {
        const [lo, hi] = from < to ? [from, to] : [to, from];
        this.setChecked(this.rows.slice(lo, hi + 1).map(keyOf), true);
        this.anchor = key;
        return;
      }
    }
    if (onBox || event.ctrlKey || event.metaKey || event.shiftKey) {
      this.anchor = key;
      this.setChecked([key], !this.checked.has(key));
      return;
    }
    this.onSelect(key);
  }

  show(rows, selected) {
    this.rows = rows;
    this.selected = selected;
    this.spacer.style.height = `${rows.length * rowHeightPx}px`;
    this.paint();
  }

  paint() {
    const { scrollTop, clientHeight } = this.container;
    const first = Math.max(0, Math.floor(scrollTop / rowHeightPx) - overscanRows);
    const last = Math.min(this.rows.length, Math.ceil((scrollTop + clientHeight) / rowHeightPx) + overscanRows);
    const wanted = new Set();
    for (let i = first; i < last; i++) {
      const s = this.rows[i];
      const key = keyOf(s);
      wanted.add(key);
      let row = this.pool.get(key);
      if (!row) {
        row = document.createElement('button');
        row.type = 'button';
        row.className = 'row';
        row.setAttribute('role', 'option');
        row.dataset.key = key;
        // The box is inside the button (one focusable row, as before): its role is for the eye and the test, the row's title says it.
        row.innerHTML = '<span class="check" aria-hidden="true"></span><span class="dot"></span><span class="id"></span><span class="owner"></span><span class="badge"></span>';
        row.addEventListener('click', (event) => this.onRowClick(event, key, row));
        this.pool.set(key, row);
        this.spacer.append(row);
      }
      row.style.transform = `translateY(${i * rowHeightPx}px)`;
      row.dataset.index = String(i);
      row.dataset.state = isElsewhere(s) ? 'elsewhere' : s.state;
      row.classList.toggle('qr', awaitingQr(s));
      row.setAttribute('aria-selected', String(key === this.selected));
      row.classList.toggle('checked', this.checked.has(key));
      row.dataset.checked = String(this.checked.has(key));
      row.querySelector('.id').textContent = key;
      // The owning process, cut first (then the badge; the id last): which node to look at.
      row.querySelector('.owner').textContent = s.owner ?? '';
      const badge = row.querySelector('.badge');
      badge.textContent = describe(s);
      badge.className = `badge ${isElsewhere(s) ? 'elsewhere' : s.state}`;
      badge.dataset.reason = s.terminatedReason ?? '';
      const last = s.lastDisconnect ? ` · last disconnect ${s.lastDisconnect.statusCode ?? 'no code'} ${s.lastDisconnect.message ?? ''}` : '';
      const owner = s.owner ? ` · owner ${s.owner}` : '';
      row.title = `${key}: ${describe(s)}${last}${owner}`;
    }
    for (const [key, row] of this.pool) {
      if (wanted.has(key) || row === document.activeElement) continue;
      row.remove();
      this.pool.delete(key);
    }
  }

  /** Up/down/Home/End move the focus along the list, scrolling rows into existence. */
  onKey(event) {
    const current = /** @type {HTMLElement | null} */ (document.activeElement?.closest?.('.row'));
    if (current && event.key === ' ') {
      event.preventDefault();
      this.anchor = current.dataset.key;
      this.setChecked([current.dataset.key], !this.checked.has(current.dataset.key));
      return;
    }
    if (!current || !['ArrowDown', 'ArrowUp', 'Home', 'End'].includes(event.key)) return;
    event.preventDefault();
    const index = Number(current.dataset.index);
    const next = { ArrowDown: index + 1, ArrowUp: index - 1, Home: 0, End: this.rows.length - 1 }[event.key];
    if (next < 0 || next >= this.rows.length) return;
    this.focusIndex(next);
  }

  focusIndex(index) {
    const top = index * rowHeightPx;
    if (top < this.container.scrollTop) this.container.scrollTop = top;
    if (top + rowHeightPx > this.container.scrollTop + this.container.clientHeight) this.container.scrollTop = top + rowHeightPx - this.container.clientHeight;
    this.paint();
    this.pool.get(keyOf(this.rows[index]))?.focus();
  }
}
