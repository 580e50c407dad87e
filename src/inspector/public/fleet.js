// The fleet: every session's latest view, counts per state, the order that
// puts sessions needing a person first, and a virtualised list that draws
// only the rows in sight (2,000 sessions cost ~30 rows of DOM).

export const states = ['connecting', 'open', 'degraded', 'backingOff', 'terminated'];
/** From this attempt on, a session backing off is listed with the ones that need attention. */
export const highAttempt = 3;
export const rowHeightPx = 30;
const overscanRows = 6;

export const keyOf = (s) => `${s.userId}/${s.sessionId}`;
const awaitingQr = (s) => s.status === 'connecting.awaitingQr';

/** Lower first: terminated on its own, backing off for a while, waiting for a scan, then the rest. */
export function urgency(s) {
  if (s.state === 'terminated') return s.terminatedReason === 'stopped' ? 7 : 0;
  if (s.state === 'backingOff') return s.attempt >= highAttempt ? 1 : 4;
  if (awaitingQr(s)) return 2;
  if (s.state === 'degraded') return 3;
  if (s.state === 'connecting') return 5;
  return 6;
}

export function needsAttention(s) {
  return urgency(s) <= 2;
}

/** "backingOff · attempt 3", "terminated · replaced", "connecting · awaitingQr", "open". */
export function describe(s) {
  if (s.state === 'terminated') return `terminated · ${s.terminatedReason ?? 'unknown'}`;
  if (s.state === 'backingOff') return `backingOff · attempt ${s.attempt}`;
  return awaitingQr(s) ? 'awaiting QR' : s.state;
}

export class FleetModel {
  constructor() {
    this.sessions = new Map();
    this.version = 0;
  }

  reset(list) {
    this.sessions = new Map(list.map((s) => [keyOf(s), s]));
    this.version += 1;
  }

  apply({ views, removed }) {
    for (const key of removed) this.sessions.delete(keyOf(key));
    for (const view of views) this.sessions.set(keyOf(view), view);
    this.version += 1;
  }

  counts() {
    const counts = Object.fromEntries(states.map((s) => [s, 0]));
    let qr = 0;
    let attention = 0;
    for (const s of this.sessions.values()) {
      counts[s.state] = (counts[s.state] ?? 0) + 1;
      if (awaitingQr(s)) qr += 1;
      if (needsAttention(s)) attention += 1;
    }
    return { ...counts, awaitingQr: qr, attention, total: this.sessions.size };
  }

  /** Matching sessions, most urgent first, then by id. */
  select({ search, filter }) {
    const needle = search.trim().toLowerCase();
    const out = [];
    for (const s of this.sessions.values()) {
      if (needle && !keyOf(s).toLowerCase().includes(needle)) continue;
      if (filter === 'attention' && !needsAttention(s)) continue;
      if (filter === 'awaitingQr' && !awaitingQr(s)) continue;
      if (filter && filter !== 'attention' && filter !== 'awaitingQr' && s.state !== filter) continue;
      out.push(s);
    }
    return out.sort((a, b) => urgency(a) - urgency(b) || b.attempt - a.attempt || keyOf(a).localeCompare(keyOf(b)));
  }
}

/** The list: absolutely placed rows inside a spacer as tall as every row would be. */
export class FleetList {
  constructor(container, spacer, { onSelect }) {
    Object.assign(this, { container, spacer, onSelect });
    this.rows = [];
    this.selected = null;
    this.pool = new Map();
    container.addEventListener('scroll', () => this.paint());
    container.addEventListener('keydown', (event) => this.onKey(event));
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
        row.innerHTML = '<span class="dot"></span><span class="id"></span><span class="badge"></span>';
        row.addEventListener('click', () => this.onSelect(key));
        this.pool.set(key, row);
        this.spacer.append(row);
      }
      row.style.transform = `translateY(${i * rowHeightPx}px)`;
      row.dataset.index = String(i);
      row.dataset.state = s.state;
      row.classList.toggle('qr', awaitingQr(s));
      row.setAttribute('aria-selected', String(key === this.selected));
      row.querySelector('.id').textContent = key;
      const badge = row.querySelector('.badge');
      badge.textContent = describe(s);
      badge.className = `badge ${s.state}`;
      const last = s.lastDisconnect ? ` · last disconnect ${s.lastDisconnect.statusCode ?? 'no code'} ${s.lastDisconnect.message ?? ''}` : '';
      row.title = `${key}: ${describe(s)}${last}`;
    }
    for (const [key, row] of this.pool) {
      if (wanted.has(key) || row === document.activeElement) continue;
      row.remove();
      this.pool.delete(key);
    }
  }

  /** Up/down/Home/End move the focus along the list, scrolling rows into existence. */
  onKey(event) {
    const current = document.activeElement?.closest?.('.row');
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
