// The session log: transitions and what caused them, newest first; timer
// ticks only when asked. A click on an entry shows the session as it was.
// Entries marked `earlier` come from the outbox (before this service process
// started): muted, tagged "before restart", and they carry the event's facts, not a context.

/** Entries kept in the page per session. */
export const maxEntries = 400;

const timeFormat = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  fractionalSecondDigits: 3,
  hour12: false,
  timeZoneName: 'short',
});
const dateFormat = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: '2-digit', day: '2-digit' });

/** "14:03:05.120 UTC" (the browser's zone, named). */
export function formatTime(iso) {
  return timeFormat.format(new Date(iso));
}

export function formatDateTime(iso) {
  return `${dateFormat.format(new Date(iso))} ${formatTime(iso)}`;
}

export class SessionLog {
  /** onOldestDropped(): the oldest transition held had to go (the log is full), so an older page would not join it. */
  constructor(list, { onPick, onOldestDropped = () => {} }) {
    this.list = list;
    this.onPick = onPick;
    this.onOldestDropped = onOldestDropped;
    this.entries = [];
    /** Entries the operator loaded with "Load earlier entries": the log holds that many more than maxEntries. */
    this.loaded = 0;
    this.showTicks = false;
    this.picked = null;
  }

  reset(entries) {
    this.entries = entries.slice(-maxEntries);
    this.loaded = 0;
    this.picked = null;
    this.render();
  }

  /** Older entries (oldest first) before the ones held: an earlier page from the outbox. */
  prependEarlier(entries) {
    this.entries.unshift(...entries);
    this.loaded += entries.length;
    this.render();
  }

  /** The smallest seq held (0 when none is below it): an older page's seqs end below it. */
  lowestSeq() {
    return Math.min(0, ...this.entries.map((e) => e.seq));
  }

  /**
   * A live entry. Past maxEntries (plus what was loaded) the oldest timer tick goes first —
   * ticks are never in the outbox, transitions are the history; only a log of transitions
   * alone loses its oldest one, and then says so (onOldestDropped), since an older page
   * would no longer join what is held.
   */
  add(entry) {
    this.entries.push(entry);
    let redraw = false;
    while (this.entries.length > maxEntries + this.loaded) {
      const tick = this.entries.findIndex((e) => e.kind === 'tick');
      const [gone] = this.entries.splice(tick === -1 ? 0 : tick, 1);
      if (gone.kind === 'transition') this.onOldestDropped();
      redraw ||= gone.kind === 'transition' || this.showTicks;
    }
    if (redraw) return this.render();
    if (entry.kind === 'tick' && !this.showTicks) return;
    this.list.prepend(this.item(entry));
  }

  setShowTicks(show) {
    this.showTicks = show;
    this.render();
  }

  /** The newest transition (for the live chart's highlight and context). */
  lastTransition() {
    for (let i = this.entries.length - 1; i >= 0; i--) if (this.entries[i].kind === 'transition') return this.entries[i];
    return null;
  }

  setPicked(seq) {
    this.picked = seq;
    for (const li of this.list.children) li.setAttribute('aria-current', String(Number(li.dataset.seq) === seq));
  }

  render() {
    const shown = this.entries.filter((e) => this.showTicks || e.kind === 'transition');
    this.list.replaceChildren(...shown.reverse().map((e) => this.item(e)));
  }

  item(entry) {
    const li = document.createElement('li');
    li.className = entry.earlier ? `${entry.kind} earlier` : entry.kind;
    li.dataset.seq = String(entry.seq);
    li.setAttribute('aria-current', String(entry.seq === this.picked));
    const time = document.createElement('time');
    time.dateTime = entry.at;
    time.textContent = formatTime(entry.at);
    time.title = formatDateTime(entry.at);
    const what = document.createElement('span');
    what.className = 'what';
    what.textContent = entry.label;
    what.title = entry.event;
    const where = document.createElement('span');
    where.className = 'where';
    where.textContent = entry.kind === 'tick' ? `in ${entry.to}` : entry.from && entry.from !== entry.to ? `${entry.from} → ${entry.to}` : entry.to;
    if (entry.earlier) {
      const tag = document.createElement('span');
      tag.className = 'earlier-tag';
      tag.textContent = 'before restart';
      where.append(' ', tag);
    }
    if (entry.kind === 'transition') {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'pick';
      button.title = 'Show the session as it was after this';
      button.append(time, what, where);
      button.addEventListener('click', () => this.onPick(entry));
      li.append(button);
    } else li.append(time, what, where);
    return li;
  }
}
