// wa-vigil inspector: plain browser JavaScript, no library, nothing from the
// internet. One live feed for the fleet, one for the selected session; the
// API key is asked once and kept for the tab. Actions use the ordinary API.

import { Chart } from './chart.js';
import { HttpError, LiveStream, readStream } from './feed.js';
import { FleetList, FleetModel, keyOf, states } from './fleet.js';
import { SessionLog, formatTime } from './log.js';

const keyStorage = 'wa-vigil-api-key';
const clockTickMs = 250;
const $ = (id) => document.getElementById(id);

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
  taken: null,
  past: null,
  sessionAbort: null,
  paintQueued: false,
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

function renderConnection(retryInMs) {
  const status = $('connection');
  document.body.classList.toggle('offline', !app.online);
  if (app.online) status.textContent = `live${status.dataset.note ? ` · ${status.dataset.note}` : ''}`;
  else if (retryInMs !== undefined) status.textContent = `connection lost · retrying in ${(retryInMs / 1000).toFixed(1)} s`;
  status.dataset.state = app.online ? 'live' : 'lost';
}

function onOnline() {
  app.online = true;
  $('connection').dataset.note = '';
  renderConnection();
  renderActions();
  if (app.selected) followSession(app.selected);
}

function onOffline(retryInMs) {
  app.online = false;
  app.sessionAbort?.abort();
  renderConnection(retryInMs);
  renderActions();
}

function onUnauthorized() {
  sessionStorage.removeItem(keyStorage);
  app.online = false;
  app.live?.stop();
  $('main').hidden = true;
  $('key-form').hidden = false;
  $('key-error').textContent = 'That API key was refused.';
}

// ---- the fleet ---------------------------------------------------------------

function onFleetEvent(type, data) {
  if (type === 'sessions') app.fleet.reset(data);
  if (type === 'changes') app.fleet.apply(data);
  if (app.selected && !app.fleet.sessions.has(app.selected)) selectedGone();
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
  const filter = $('state-filter').value;
  const rows = app.fleet.select({ search: $('search').value, filter });
  app.list.show(rows, app.selected);
  const counts = app.fleet.counts();
  $('fleet-summary').textContent = rows.length === counts.total ? `${counts.total} sessions` : `${rows.length} of ${counts.total} sessions`;
  const chips = [
    ['', 'all', counts.total],
    ['attention', 'need attention', counts.attention],
    ...states.flatMap((s) => (s === 'connecting' ? [[s, s, counts[s]], ['awaitingQr', 'awaiting QR', counts.awaitingQr]] : [[s, s, counts[s]]])),
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
        $('state-filter').value = value;
        paintFleet();
      });
      return button;
    }),
  );
}

// ---- one session -------------------------------------------------------------

function select(key) {
  if (app.selected === key && app.sessionAbort) return;
  app.selected = key;
  history.replaceState(null, '', `#${encodeURIComponent(key)}`);
  app.view = app.fleet.sessions.get(key) ?? null;
  app.past = null;
  app.context = null;
  app.taken = null;
  $('chart-title').textContent = key;
  queuePaint();
  if (app.view) app.chart.centreOn(app.view.status);
  renderSession();
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
      if (type === 'history') {
        app.log.reset(data.entries);
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
  const c = entry.context ?? {};
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
    const c = past.context ?? {};
    $('past-text').textContent = `As it was at ${formatTime(past.at)}, after “${past.label}”`;
    $('context-title').textContent = 'Context then';
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
  ]);
  $('raw-context').textContent = app.context ? JSON.stringify(app.context, null, 2) : '–';
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
}

// ---- actions -----------------------------------------------------------------

function confirmAction(text) {
  return new Promise((resolve) => {
    const dialog = $('confirm-dialog');
    $('confirm-text').textContent = text;
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    dialog.showModal();
  });
}

const sessionPath = () => {
  const [userId, sessionId] = app.selected.split('/');
  return `/sessions/${encodeURIComponent(userId)}/${encodeURIComponent(sessionId)}`;
};

async function runAction(button) {
  const action = button.dataset.action;
  if (!app.selected) return;
  if (action === 'qr') return showQr();
  if (action === 'pairing') {
    $('pairing-result').textContent = '';
    return $('pairing-dialog').showModal();
  }
  if (button.dataset.confirm && !(await confirmAction(`${app.selected}: ${button.dataset.confirm}`))) return;
  await api(`${sessionPath()}/${action}`, { method: 'POST' });
  say(`${action} sent to ${app.selected}`);
}

async function showQr() {
  const image = $('qr-image');
  try {
    const blob = await (await api(`${sessionPath()}/qr`)).blob();
    if (image.src.startsWith('blob:')) URL.revokeObjectURL(image.src);
    image.src = URL.createObjectURL(blob);
    image.hidden = false;
    $('qr-text').textContent = `${app.selected}: scan with WhatsApp → Linked devices.`;
  } catch (error) {
    if (error?.status === 401) return onUnauthorized();
    image.hidden = true;
    $('qr-text').textContent = error?.status === 404 ? 'No QR code is pending for this session.' : String(error.message);
  }
  $('qr-dialog').showModal();
}

async function requestPairingCode(event) {
  event.preventDefault();
  const result = $('pairing-result');
  result.textContent = 'Requesting…';
  try {
    const res = await api(`${sessionPath()}/pairing-code`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ phoneNumber: $('pairing-phone').value }),
    });
    const { code } = await res.json();
    result.textContent = `Code: ${code} — enter it on the phone (Linked devices → Link with phone number).`;
  } catch (error) {
    result.textContent = String(error.message);
  }
}

// ---- start -------------------------------------------------------------------

function tick() {
  // Clocks stop while the service is unreachable: a countdown or uptime would be a guess.
  if (!app.online || app.past || !app.view) return;
  renderSession();
}

function wire() {
  app.list = new FleetList($('fleet-list'), $('fleet-spacer'), { onSelect: select });
  app.log = new SessionLog($('log'), {
    onPick: (entry) => {
      app.past = entry;
      app.log.setPicked(entry.seq);
      renderSession();
    },
  });
  $('search').addEventListener('input', () => paintFleet());
  $('state-filter').addEventListener('change', () => paintFleet());
  $('show-ticks').addEventListener('change', (event) => app.log.setShowTicks(event.target.checked));
  $('back-to-live').addEventListener('click', () => {
    app.past = null;
    app.log.setPicked(null);
    renderSession();
  });
  $('actions').addEventListener('click', (event) => {
    const button = event.target.closest('button');
    if (button) runAction(button).catch((error) => (error?.status === 401 ? onUnauthorized() : say(String(error.message), true)));
  });
  $('zoom').addEventListener('click', (event) => {
    const which = event.target.closest('button')?.dataset.zoom;
    if (which === 'in') app.chart.zoom(1.25);
    if (which === 'out') app.chart.zoom(0.8);
    if (which === 'one') app.chart.actualSize();
    if (which === 'fit') app.chart.fit();
  });
  $('pairing-form').addEventListener('submit', requestPairingCode);
  $('pairing-close').addEventListener('click', () => $('pairing-dialog').close());
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
  if (error?.status === 401) {
    sessionStorage.removeItem(keyStorage);
    $('main').hidden = true;
    $('key-form').hidden = false;
    if (app.apiKey) $('key-error').textContent = 'That API key was refused.';
    return;
  }
  // The service is not there yet: try again shortly (the page recovers by itself).
  say(String(error?.message ?? error), true);
  setTimeout(() => open().catch(showError), 2000);
}

$('key-form').addEventListener('submit', (event) => {
  event.preventDefault();
  app.apiKey = $('key-input').value;
  sessionStorage.setItem(keyStorage, app.apiKey);
  $('key-error').textContent = '';
  open().catch(showError);
});

wire();
open().catch(showError);
