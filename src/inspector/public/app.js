// wa-vigil inspector: plain browser JavaScript, no library, nothing from the
// internet. One live feed for the fleet, one for the selected session; the
// API key is asked once and kept for the tab. Actions use the ordinary API.

import { bulkActions, runPaced, sessionCount, summary } from './bulk.js';
import { Chart } from './chart.js';
import { ClusterView } from './cluster.js';
import { HttpError, LiveStream, readStream, staleAfterMs } from './feed.js';
import { FleetList, FleetModel, keyOf, states } from './fleet.js';
import { QrDialog, sessionPath as pathOf } from './link.js';
import { SessionLog, formatTime } from './log.js';

const keyStorage = 'wa-vigil-api-key';
/** "14:03:05": a message line has room for the id first; the full time is its tooltip. */
const shortTime = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
const clockTickMs = 250;
/** The page's elements by id (index.html), typed as what they are, so the type checker sees through them. */
const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const $input = (/** @type {string} */ id) => /** @type {HTMLInputElement} */ ($(id));
const $select = (/** @type {string} */ id) => /** @type {HTMLSelectElement} */ ($(id));
const $button = (/** @type {string} */ id) => /** @type {HTMLButtonElement} */ ($(id));
const $dialog = (/** @type {string} */ id) => /** @type {HTMLDialogElement} */ ($(id));
/** The tab title without the attention count: "(3) wa-vigil inspector" from a tab strip. */
const baseTitle = document.title;

const app = {
  apiKey: sessionStorage.getItem(keyStorage) ?? '',
  chart: null,
  fleet: new FleetModel(),
  list: null,
  live: null,
  online: false,
  selected: null,
  view: null,
  context: null,
  messages: null,
  taken: null,
  past: null,
  sessionAbort: null,
  paintQueued: false,
  qr: null,
  /** The session the pairing dialog asks a code for (the selected one, or the QR dialog's). */
  pairingKey: null,
  /** A session just created from the form, selected as soon as the fleet feed lists it. */
  pendingSelect: null,
  /** The cluster view (GET /cluster); hidden on a file store. */
  cluster: null,
  /** Where the selected session's older log starts in the outbox (the feed's nextBeforeId); null: nothing older. */
  earlierFrom: /** @type {string | null} */ (null),
  /** Counts every new start of the log (another session, a feed's `history`): a page read for an older one is dropped. */
  logGeneration: 0,
  /** The bulk action under way, as its Cancel; null when none runs (its buttons wait until it is done). */
  bulkCancel: /** @type {AbortController | null} */ (null),
};

async function api(path, init = {}) {
  const headers = { ...(init.headers ?? {}), 'x-api-key': app.apiKey };
  const res = await fetch(path, { ...init, headers });
  if (res.status === 401) throw new HttpError(401, path);
  if (!res.ok) {
    const body = await res.json().catch(() => null);
    throw Object.assign(new HttpError(res.status, path), { message: body?.message ?? `HTTP ${res.status}` });
  }
  return res;
}

function say(text, isError = false) {
  const status = $('connection');
  status.dataset.note = text;
  status.classList.toggle('error', isError);
  renderConnection();
}

// ---- connection state -------------------------------------------------------

/**
 * live: the fleet feed spoke within staleAfterMs (the server's keep-alive comes every 2 s);
 * stale: the stream is open but silent, so every number on the page may be old;
 * lost: no stream, a reconnect is due at retryAt. Not live, the page says how old its data is.
 */
function freshness() {
  const heardAt = app.live?.heardAt ?? null;
  const age = heardAt === null ? null : Date.now() - heardAt;
  if (!app.online) return { state: 'lost', age };
  return { state: age !== null && age > staleAfterMs ? 'stale' : 'live', age };
}

const ageText = (age) => (age === null ? '' : ` · data ${Math.floor(age / 1000)} s old`);

/** Runs every clockTickMs too: the age and the countdown count. */
function renderConnection() {
  const status = $('connection');
  const { state, age } = freshness();
  document.body.classList.toggle('offline', state === 'lost');
  document.body.classList.toggle('stale', state === 'stale');
  if (state === 'live') status.textContent = `live${status.dataset.note ? ` · ${status.dataset.note}` : ''}`;
  else if (state === 'stale') status.textContent = `no word from the service${ageText(age)}`;
  else {
    const retryAt = app.live?.retryAt;
    const next = retryAt ? `retrying in ${seconds(retryAt - Date.now())}` : 'reconnecting…';
    status.textContent = `connection lost · ${next}${ageText(age)}`;
  }
  status.dataset.state = state;
  $('retry-now').hidden = state === 'live' || !app.live;
}

function onOnline() {
  app.online = true;
  $('connection').dataset.note = '';
  renderConnection();
  renderActions();
  renderBulk();
  if (app.selected) followSession(app.selected);
  app.cluster.start();
}

function onOffline() {
  app.online = false;
  app.sessionAbort?.abort();
  app.cluster.stop();
  renderConnection();
  renderActions();
  renderBulk();
}

/** The one answer to a 401, from any request or stream: forget the key and ask for one. */
function onUnauthorized() {
  sessionStorage.removeItem(keyStorage);
  app.online = false;
  app.live?.stop();
  app.cluster?.stop();
  for (const open of document.querySelectorAll('dialog[open]')) /** @type {HTMLDialogElement} */ (open).close();
  $('main').hidden = true;
  $('key-form').hidden = false;
  // A first visit without a key is not a refusal.
  $('key-error').textContent = app.apiKey ? 'That API key was refused.' : '';
}

// ---- the fleet ---------------------------------------------------------------

function onFleetEvent(type, data) {
  if (type === 'sessions') app.fleet.reset(data);
  if (type === 'changes') app.fleet.apply(data);
  // Selected only once listed: selected before, a batch sent before its creation would read as its removal.
  if (app.pendingSelect && app.fleet.sessions.has(app.pendingSelect)) {
    const key = app.pendingSelect;
    app.pendingSelect = null;
    select(key);
  }
  if (app.selected && !app.fleet.sessions.has(app.selected)) selectedGone();
  // Its feed said 404 but the fleet has it (restored a moment after the service came back, or created again): follow it again.
  else if (app.selected && !app.sessionAbort && app.online) select(app.selected);
  if (!app.selected) {
    const first = app.fleet.select({ search: '', filter: '' })[0];
    const wanted = decodeURIComponent(location.hash.slice(1));
    if (wanted && app.fleet.sessions.has(wanted)) select(wanted);
    else if (first) select(keyOf(first));
  }
  queuePaint();
}

function queuePaint() {
  if (app.paintQueued) return;
  app.paintQueued = true;
  requestAnimationFrame(() => {
    app.paintQueued = false;
    paintFleet();
  });
}

function paintFleet() {
  const filter = $select('state-filter').value;
  const owner = $select('owner-filter').value;
  const rows = app.fleet.select({ search: $input('search').value, filter, owner });
  app.list.keepOnly(app.fleet.sessions);
  app.list.show(rows, app.selected);
  renderOwnerFilter();
  renderBulk();
  const counts = app.fleet.counts();
  renderBanners(app.fleet.banners);
  // Each banner is one thing to look at, however many sessions it speaks for.
  const attention = counts.attention + app.fleet.banners.length;
  document.title = attention > 0 ? `(${attention}) ${baseTitle}` : baseTitle;
  $('fleet-summary').textContent = rows.length === counts.total ? `${counts.total} sessions` : `${rows.length} of ${counts.total} sessions`;
  const chips = [
    ['', 'all', counts.total],
    ['attention', 'need attention', counts.attention],
    ...states.flatMap((s) => (s === 'connecting' ? [[s, s, counts[s]], ['awaitingQr', 'awaiting QR', counts.awaitingQr]] : [[s, s, counts[s]]])),
    // On a cluster: the sessions other nodes run, whose state this node's feed does not carry.
    ...(counts.elsewhere > 0 ? [['elsewhere', 'on other nodes', counts.elsewhere]] : []),
  ];
  $('counts').replaceChildren(
    ...chips.map(([value, label, count]) => {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = `count ${value}`;
      button.dataset.filter = value;
      button.setAttribute('aria-pressed', String(filter === value));
      button.innerHTML = '<b></b> <span></span>';
      button.querySelector('b').textContent = String(count);
      button.querySelector('span').textContent = label;
      button.addEventListener('click', () => {
        $select('state-filter').value = value;
        paintFleet();
      });
      return button;
    }),
  );
}

const bannerTexts = {
  fence: (b) => `This node could not prove its leases: ${b.count} sessions stopped until they are proven`,
  outage: (b) => `WhatsApp unreachable: ${b.count} of ${b.running} sessions backing off on failures WhatsApp never answered`,
};

/** "since 14:03:05", or "since before 14:03:05" when it was so already as the page (re)loaded the fleet. */
function sinceText(b) {
  return `since ${b.sinceLoad ? 'before ' : ''}${shortTime.format(new Date(b.since))}`;
}

function renderBanners(banners) {
  $('banners').replaceChildren(
    ...banners.map((b) => {
      const div = document.createElement('div');
      div.className = `banner ${b.name}`;
      div.dataset.banner = b.name;
      div.innerHTML = '<span class="text"></span><button type="button">show them</button>';
      div.querySelector('.text').textContent = `${bannerTexts[b.name](b)} · ${sinceText(b)}`;
      div.querySelector('button').addEventListener('click', () => {
        $select('state-filter').value = b.name;
        paintFleet();
      });
      return div;
    }),
  );
}

// ---- one session -------------------------------------------------------------

function select(key) {
  if (app.selected === key && app.sessionAbort) return;
  app.selected = key;
  app.logGeneration += 1;
  app.earlierFrom = null;
  renderEarlier();
  history.replaceState(null, '', `#${encodeURIComponent(key)}`);
  app.view = app.fleet.sessions.get(key) ?? null;
  app.past = null;
  app.context = null;
  app.messages = null;
  app.taken = null;
  $('chart-title').textContent = key;
  queuePaint();
  if (app.view) app.chart.centreOn(app.view.status);
  renderSession();
  renderMessages();
  if (app.online) followSession(key);
}

/** The selected session was removed: say so, keep its last picture, offer no actions. */
function selectedGone() {
  app.sessionAbort?.abort();
  app.sessionAbort = null;
  app.view = null;
  $('chart-title').textContent = `${app.selected} (removed)`;
  renderActions();
}

async function followSession(key) {
  app.sessionAbort?.abort();
  const controller = new AbortController();
  app.sessionAbort = controller;
  const [userId, sessionId] = key.split('/');
  try {
    await readStream(`/inspector/sessions/${encodeURIComponent(userId)}/${encodeURIComponent(sessionId)}/feed`, app.apiKey, controller.signal, (type, data) => {
      if (type === 'view') app.view = data;
      if (type === 'messages') {
        app.messages = data;
        return renderMessages();
      }
      if (type === 'history') {
        app.logGeneration += 1;
        app.log.reset(data.entries);
        app.earlierFrom = data.nextBeforeId ?? null;
        renderEarlier();
        app.context = data.context;
        app.taken = app.log.lastTransition();
      }
      if (type === 'entry') {
        app.log.add(data);
        if (data.kind === 'transition') {
          app.context = data.context;
          app.taken = data;
        }
      }
      renderSession();
    });
  } catch (error) {
    if (controller.signal.aborted) return;
    if (error?.status === 404) return selectedGone();
    if (error?.status === 401) return onUnauthorized();
  }
  // The stream ended while the fleet is still live (a restart of this session's feed): follow again.
  if (!controller.signal.aborted && app.online && app.selected === key) setTimeout(() => app.selected === key && app.online && followSession(key), 1000);
}

/** Older pages a click may read when they hold only entries this process shows already (its own events). */
const earlierPagesPerClick = 10;

function renderEarlier() {
  $button('log-earlier').hidden = app.earlierFrom === null;
}

/** "Load earlier entries": the next older page of the selected session's log, from the outbox. */
async function loadEarlier() {
  const key = app.selected;
  const generation = app.logGeneration;
  const button = $button('log-earlier');
  if (!key || app.earlierFrom === null || button.disabled) return;
  button.disabled = true;
  try {
    for (let page = 0; page < earlierPagesPerClick && app.earlierFrom !== null; page++) {
      const query = new URLSearchParams({ beforeId: app.earlierFrom, seqBelow: String(app.log.lowestSeq()) });
      const res = await api(`/inspector${pathOf(key)}/earlier?${query}`);
      const older = await res.json();
      // Another session, or the same one's log started again (its feed reconnected): this page belongs to neither.
      if (app.logGeneration !== generation) return;
      app.log.prependEarlier(older.entries);
      app.earlierFrom = older.nextBeforeId;
      if (older.entries.length > 0) break;
    }
  } finally {
    button.disabled = false;
    renderEarlier();
  }
}

function seconds(ms) {
  return `${Math.max(0, ms / 1000).toFixed(1)} s`;
}

function since(iso) {
  if (!iso) return '–';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m ${s % 60}s`;
}

/** The chart's one-line note in the current state's box. */
function liveDetail(v) {
  if (v.state === 'backingOff') return v.nextRetryAt ? `retry in ${seconds(Date.parse(v.nextRetryAt) - Date.now())} · attempt ${v.attempt}` : `attempt ${v.attempt}`;
  if (v.state === 'terminated') return `reason: ${v.terminatedReason ?? 'unknown'}`;
  if (v.state === 'open') return `up ${since(v.openSince)}`;
  if (v.state === 'degraded') return 'probe unanswered';
  if (v.status === 'connecting.awaitingQr') return 'waiting for a scan';
  return v.attempt ? `attempt ${v.attempt}` : '';
}

function pastDetail(entry) {
  const c = entry.context ?? entry.facts ?? {};
  const top = entry.to.split('.')[0];
  if (top === 'backingOff') return `attempt ${c.attempt}${c.retryDelayMs ? ` · waits ${seconds(c.retryDelayMs)}` : ''}`;
  if (top === 'terminated') return `reason: ${c.terminatedReason ?? 'unknown'}`;
  return '';
}

function rows(pairs) {
  $('context').replaceChildren(
    ...pairs.flatMap(([k, val]) => {
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = String(val);
      dd.dataset.field = k;
      return [dt, dd];
    }),
  );
}

const disconnectText = (d) => (d ? `${d.statusCode ?? 'no code'} ${d.message ?? ''}`.trim() : '–');

function renderSession() {
  const v = app.view;
  const past = app.past;
  $('past-banner').hidden = !past;
  document.body.classList.toggle('time-travel', Boolean(past));
  renderActions();
  if (past) {
    // An entry from before this process has the event's facts (attempt, disconnect, reason), not the whole context.
    const c = past.context ?? past.facts ?? {};
    $('past-text').textContent = `As it was at ${formatTime(past.at)}, after “${past.label}”${past.earlier ? ' (before restart)' : ''}`;
    $('context-title').textContent = past.earlier ? 'Recorded then (no full context before restart)' : 'Context then';
    app.chart.show(past.to, pastDetail(past), past);
    rows([
      ['state', past.to],
      ['attempt', c.attempt ?? '–'],
      ['retry delay', c.retryDelayMs ? seconds(c.retryDelayMs) : '–'],
      ['connections', c.connectionCount ?? '–'],
      ['last disconnect', disconnectText(c.lastDisconnect)],
      ['terminated', c.terminatedReason ?? '–'],
      ['account', c.me?.id ?? '–'],
    ]);
    $('raw-context').textContent = JSON.stringify(c, null, 2);
    return;
  }
  $('context-title').textContent = 'Context';
  if (!v) {
    rows([]);
    return;
  }
  app.chart.show(v.status, liveDetail(v), app.taken && app.taken.to === v.status ? app.taken : null);
  rows([
    ['state', v.status],
    ['attempt', v.attempt],
    ['next retry in', v.nextRetryAt ? seconds(Date.parse(v.nextRetryAt) - Date.now()) : '–'],
    ['uptime', v.openSince ? since(v.openSince) : '–'],
    ['reconnects', v.reconnects],
    ['last disconnect', disconnectText(v.lastDisconnect)],
    ['terminated', v.terminatedReason ?? '–'],
    ['account', v.me?.id ?? '–'],
    ['owner', v.owner ?? '–'],
  ]);
  $('raw-context').textContent = app.context ? JSON.stringify(app.context, null, 2) : '–';
}

/**
 * The session's outgoing queue depth and last messages, as the feed last sent them. The
 * feed carries ids, statuses and times only: no text or recipient ever reaches the page.
 * Always live, also while time-travelling (the service keeps no past of the queue).
 */
function renderMessages() {
  const m = app.messages;
  const depth = $('queue-depth');
  depth.textContent = m ? `${m.queued} queued` : '–';
  depth.dataset.queued = m ? String(m.queued) : '';
  $('messages').replaceChildren(...(m?.last ?? []).map(messageLine));
  if (m && m.last.length === 0) $('messages').append(Object.assign(document.createElement('li'), { className: 'muted', textContent: 'none sent yet' }));
}

function messageLine(line) {
  const li = document.createElement('li');
  li.dataset.id = line.id;
  li.dataset.status = line.status;
  li.innerHTML = '<code class="id"></code><span class="status"></span><time></time>';
  const id = /** @type {HTMLElement} */ (li.querySelector('.id'));
  id.textContent = line.id;
  id.title = line.id;
  const status = li.querySelector('.status');
  status.textContent = line.status;
  status.classList.add(line.status);
  // Why it failed, on a line of its own: the id and the status are never cut for it.
  if (line.error) li.append(Object.assign(document.createElement('span'), { className: 'error', textContent: line.error }));
  const time = li.querySelector('time');
  time.dateTime = line.at;
  time.textContent = shortTime.format(new Date(line.at));
  time.title = formatTime(line.at);
  return li;
}

function renderActions() {
  const v = app.view;
  const enabled = {
    start: v?.state === 'terminated',
    stop: Boolean(v) && v.state !== 'terminated',
    restart: Boolean(v),
    logout: Boolean(v) && !(v.state === 'terminated' && v.terminatedReason === 'loggedOut'),
    qr: v?.status === 'connecting.awaitingQr',
    pairing: v?.state === 'connecting' && !v.me,
  };
  for (const button of $('actions').querySelectorAll('button')) button.disabled = !app.online || !enabled[button.dataset.action];
  $button('new-session').disabled = !app.online;
}

// ---- actions -----------------------------------------------------------------

/** One question, one answer; `ok` is the confirming button's label ("Restart 37 sessions" says what it does). */
function confirmAction(text, ok = 'Confirm') {
  return new Promise((resolve) => {
    const dialog = $dialog('confirm-dialog');
    $('confirm-text').textContent = text;
    $('confirm-ok').textContent = ok;
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    dialog.showModal();
  });
}

const sessionPath = () => pathOf(app.selected);

async function runAction(button) {
  const action = button.dataset.action;
  if (!app.selected) return;
  if (action === 'qr') return app.qr.open(app.selected);
  if (action === 'pairing') return openPairing(app.selected);
  if (button.dataset.confirm && !(await confirmAction(`${app.selected}: ${button.dataset.confirm}`))) return;
  await api(`${sessionPath()}/${action}`, { method: 'POST' });
  say(`${action} sent to ${app.selected}`);
}

function openPairing(key) {
  app.pairingKey = key;
  // Said, as it may not be the selected session (opened from the QR dialog of one just created).
  $('pairing-for').textContent = `Link ${key} by phone number instead of a QR.`;
  $('pairing-result').textContent = '';
  $dialog('pairing-dialog').showModal();
}

async function requestPairingCode(event) {
  event.preventDefault();
  const result = $('pairing-result');
  result.textContent = 'Requesting…';
  try {
    const res = await api(`${pathOf(app.pairingKey)}/pairing-code`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ phoneNumber: $input('pairing-phone').value }),
    });
    const { code } = await res.json();
    result.textContent = `Code: ${code} — enter it on the phone (Linked devices → Link with phone number).`;
  } catch (error) {
    result.textContent = String(error.message);
  }
}

// ---- many sessions at once -------------------------------------------------------

/** The sessions listed now (filter, search and owner applied), in the list's order. */
const shownKeys = () => app.list.rows.map(keyOf);
/** Every session backing off now, whatever the list shows: the shortcut an incident needs. */
const backingOffKeys = () => [...app.fleet.sessions.values()].filter((s) => s.state === 'backingOff').map(keyOf);

function renderBulk() {
  const checked = app.list.checked.size;
  const shown = shownKeys();
  const shownChecked = shown.filter((key) => app.list.checked.has(key)).length;
  const all = $input('check-shown');
  all.checked = shown.length > 0 && shownChecked === shown.length;
  all.indeterminate = shownChecked > 0 && shownChecked < shown.length;
  all.disabled = shown.length === 0;
  $('check-shown-label').textContent = `check all ${shown.length}`;
  const hidden = checked - shownChecked;
  $('checked-count').textContent = checked === 0 ? '' : `${checked} checked${hidden > 0 ? ` (${hidden} not listed)` : ''}`;
  for (const id of ['bulk-stop', 'bulk-restart', 'bulk-clear']) $button(id).hidden = checked === 0;
  const running = app.bulkCancel !== null;
  for (const id of ['bulk-stop', 'bulk-restart']) $button(id).disabled = !app.online || running;
  const backingOff = backingOffKeys().length;
  const shortcut = $button('restart-backing-off');
  shortcut.hidden = backingOff === 0;
  shortcut.textContent = `Restart every session backing off (${backingOff})`;
  shortcut.disabled = !app.online || running;
  const cancel = $button('bulk-cancel');
  cancel.hidden = !running;
  cancel.disabled = app.bulkCancel?.signal.aborted ?? true;
}

/** One session's action for a bulk run; a 401 says stop (every other request would be refused too). */
async function postAction(key, action) {
  try {
    const res = await api(`${pathOf(key)}/${action}`, { method: 'POST' });
    // Read to the end: an unread answer holds its connection, and the pace's next request would wait for one.
    await res.arrayBuffer();
  } catch (error) {
    if (error?.status === 401) error.stop = true;
    throw error;
  }
}

/**
 * One confirmation naming the action and exactly how many, then one request per
 * session, paced (bulk.js), and one summary: N done, M failed with the first error.
 * The keys are fixed when asked: the count confirmed is the count acted on, even if
 * the fleet moves meanwhile. Failed sessions are left checked, so trying them again is one click.
 */
async function runBulk(action, keys, what) {
  if (keys.length === 0 || app.bulkCancel !== null) return;
  const { verb, doing, consequence } = bulkActions[action];
  if (!(await confirmAction(`${verb} ${sessionCount(keys.length)}${what}? ${consequence}`, `${verb} ${sessionCount(keys.length)}`))) return;
  const result = $('bulk-result');
  result.classList.remove('failed');
  const cancel = new AbortController();
  app.bulkCancel = cancel;
  renderBulk();
  const progress = ({ done, failed }) =>
    (result.textContent = `${doing} ${done + failed} of ${keys.length}…${cancel.signal.aborted ? ' cancelling: waiting for the requests already sent' : ''}`);
  progress({ done: 0, failed: 0 });
  try {
    const outcome = await runPaced(keys, (key) => postAction(key, action), { onProgress: progress, signal: cancel.signal });
    result.textContent = summary(action, outcome);
    result.classList.toggle('failed', outcome.failed.length > 0 || outcome.skipped.length > 0);
    result.dataset.done = String(outcome.done.length);
    result.dataset.failed = String(outcome.failed.length);
    app.list.setChecked(outcome.done, false);
    // Whatever the run was (checked rows or every one backing off), what failed or was cancelled
    // before its turn is left checked: going on is one click.
    const left = [...outcome.failed.map((f) => f.key), ...outcome.skipped];
    app.list.setChecked(left.filter((key) => app.fleet.sessions.has(key)), true);
    if (outcome.halted?.status === 401) onUnauthorized();
  } finally {
    app.bulkCancel = null;
    renderBulk();
  }
}

// ---- the cluster -----------------------------------------------------------------

/** The owner filter offers every live node (GET /cluster) and every owner the fleet names. */
function renderOwnerFilter() {
  const select = $select('owner-filter');
  const holders = new Set([...(app.cluster.state?.nodes ?? []).map((n) => n.holder), ...app.fleet.owners().keys()]);
  if (select.value) holders.add(select.value);
  const self = app.cluster.state?.self;
  const wanted = ['', ...[...holders].sort((a, b) => Number(b === self) - Number(a === self) || a.localeCompare(b))];
  const have = [...select.options].map((o) => o.value);
  if (wanted.join('\n') === have.join('\n')) return;
  const value = select.value;
  select.replaceChildren(
    ...wanted.map((holder) => {
      const option = document.createElement('option');
      option.value = holder;
      option.textContent = holder === '' ? 'every node' : holder === self ? `${holder} (this console)` : holder;
      return option;
    }),
  );
  select.value = value;
}

function filterByOwner(holder) {
  renderOwnerFilter();
  $select('owner-filter').value = holder;
  app.cluster.setPicked(holder);
  paintFleet();
}

// ---- a new session -------------------------------------------------------------

const idFields = { userId: 'new-user-id', sessionId: 'new-session-id' };

function openNewSession() {
  const form = /** @type {HTMLFormElement} */ ($('new-session-form'));
  form.reset();
  $('new-session-error').textContent = '';
  for (const id of Object.values(idFields)) $(id).removeAttribute('aria-invalid');
  $dialog('new-session-dialog').showModal();
}

/**
 * POST /sessions with the page's key. The API's message is shown as it is (it names the
 * field: `body.userId: must match pattern …`, `userId: must be 1 to 64 characters …`) and
 * the field it names is marked and focused. Created, the session is selected and its QR
 * dialog opened at once: the dialog follows it from its first QR to "linked".
 */
async function createSession(event) {
  event.preventDefault();
  const userId = $input('new-user-id').value.trim();
  const sessionId = $input('new-session-id').value.trim();
  const error = $('new-session-error');
  for (const id of Object.values(idFields)) $(id).removeAttribute('aria-invalid');
  error.textContent = '';
  $button('new-session-create').disabled = true;
  try {
    const res = await api('/sessions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      // An empty session id is left out: the API's default ("default") applies.
      body: JSON.stringify(sessionId ? { userId, sessionId } : { userId }),
    });
    const view = await res.json();
    const key = `${view.userId}/${view.sessionId}`;
    $dialog('new-session-dialog').close();
    say(`${key} created`);
    if (app.fleet.sessions.has(key)) select(key);
    else app.pendingSelect = key;
    app.qr.open(key);
  } catch (failure) {
    if (failure?.status === 401) return onUnauthorized();
    error.textContent = String(failure?.message ?? failure);
    const field = /\b(userId|sessionId)\b/.exec(error.textContent)?.[1];
    if (field) {
      $(idFields[field]).setAttribute('aria-invalid', 'true');
      $(idFields[field]).focus();
    }
  } finally {
    $button('new-session-create').disabled = false;
  }
}

// ---- start -------------------------------------------------------------------

function tick() {
  renderConnection();
  // Clocks stop while the service is unreachable or silent: a countdown or uptime would be a guess.
  if (freshness().state !== 'live' || app.past || !app.view) return;
  renderSession();
}

function wire() {
  app.list = new FleetList($('fleet-list'), $('fleet-spacer'), { onSelect: select, onCheck: renderBulk });
  app.cluster = new ClusterView({
    root: $('cluster'),
    title: $('cluster-title'),
    nodes: $('cluster-nodes'),
    fetchCluster: () => api('/cluster'),
    onPick: filterByOwner,
    onRefreshed: ({ self }) => {
      app.fleet.setSelf(self);
      queuePaint();
    },
  });
  $select('owner-filter').addEventListener('change', () => filterByOwner($select('owner-filter').value));
  const bulkFailed = (error) => (error?.status === 401 ? onUnauthorized() : say(String(error?.message ?? error), true));
  $input('check-shown').addEventListener('change', () => app.list.setChecked(shownKeys(), $input('check-shown').checked));
  $('bulk-clear').addEventListener('click', () => app.list.setChecked([...app.list.checked], false));
  $('bulk-cancel').addEventListener('click', () => {
    app.bulkCancel?.abort();
    renderBulk();
  });
  for (const id of ['bulk-stop', 'bulk-restart']) {
    const action = $button(id).dataset.bulk;
    $(id).addEventListener('click', () => runBulk(action, [...app.list.checked], ' (the checked ones)').catch(bulkFailed));
  }
  $('restart-backing-off').addEventListener('click', () => runBulk('restart', backingOffKeys(), ' backing off').catch(bulkFailed));
  app.log = new SessionLog($('log'), {
    onOldestDropped: () => {
      app.earlierFrom = null;
      renderEarlier();
    },
    onPick: (entry) => {
      app.past = entry;
      app.log.setPicked(entry.seq);
      renderSession();
    },
  });
  $('log-earlier').addEventListener('click', () =>
    loadEarlier().catch((error) => (error?.status === 401 ? onUnauthorized() : say(`Earlier entries: ${error?.message ?? error}`, true))),
  );
  $input('search').addEventListener('input', () => paintFleet());
  $select('state-filter').addEventListener('change', () => paintFleet());
  $('show-ticks').addEventListener('change', (event) => app.log.setShowTicks(/** @type {HTMLInputElement} */ (event.target).checked));
  $('back-to-live').addEventListener('click', () => {
    app.past = null;
    app.log.setPicked(null);
    renderSession();
  });
  $('actions').addEventListener('click', (event) => {
    const button = /** @type {Element} */ (event.target).closest('button');
    if (button) runAction(button).catch((error) => (error?.status === 401 ? onUnauthorized() : say(String(error.message), true)));
  });
  $('zoom').addEventListener('click', (event) => {
    const which = /** @type {Element} */ (event.target).closest('button')?.dataset.zoom;
    if (which === 'in') app.chart.zoom(1.25);
    if (which === 'out') app.chart.zoom(0.8);
    if (which === 'one') app.chart.actualSize();
    if (which === 'fit') app.chart.fit();
  });
  $('pairing-form').addEventListener('submit', requestPairingCode);
  app.qr = new QrDialog({
    dialog: $('qr-dialog'),
    image: $('qr-image'),
    text: $('qr-text'),
    pairingButton: $('qr-pairing'),
    startButton: $('qr-start'),
    api,
    apiKey: () => app.apiKey,
    // Short: the header must not wrap at 1400 px; the dialog named the account.
    onLinked: (key) => say(`${key} linked`),
    onUnauthorized,
    onPairing: openPairing,
  });
  $('new-session').addEventListener('click', openNewSession);
  $('new-session-form').addEventListener('submit', createSession);
  $('new-session-cancel').addEventListener('click', () => $dialog('new-session-dialog').close());
  $('pairing-close').addEventListener('click', () => $dialog('pairing-dialog').close());
  $('retry-now').addEventListener('click', () => app.live?.retryNow());
  setInterval(tick, clockTickMs);
}

async function open() {
  const graph = await (await api('/inspector/graph')).json();
  $('key-form').hidden = true;
  $('main').hidden = false;
  app.chart = new Chart($('chart'), $('legend'), graph);
  app.chart.apply();
  app.live = new LiveStream({ path: '/inspector/fleet', apiKey: app.apiKey, onEvent: onFleetEvent, onOnline, onOffline, onUnauthorized });
  app.live.start();
}

function showError(error) {
  if (error?.status === 401) return onUnauthorized();
  // The service is not there yet: try again shortly (the page recovers by itself).
  say(String(error?.message ?? error), true);
  setTimeout(() => open().catch(showError), 2000);
}

$('key-form').addEventListener('submit', (event) => {
  event.preventDefault();
  app.apiKey = $input('key-input').value;
  sessionStorage.setItem(keyStorage, app.apiKey);
  $('key-error').textContent = '';
  open().catch(showError);
});

wire();
open().catch(showError);
