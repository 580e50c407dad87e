// wa-vigil inspector page: plain browser JavaScript, no library.
// Draws the statechart the server laid out, highlights the selected session's
// state, and streams its events. The API key is asked once and kept for the tab.

const svgNs = 'http://www.w3.org/2000/svg';
const keyStorage = 'wa-vigil-api-key';
const $ = (id) => document.getElementById(id);

let apiKey = sessionStorage.getItem(keyStorage) ?? '';
let selected = null;
let feedAbort = null;
let currentView = null;

async function api(path, init = {}) {
  const res = await fetch(path, { ...init, headers: { ...(init.headers ?? {}), 'x-api-key': apiKey } });
  if (res.status === 401) throw Object.assign(new Error('unauthorized'), { status: 401 });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res;
}

function el(name, attrs = {}, text) {
  const node = document.createElementNS(svgNs, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function drawChart(graph) {
  const svg = $('chart');
  svg.replaceChildren();
  svg.setAttribute('viewBox', `0 0 ${graph.width} ${graph.height}`);
  const defs = el('defs');
  const marker = el('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' });
  marker.append(el('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#9aa3b5' }));
  defs.append(marker);
  svg.append(defs);
  for (const edge of graph.edges) {
    const g = el('g', { class: 'edge' });
    const d = edge.points.map((p, i) => `${i ? 'L' : 'M'} ${p.x} ${p.y}`).join(' ');
    g.append(el('path', { d, 'marker-end': 'url(#arrow)' }));
    const mid = edge.points[Math.floor(edge.points.length / 2)];
    g.append(el('text', { x: mid.x + 4, y: mid.y - 3 }, edge.label));
    svg.append(g);
  }
  for (const node of graph.nodes) {
    const g = el('g', { class: `state${node.final ? ' final' : ''}`, id: `state-${node.id === '*' ? 'any' : node.id}`, 'data-state': node.id });
    const x = node.x - node.width / 2;
    const y = node.y - node.height / 2;
    g.append(el('rect', { x, y, width: node.width, height: node.height }));
    g.append(el('text', { class: 'title', x: x + 10, y: y + 20 }, node.label));
    node.substates.forEach((sub, i) => {
      g.append(el('text', { class: 'substate', id: `substate-${node.id}.${sub}`, x: x + 22, y: y + 38 + i * 16 }, `· ${sub}`));
    });
    svg.append(g);
  }
}

function highlight(status) {
  const [top, sub] = status.split('.');
  document.querySelectorAll('.state.active, .substate.active').forEach((n) => n.classList.remove('active'));
  $(`state-${top}`)?.classList.add('active');
  if (sub) document.getElementById(`substate-${top}.${sub}`)?.classList.add('active');
}

function ago(iso) {
  if (!iso) return '–';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m ${s % 60}s`;
}

function renderContext() {
  const v = currentView;
  if (!v) return;
  const retryIn = v.nextRetryAt ? `${Math.max(0, (Date.parse(v.nextRetryAt) - Date.now()) / 1000).toFixed(1)} s` : '–';
  const last = v.lastDisconnect ? `${v.lastDisconnect.statusCode ?? 'no code'} ${v.lastDisconnect.message ?? ''}` : '–';
  const rows = [
    ['state', v.status], ['attempt', v.attempt], ['next retry in', retryIn], ['uptime', v.openSince ? ago(v.openSince) : '–'],
    ['reconnects', v.reconnects], ['last disconnect', last], ['terminated', v.terminatedReason ?? '–'], ['account', v.me?.id ?? '–'],
  ];
  $('context').replaceChildren(...rows.flatMap(([k, val]) => {
    const dt = document.createElement('dt'); dt.textContent = k;
    const dd = document.createElement('dd'); dd.textContent = String(val); dd.dataset.field = k;
    return [dt, dd];
  }));
}

function logEntry(entry) {
  const li = document.createElement('li');
  li.className = entry.kind;
  const time = entry.at.slice(11, 23);
  const detail = [entry.statusCode, entry.message].filter((x) => x !== undefined).join(' ');
  li.textContent = entry.kind === 'transition'
    ? `${time} → ${entry.status}  (${entry.type})`
    : `${time} ${entry.actor === 'connection' ? '⇢ connection ' : ''}${entry.type}${detail ? ` ${detail}` : ''}`;
  $('log').prepend(li);
  while ($('log').children.length > 300) $('log').lastChild.remove();
}

async function follow(session) {
  feedAbort?.abort();
  feedAbort = new AbortController();
  selected = `${session.userId}/${session.sessionId}`;
  $('chart-title').textContent = `Statechart — ${selected}`;
  $('log').replaceChildren();
  document.querySelectorAll('#sessions li').forEach((li) => li.classList.toggle('selected', li.dataset.key === selected));
  const res = await api(`/inspector/sessions/${session.userId}/${session.sessionId}/feed`, { signal: feedAbort.signal });
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    const blocks = buffer.split('\n\n');
    buffer = blocks.pop();
    for (const block of blocks) {
      const type = block.match(/^event: (.*)$/m)?.[1];
      const data = block.match(/^data: (.*)$/m)?.[1];
      if (!data) continue;
      const payload = JSON.parse(data);
      if (type === 'view') { currentView = payload; highlight(payload.status); renderContext(); refreshList(); }
      if (type === 'entry') logEntry(payload);
    }
  }
}

async function refreshList() {
  const sessions = await (await api('/sessions')).json();
  $('sessions').replaceChildren(...sessions.map((s) => {
    const li = document.createElement('li');
    li.dataset.key = `${s.userId}/${s.sessionId}`;
    li.classList.toggle('selected', li.dataset.key === selected);
    const name = document.createElement('span'); name.textContent = li.dataset.key;
    const badge = document.createElement('span'); badge.className = `badge ${s.state}`; badge.textContent = s.state;
    li.append(name, badge);
    li.addEventListener('click', () => follow(s).catch(showError));
    return li;
  }));
  return sessions;
}

function showError(error) {
  if (error?.name === 'AbortError') return;
  if (error?.status === 401) {
    sessionStorage.removeItem(keyStorage);
    $('main').hidden = true;
    $('key-form').hidden = false;
    $('key-error').textContent = 'That API key was refused.';
    return;
  }
  $('status').textContent = String(error?.message ?? error);
}

async function open() {
  const graph = await (await api('/inspector/graph')).json();
  $('key-form').hidden = true;
  $('main').hidden = false;
  drawChart(graph);
  const sessions = await refreshList();
  if (sessions[0]) follow(sessions[0]).catch(showError);
  setInterval(renderContext, 250);
}

$('key-form').addEventListener('submit', (event) => {
  event.preventDefault();
  apiKey = $('key-input').value;
  sessionStorage.setItem(keyStorage, apiKey);
  $('key-error').textContent = '';
  open().catch(showError);
});

open().catch(showError);
