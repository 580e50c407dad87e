/**
 * The session statechart as a drawable graph, read from the machine's own
 * definition (state nodes, transitions, initial states) and laid out with
 * dagre on the server, so the page needs no library and nothing from the
 * internet. A new substate or event in the machine shows up by itself.
 *
 *   - every state is a box; a state with substates is a box around theirs
 *   - an initial state gets an arrow from a dot inside its parent
 *   - an edge is every transition between two boxes, labelled with its
 *     events, delays and guards; re-entries are listed inside the box (↻)
 *   - a transition defined on the machine itself is listed in `legend` with
 *     the states it applies in (`every` when it leads to the same place from
 *     every state that can hear it, like STOP), instead of a dozen crossing lines
 *
 * Labels sit where dagre reserved room for them (`labelX`, `labelY`).
 */
import dagre from '@dagrejs/dagre';
import type { AnyStateMachine, AnyStateNode } from 'xstate';
import { delayLabel, delayName } from './event-names.js';

export interface GraphNode {
  /** The state's path, "connecting" or "connecting.awaitingQr". */
  id: string;
  label: string;
  parent: string | null;
  /** Has substates, drawn inside it. */
  compound: boolean;
  final: boolean;
  /** Re-entries ("↻ after re-probe"). */
  selfLoops: string[];
  /** Centre and size. */
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface GraphEdge {
  id: string;
  /** State paths; `from` is null for an initial-state arrow. */
  from: string | null;
  to: string;
  kind: 'transition' | 'initial';
  /** One line per event (guards joined): "CONNECTION.CLOSED [closedByLogout | closeIsFinal]". */
  lines: string[];
  /** The event types behind the lines, to highlight the edge a transition took. */
  events: string[];
  points: Array<{ x: number; y: number }>;
  labelX: number;
  labelY: number;
}

export interface LegendEntry {
  event: string;
  /** Top-level states it applies in: every state that can hear it, or the ones listed. */
  from: string[];
  every: boolean;
  to: string;
  line: string;
}

export interface StatechartGraph {
  width: number;
  height: number;
  nodes: GraphNode[];
  edges: GraphEdge[];
  legend: LegendEntry[];
  /** Pixel sizes the layout assumed; the page draws with them. */
  font: { labelPx: number; titlePx: number; lineHeightPx: number };
}

const labelPx = 13;
const titlePx = 15;
const lineHeightPx = 17;
/** Wide enough for a sans-serif character at labelPx; an over-estimate leaves air, an under-estimate overlaps. */
const charWidthPx = 7.8;
const initialDotPx = 12;

interface RawTransition {
  from: string;
  to: string;
  event: string;
  guard: string | null;
}

function pathOf(node: AnyStateNode): string {
  return node.path.join('.');
}

function guardName(guard: unknown): string | null {
  if (!guard) return null;
  if (typeof guard === 'string') return guard;
  const type = (guard as { type?: unknown }).type;
  return typeof type === 'string' ? type : 'guard';
}

/** "after backoff", "at once", "connection crashed", or the event type. */
export function eventLineName(eventType: string): string {
  const delay = delayName(eventType);
  if (delay) return delayLabel(delay);
  if (eventType === 'always') return 'at once';
  if (eventType.startsWith('xstate.error.actor.')) return 'connection crashed';
  return eventType;
}

function ownTransitions(node: AnyStateNode): Array<[string, ReadonlyArray<{ target?: ReadonlyArray<AnyStateNode> | undefined; guard?: unknown }>]> {
  const list: Array<[string, ReadonlyArray<{ target?: ReadonlyArray<AnyStateNode> | undefined; guard?: unknown }>]> = [...node.transitions];
  if (node.always) list.push(['always', node.always]);
  return list;
}

function targetsOf(transitions: ReadonlyArray<{ target?: ReadonlyArray<AnyStateNode> | undefined }>): string {
  return [...new Set(transitions.flatMap((t) => (t.target ?? []).map(pathOf)))].sort().join(',');
}

/** Every transition with a target, root transitions spread to the top-level states that hear them, and the legend. */
function collectTransitions(machine: AnyStateMachine): { raw: RawTransition[]; legend: LegendEntry[] } {
  const raw: RawTransition[] = [];
  const legend: LegendEntry[] = [];
  const tops = Object.values(machine.root.states);
  const listening = tops.filter((state) => state.type !== 'final');
  const folded = new Set<string>(); // "state|event" handled by the legend

  for (const [event, transitions] of ownTransitions(machine.root)) {
    const rootTargets = targetsOf(transitions);
    if (!rootTargets) continue; // an action only (timers): nothing to draw
    // Where a state defines the event itself, its own transitions replace the root's.
    const effective = listening.map((state) => {
      const own = state.transitions.get(event);
      return own ? targetsOf(own) : rootTargets;
    });
    const every = effective.every((targets) => targets === rootTargets);
    // Root transitions are listed, not drawn: drawn from each state that hears them they
    // would be a dozen lines crossing the chart. The states they apply in are named.
    const from = every ? listening.map(pathOf) : listening.filter((state) => !state.transitions.has(event)).map(pathOf);
    for (const state of every ? listening : []) folded.add(`${pathOf(state)}|${event}`);
    // One entry per target, its guards joined: "CONNECTION.CLOSED [closedByLogout | closeIsFinal] → terminated".
    const byTarget = new Map<string, RawTransition[]>();
    for (const transition of transitions) {
      for (const target of transition.target ?? []) {
        const to = pathOf(target);
        byTarget.set(to, [...(byTarget.get(to) ?? []), { from: '', to, event, guard: guardName(transition.guard) }]);
      }
    }
    for (const [to, group] of byTarget) legend.push({ event, from, every, to, line: `${linesFor(group, '').lines[0]} → ${to}` });
  }

  const walk = (node: AnyStateNode) => {
    for (const [event, transitions] of ownTransitions(node)) {
      if (folded.has(`${pathOf(node)}|${event}`)) continue;
      for (const transition of transitions) {
        for (const target of transition.target ?? []) {
          const from = pathOf(node);
          const to = pathOf(target);
          // A parent's transition into one of its own children applies in each of its other children: drawn from each.
          const sources = to.startsWith(`${from}.`)
            ? Object.values(node.states)
                .map(pathOf)
                .filter((child) => !isWithin(to, child))
            : [from];
          for (const source of sources) raw.push({ from: source, to, event, guard: guardName(transition.guard) });
        }
      }
    }
    for (const child of Object.values(node.states)) walk(child);
  };
  for (const top of tops) walk(top);
  return { raw, legend };
}

/** "CONNECTION.CLOSED [a | b]" per event, in the order the machine lists them. */
function linesFor(transitions: RawTransition[], drawnFrom: string): { lines: string[]; events: string[] } {
  // One line per (source, event): a deeper source is named ("awaitingQr: …"), its guards joined.
  const groups = new Map<string, { source: string; event: string; guards: Array<string | null> }>();
  for (const t of transitions) {
    const key = `${t.from}|${t.event}`;
    const group = groups.get(key) ?? { source: t.from, event: t.event, guards: [] };
    group.guards.push(t.guard);
    groups.set(key, group);
  }
  const lines = [...groups.values()].map(({ source, event, guards }) => {
    const named = [...new Set(guards.filter((g): g is string => g !== null))];
    const guardText = named.length && !guards.includes(null) ? ` [${named.join(' | ')}]` : '';
    const prefix = source !== drawnFrom && source.startsWith(`${drawnFrom}.`) ? `${relative(source, drawnFrom)}: ` : '';
    return prefix + eventLineName(event) + guardText;
  });
  return { lines, events: [...new Set(transitions.map((t) => t.event))] };
}

function isWithin(path: string, ancestor: string): boolean {
  return ancestor === '' || path === ancestor || path.startsWith(`${ancestor}.`);
}

/** The child of `parent` (a path; '' is the root) that holds `path`. */
function childHolding(parent: string, path: string): string {
  const depth = parent === '' ? 0 : parent.split('.').length;
  return path.split('.').slice(0, depth + 1).join('.');
}

function relative(path: string, ancestor: string): string {
  return path.slice(ancestor.length + 1);
}

interface Point {
  x: number;
  y: number;
}

const titleBandPx = 30;
const paddingPx = 14;

function shiftPoint(p: Point, dx: number, dy: number): Point {
  return { x: p.x + dx, y: p.y + dy };
}

/**
 * Lays out `state` (a path; '' for the machine): each child is laid out first
 * (so a state with substates is one box of known size here), then dagre places
 * the children and the transitions between them. A transition from or to a
 * deeper state is drawn at the level where its two ends part, from the box
 * that holds it, with the deeper state named in its label.
 */
function layoutState(
  state: string,
  node: AnyStateNode,
  raw: RawTransition[],
  selfLoops: Map<string, string[]>,
  out: { nodes: GraphNode[]; edges: GraphEdge[] },
): { width: number; height: number; place: (dx: number, dy: number) => void } {
  const children = Object.values(node.states);
  const graph = new dagre.graphlib.Graph({ multigraph: true });
  graph.setGraph({ rankdir: 'TB', nodesep: 40, edgesep: 16, ranksep: 50, marginx: state ? paddingPx : 24, marginy: state ? paddingPx : 24 });
  graph.setDefaultEdgeLabel(() => ({}));

  const laidChildren = new Map<string, ReturnType<typeof layoutState>>();
  for (const child of children) {
    const id = pathOf(child);
    if (Object.keys(child.states).length) {
      const laid = layoutState(id, child, raw, selfLoops, out);
      laidChildren.set(id, laid);
      graph.setNode(id, { width: laid.width, height: laid.height });
    } else {
      const loops = selfLoops.get(id) ?? [];
      const width = Math.max(state === '' ? 230 : 150, textWidth(loops) + 20, child.key.length * charWidthPx * (titlePx / labelPx) + 30);
      // Title, one detail line (countdown, reason), then the re-entries.
      graph.setNode(id, { width, height: 24 + lineHeightPx + loops.length * lineHeightPx + 10 });
    }
  }
  const initial = node.initial?.target?.[0];
  const dot = `initial:${state}`;
  if (initial) {
    graph.setNode(dot, { width: initialDotPx, height: initialDotPx });
    graph.setEdge(dot, childHolding(state, pathOf(initial)), { width: 0, height: 0 }, 'initial');
  }

  const here = raw.filter((t) => isWithin(t.from, state) && isWithin(t.to, state) && childHolding(state, t.from) !== childHolding(state, t.to));
  const pairs = new Map<string, RawTransition[]>();
  for (const t of here) {
    const key = `${childHolding(state, t.from)}>${childHolding(state, t.to)}`;
    pairs.set(key, [...(pairs.get(key) ?? []), t]);
  }
  const edges = [...pairs.values()].map((transitions) => {
    const from = childHolding(state, transitions[0]!.from);
    const to = childHolding(state, transitions[0]!.to);
    const { lines, events } = linesFor(transitions, from);
    return { id: `edge:${from}>${to}`, from, to, lines, events };
  });
  for (const edge of edges) {
    graph.setEdge(edge.from, edge.to, { width: textWidth(edge.lines) + 12, height: edge.lines.length * lineHeightPx + 6, labelpos: 'c' }, edge.id);
  }

  dagre.layout(graph);
  const size = graph.graph() as { width?: number; height?: number };
  const loops = state ? (selfLoops.get(state) ?? []) : [];
  // A top-level state's band holds its title and the line the page fills in (countdown, reason).
  const topLevel = state !== '' && !state.includes('.');
  const top = state ? titleBandPx + (topLevel ? lineHeightPx : 0) : 0;
  const bottom = loops.length * lineHeightPx + (loops.length ? paddingPx / 2 : 0);
  const width = Math.max(size.width ?? 0, topLevel ? 230 : 0, state ? node.key.length * charWidthPx * (titlePx / labelPx) + 30 : 0, textWidth(loops) + 2 * paddingPx);
  const height = (size.height ?? 0) + top + bottom;
  const innerDx = (width - (size.width ?? 0)) / 2;

  return {
    width,
    height,
    place: (dx, dy) => {
      const ox = dx + innerDx;
      const oy = dy + top;
      for (const child of children) {
        const id = pathOf(child);
        const p = graph.node(id) as unknown as { x: number; y: number; width: number; height: number };
        const laid = laidChildren.get(id);
        if (laid) laid.place(ox + p.x - p.width / 2, oy + p.y - p.height / 2);
        out.nodes.push({
          id,
          label: child.key,
          parent: state || null,
          compound: Boolean(laid),
          final: child.type === 'final',
          selfLoops: selfLoops.get(id) ?? [],
          x: ox + p.x,
          y: oy + p.y,
          width: p.width,
          height: p.height,
        });
      }
      for (const edge of edges) {
        const laid = graph.edge({ v: edge.from, w: edge.to, name: edge.id }) as { points: Point[]; x: number; y: number };
        out.edges.push({ ...edge, kind: 'transition', points: laid.points.map((p) => shiftPoint(p, ox, oy)), labelX: ox + laid.x, labelY: oy + laid.y });
      }
      if (initial) {
        const laid = graph.edge({ v: dot, w: childHolding(state, pathOf(initial)), name: 'initial' }) as { points: Point[] };
        const start = graph.node(dot) as unknown as Point;
        const points = [start, ...laid.points.slice(1)].map((p) => shiftPoint(p, ox, oy));
        out.edges.push({ id: `initial:${state}`, from: null, to: pathOf(initial), kind: 'initial', lines: [], events: [], points, labelX: points[0]!.x, labelY: points[0]!.y });
      }
    },
  };
}

export function buildStatechartGraph(machine: AnyStateMachine): StatechartGraph {
  const { raw, legend } = collectTransitions(machine);
  // Re-entries (a state to itself or to its own substates) are written inside the box, not drawn.
  const selfLoops = new Map<string, string[]>();
  const moves: RawTransition[] = [];
  for (const t of raw) {
    if (isWithin(t.from, t.to) || isWithin(t.to, t.from)) {
      const owner = isWithin(t.from, t.to) ? t.to : t.from;
      const line = `↻ ${linesFor([t], owner).lines[0]}`;
      const list = selfLoops.get(owner) ?? [];
      if (!list.includes(line)) list.push(line);
      selfLoops.set(owner, list);
    } else moves.push(t);
  }
  const out = { nodes: [] as GraphNode[], edges: [] as GraphEdge[] };
  const root = layoutState('', machine.root, moves, selfLoops, out);
  root.place(0, 0);
  return {
    width: Math.ceil(root.width),
    height: Math.ceil(root.height),
    nodes: out.nodes,
    edges: out.edges,
    legend,
    font: { labelPx, titlePx, lineHeightPx },
  };
}

function textWidth(lines: string[]): number {
  return Math.ceil(Math.max(0, ...lines.map((line) => line.length)) * charWidthPx);
}
