// The statechart the server laid out, drawn at 1:1 (or larger) with pan and
// zoom. Labels go where the layout reserved room for them; the current state
// is coloured by what it means, the edge just taken is highlighted.

const svgNs = 'http://www.w3.org/2000/svg';
const minScale = 0.3;
const maxScale = 3;
const stateCornerPx = 10;
/** A final state's second border, inside the first (its corners concentric with the outer ones). */
const finalInsetPx = 4;
const labelCornerPx = 4;
/** Half the dot the layout reserved for an initial arrow (INITIAL_DOT_PX in statechart-graph.ts). */
const initialDotRadiusPx = 5;

function el(name, attrs = {}, text) {
  const node = document.createElementNS(svgNs, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** One line of chart text as the layout placed it: {text, x, y (baseline), anchor}. */
function text(row, className, fontPx, id) {
  const attrs = { x: row.x, y: row.y, 'text-anchor': row.anchor, 'font-size': fontPx };
  if (className) attrs.class = className;
  if (id) attrs.id = id;
  return el('text', attrs, row.text);
}

/** "connecting.awaitingQr" → "connecting-awaitingQr" (ids and CSS selectors without escaping). */
export const domId = (path) => `state-${path.replaceAll('.', '-')}`;

function isWithin(path, ancestor) {
  return path === ancestor || path.startsWith(`${ancestor}.`);
}

export class Chart {
  constructor(svg, legend, graph) {
    this.svg = svg;
    this.legend = legend;
    this.graph = graph;
    this.view = { x: 0, y: 0, scale: 1 };
    this.draw();
    this.enablePanZoom();
  }

  draw() {
    const { svg, graph } = this;
    const { labelPx, titlePx } = graph.font;
    svg.replaceChildren();
    const defs = el('defs');
    for (const [id, colour] of [['arrow', '#8a94a6'], ['arrow-taken', '#2459d6']]) {
      const marker = el('marker', { id, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 8, markerHeight: 8, orient: 'auto-start-reverse', markerUnits: 'userSpaceOnUse' });
      marker.append(el('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: colour }));
      defs.append(marker);
    }
    svg.append(defs);
    const layers = { states: el('g'), edges: el('g'), labels: el('g') };
    svg.append(layers.states, layers.edges, layers.labels);

    // Outer boxes first, so substates are drawn on top of their parents.
    const byDepth = [...graph.nodes].sort((a, b) => a.id.split('.').length - b.id.split('.').length);
    for (const node of byDepth) {
      const top = node.id.split('.')[0];
      const g = el('g', { class: `state${node.compound ? ' compound' : ''}${node.final ? ' final' : ''}`, id: domId(node.id), 'data-state': node.id, 'data-top': top });
      const x = node.x - node.width / 2;
      const y = node.y - node.height / 2;
      g.append(el('rect', { x, y, width: node.width, height: node.height, rx: stateCornerPx }));
      if (node.final) {
        const inner = { x: x + finalInsetPx, y: y + finalInsetPx, width: node.width - 2 * finalInsetPx, height: node.height - 2 * finalInsetPx };
        g.append(el('rect', { class: 'inner', ...inner, rx: stateCornerPx - finalInsetPx }));
      }
      // Every line where the layout put it, with the room it reserved (the text is measured against the box in the tests).
      g.append(text(node.title, 'title', titlePx));
      // What the state means now (countdown, reason, uptime), filled in by show().
      if (node.detail) g.append(text({ ...node.detail, text: '' }, 'detail', labelPx, `detail-${node.id}`));
      for (const row of node.loops) g.append(text(row, 'loop', labelPx));
      layers.states.append(g);
    }

    for (const edge of graph.edges) {
      const g = el('g', { class: `edge ${edge.kind}`, id: edge.id.replace(/[^A-Za-z0-9_-]/g, '_'), 'data-from': edge.from ?? '', 'data-to': edge.to });
      const d = edge.points.map((p, i) => `${i ? 'L' : 'M'} ${p.x.toFixed(1)} ${p.y.toFixed(1)}`).join(' ');
      if (edge.kind === 'initial') g.append(el('circle', { cx: edge.points[0].x, cy: edge.points[0].y, r: initialDotRadiusPx }));
      g.append(el('path', { d, 'marker-end': 'url(#arrow)' }));
      layers.edges.append(g);
      if (!edge.label) continue;
      // The label where the layout reserved its box, on a backing so lines under it do not cross the words.
      const { x, y, width, height, rows } = edge.label;
      const label = el('g', { class: 'edge-label', 'data-edge': g.id });
      label.append(el('rect', { x, y, width, height, rx: labelCornerPx }));
      for (const row of rows) label.append(text(row, undefined, labelPx));
      layers.labels.append(label);
    }

    // Transitions defined on the machine itself, grouped by the states they apply in.
    const groups = new Map();
    for (const entry of graph.legend) {
      const scope = entry.every ? 'From every state' : `From ${entry.from.join(', ')}`;
      groups.set(scope, [...(groups.get(scope) ?? []), entry]);
    }
    this.legend.replaceChildren(
      ...[...groups].map(([scope, entries]) => {
        const li = document.createElement('li');
        const name = document.createElement('span');
        name.className = 'scope';
        name.textContent = `${scope}:`;
        li.append(name);
        for (const entry of entries) {
          const span = document.createElement('span');
          span.className = 'entry';
          span.dataset.event = entry.event;
          span.dataset.to = entry.to;
          span.dataset.from = entry.from.join(' ');
          span.textContent = entry.line;
          li.append(span);
        }
        return li;
      }),
    );
  }

  /**
   * status: the full state path; view: the session view (for the detail line) or null;
   * taken: the transition to highlight, {from, to, event}, or null.
   */
  show(status, detail, taken) {
    const top = status.split('.')[0];
    // Until a person moves the chart, it follows the session to wherever it went.
    const moved = this.status?.split('.')[0] !== top;
    this.status = status;
    if (moved && !this.userMoved) this.centreOn(status);
    for (const node of this.svg.querySelectorAll('.state')) {
      node.classList.toggle('active', isWithin(status, node.dataset.state));
    }
    for (const text of this.svg.querySelectorAll('.detail')) text.textContent = text.id === `detail-${top}` ? detail : '';
    this.highlight(taken);
  }

  highlight(taken) {
    for (const node of this.svg.querySelectorAll('.taken')) node.classList.remove('taken');
    for (const path of this.svg.querySelectorAll('.edge path')) path.setAttribute('marker-end', 'url(#arrow)');
    for (const span of this.legend.querySelectorAll('.entry')) {
      const hit = Boolean(taken?.from) && span.dataset.event === taken.event && isWithin(taken.to, span.dataset.to) && span.dataset.from.split(' ').includes(taken.from.split('.')[0]);
      span.classList.toggle('taken', hit);
    }
    if (!taken?.from || taken.from === taken.to) return;
    // The drawn edge whose ends hold the two states (the deepest pair wins) and that lists the event.
    let best = null;
    for (const edge of this.graph.edges) {
      if (edge.kind !== 'transition' || !isWithin(taken.from, edge.from) || !isWithin(taken.to, edge.to)) continue;
      if (!edge.events.includes(taken.event)) continue;
      const depth = edge.from.length + edge.to.length;
      if (!best || depth > best.depth) best = { edge, depth };
    }
    if (!best) return;
    const id = best.edge.id.replace(/[^A-Za-z0-9_-]/g, '_');
    const g = this.svg.getElementById(id);
    g?.classList.add('taken');
    g?.querySelector('path')?.setAttribute('marker-end', 'url(#arrow-taken)');
    this.svg.querySelector(`.edge-label[data-edge="${id}"]`)?.classList.add('taken');
  }

  /** Centre the given top-level state at the current scale, without showing more empty margin than needed. */
  centreOn(path) {
    this.userMoved = false;
    const node = this.graph.nodes.find((n) => n.id === path.split('.')[0]);
    if (!node) return;
    const { width, height } = this.size();
    const w = width / this.view.scale;
    const h = height / this.view.scale;
    // Along each axis: the whole chart centred when it fits, else the state centred but the chart's edge kept at the panel's.
    const along = (centre, visible, total) => (visible >= total ? (total - visible) / 2 : Math.min(Math.max(centre - visible / 2, 0), total - visible));
    this.view.x = along(node.x, w, this.graph.width);
    this.view.y = along(node.y, h, this.graph.height);
    this.apply();
  }

  /** The drawing area in CSS pixels (inside the border): the viewBox matches it, so 1 unit is 1 pixel at scale 1. */
  size() {
    return { width: Math.max(1, this.svg.clientWidth), height: Math.max(1, this.svg.clientHeight) };
  }

  apply() {
    const { width, height } = this.size();
    const { x, y, scale } = this.view;
    this.svg.setAttribute('viewBox', `${x.toFixed(1)} ${y.toFixed(1)} ${(width / scale).toFixed(1)} ${(height / scale).toFixed(1)}`);
    this.svg.dataset.scale = scale.toFixed(3);
  }

  /** Zoom by `factor` keeping the chart point under (px, py) (panel pixels) where it is. */
  zoom(factor, px, py) {
    this.userMoved = true;
    const { width, height } = this.size();
    const cx = px ?? width / 2;
    const cy = py ?? height / 2;
    const scale = Math.min(maxScale, Math.max(minScale, this.view.scale * factor));
    const gx = this.view.x + cx / this.view.scale;
    const gy = this.view.y + cy / this.view.scale;
    this.view = { x: gx - cx / scale, y: gy - cy / scale, scale };
    this.apply();
  }

  actualSize() {
    this.zoom(1 / this.view.scale);
  }

  fit() {
    this.userMoved = true;
    const { width, height } = this.size();
    const scale = Math.min(width / this.graph.width, height / this.graph.height);
    this.view = { scale, x: (this.graph.width - width / scale) / 2, y: (this.graph.height - height / scale) / 2 };
    this.apply();
  }

  enablePanZoom() {
    const svg = this.svg;
    let drag = null;
    svg.addEventListener('pointerdown', (event) => {
      drag = { x: event.clientX, y: event.clientY };
      svg.setPointerCapture(event.pointerId);
      svg.classList.add('dragging');
    });
    svg.addEventListener('pointermove', (event) => {
      if (!drag) return;
      this.userMoved = true;
      this.view.x -= (event.clientX - drag.x) / this.view.scale;
      this.view.y -= (event.clientY - drag.y) / this.view.scale;
      drag = { x: event.clientX, y: event.clientY };
      this.apply();
    });
    const end = () => {
      drag = null;
      svg.classList.remove('dragging');
    };
    svg.addEventListener('pointerup', end);
    svg.addEventListener('pointercancel', end);
    svg.addEventListener(
      'wheel',
      (event) => {
        event.preventDefault();
        const box = svg.getBoundingClientRect();
        this.zoom(event.deltaY < 0 ? 1.1 : 1 / 1.1, event.clientX - box.left, event.clientY - box.top);
      },
      { passive: false },
    );
    svg.addEventListener('keydown', (event) => {
      const step = 60 / this.view.scale;
      const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
      if (moves[event.key]) {
        this.userMoved = true;
        this.view.x += moves[event.key][0];
        this.view.y += moves[event.key][1];
        this.apply();
      } else if (event.key === '+' || event.key === '=') this.zoom(1.2);
      else if (event.key === '-') this.zoom(1 / 1.2);
      else if (event.key === '0') this.actualSize();
      else return;
      event.preventDefault();
    });
    // A resized panel keeps the current state in the middle, unless a person has moved the chart.
    new ResizeObserver(() => (this.status && !this.userMoved ? this.centreOn(this.status) : this.apply())).observe(svg);
  }
}
