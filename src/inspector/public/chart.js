// The statechart the server laid out, drawn at 1:1 (or larger) with pan and
// zoom. Labels go where the layout reserved room for them; the current state
// is coloured by what it means, the edge just taken is highlighted.

const svgNs = 'http://www.w3.org/2000/svg';
const minScale = 0.3;
const maxScale = 3;

function el(name, attrs = {}, text) {
  const node = document.createElementNS(svgNs, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** "connecting.awaitingQr" → "connecting-awaitingQr" (ids and CSS selectors without escaping). */
export const domId = (path) => `state-${path.replaceAll('.', '-')}`;

function isWithin(path, ancestor) {
  return path === ancestor || path.startsWith(`${ancestor}.`);
}

export class Chart {
  constructor(svg, legend, graph) {
    Object.assign(this, { svg, legend, graph });
    this.view = { x: 0, y: 0, scale: 1 };
    this.draw();
    this.enablePanZoom();
  }

  draw() {
    const { svg, graph } = this;
    const { labelPx, titlePx, lineHeightPx } = graph.font;
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
      g.append(el('rect', { x, y, width: node.width, height: node.height, rx: 10 }));
      if (node.final) g.append(el('rect', { class: 'inner', x: x + 4, y: y + 4, width: node.width - 8, height: node.height - 8, rx: 7 }));
      const titleY = y + titlePx + 6;
      g.append(el('text', { class: 'title', x: node.compound ? x + 12 : node.x, y: titleY, 'text-anchor': node.compound ? 'start' : 'middle', 'font-size': titlePx }, node.label));
      // One line for what the state means now (countdown, reason, uptime), filled in by show().
      if (!node.parent) {
        const detailAttrs = node.compound
          ? { x: x + 12, y: titleY + lineHeightPx, 'text-anchor': 'start' }
          : { x: node.x, y: titleY + lineHeightPx, 'text-anchor': 'middle' };
        g.append(el('text', { class: 'detail', id: `detail-${node.id}`, 'font-size': labelPx, ...detailAttrs }));
      }
      const loopsTop = node.compound ? y + node.height - node.selfLoops.length * lineHeightPx - 4 : titleY + lineHeightPx * (node.parent ? 1 : 2);
      node.selfLoops.forEach((line, i) => {
        g.append(el('text', { class: 'loop', x: node.compound ? x + 12 : node.x, y: loopsTop + i * lineHeightPx, 'text-anchor': node.compound ? 'start' : 'middle', 'font-size': labelPx }, line));
      });
      layers.states.append(g);
    }

    for (const edge of graph.edges) {
      const g = el('g', { class: `edge ${edge.kind}`, id: edge.id.replace(/[^A-Za-z0-9_-]/g, '_'), 'data-from': edge.from ?? '', 'data-to': edge.to });
      const d = edge.points.map((p, i) => `${i ? 'L' : 'M'} ${p.x.toFixed(1)} ${p.y.toFixed(1)}`).join(' ');
      if (edge.kind === 'initial') g.append(el('circle', { cx: edge.points[0].x, cy: edge.points[0].y, r: 5 }));
      g.append(el('path', { d, 'marker-end': 'url(#arrow)' }));
      layers.edges.append(g);
      if (!edge.lines.length) continue;
      // The label, centred where dagre reserved its box, on a backing so lines under it do not cross the words.
      const label = el('g', { class: 'edge-label', 'data-edge': g.id });
      const height = edge.lines.length * lineHeightPx;
      const width = Math.max(...edge.lines.map((l) => l.length)) * labelPx * 0.56 + 10;
      label.append(el('rect', { x: edge.labelX - width / 2, y: edge.labelY - height / 2 - 2, width, height: height + 4, rx: 4 }));
      edge.lines.forEach((line, i) => {
        const y = edge.labelY - height / 2 + (i + 0.75) * lineHeightPx;
        label.append(el('text', { x: edge.labelX, y, 'text-anchor': 'middle', 'font-size': labelPx }, line));
      });
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
