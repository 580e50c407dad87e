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
 * The whole chart is meant to be read at once, at 1:1, in the console's chart
 * panel (716×682 CSS px at a 1400×900 window): the top-level states are stacked
 * top to bottom (the order a session lives them), the substates of each run
 * left to right inside it, so every state is a wide, short band, and a long
 * label is broken onto rows. Every piece of text comes with where to draw it
 * and, for an edge label, the backing the layout reserved for it; the page
 * draws them as given.
 */
import dagre from '@dagrejs/dagre';
import type { AnyStateMachine, AnyStateNode } from 'xstate';
import { delayLabel, delayName } from './event-names.js';

/** One line of text: `x` where `anchor` puts it, `y` its baseline. */
export interface TextRow {
  text: string;
  x: number;
  y: number;
  anchor: 'start' | 'middle' | 'end';
}

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
  title: TextRow;
  /** Where a top-level state says what it means now (countdown, reason); the page fills in the text. */
  detail: TextRow | null;
  loops: TextRow[];
}

export interface EdgeLabel {
  /** The backing's top-left corner and size: the text fits inside it. */
  x: number;
  y: number;
  width: number;
  height: number;
  rows: TextRow[];
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
  points: Point[];
  /** The label's centre. */
  labelX: number;
  labelY: number;
  /** The lines as drawn (a long one broken onto rows), on their backing; null for an initial arrow. */
  label: EdgeLabel | null;
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

interface Point {
  x: number;
  y: number;
}

// ---- type and measures ----------------------------------------------------------

/** Edge labels, details and re-entries: a pixel above the 11 px an operator can read at a glance. */
const LABEL_FONT_PX = 12;
const TITLE_FONT_PX = 14;
/** One row of label text; the glyphs (ascent + descent ≈ 1.17 em) fit with a pixel to spare. */
const LABEL_ROW_PX = 16;
const TITLE_ROW_PX = 18;

/**
 * Advance widths in em, each an upper bound for its characters in DejaVu Sans —
 * the sans-serif a Linux browser falls back to and one of the widest; other
 * systems' fonts (Helvetica, Segoe UI, Roboto) are narrower and leave air. An
 * under-estimate would let text run out of its backing, so every class is
 * rounded up. The page cannot measure before the layout: the layout is made here.
 */
const CHAR_WIDTH_EM: ReadonlyArray<[RegExp, number]> = [
  [/[ .,:;'|ijlIJ·]/, 0.35],
  [/[()[\]/\\frt!-]/, 0.42],
  [/[a-z0-9_{}$?"*]/, 0.64],
  [/[ABEFKLPRSTVXYZ]/, 0.7],
  [/[CDGHNOQU]/, 0.8],
  [/[mwMW%@]/, 1],
];
/** Anything else (arrows, ↻, symbols): as wide as the widest of them. */
const OTHER_CHAR_WIDTH_EM = 0.86;
/** Titles are semibold (600): DejaVu Sans Bold is up to 16 % wider. */
const SEMIBOLD_WIDTH_FACTOR = 1.16;

function textWidthPx(text: string, fontPx: number, semibold = false): number {
  let em = 0;
  for (const char of text) em += CHAR_WIDTH_EM.find(([chars]) => chars.test(char))?.[1] ?? OTHER_CHAR_WIDTH_EM;
  return Math.ceil(em * fontPx * (semibold ? SEMIBOLD_WIDTH_FACTOR : 1));
}

/** Half a capital's height (DejaVu Sans: 0.73 em), rounded down so descenders keep their room. */
const HALF_CAP_HEIGHT_EM = 0.35;

/** The baseline that centres a line of `fontPx` text in a row starting at `top`: the row's middle, plus half a capital. */
function baselineIn(top: number, rowPx: number, fontPx: number): number {
  return top + rowPx / 2 + fontPx * HALF_CAP_HEIGHT_EM;
}

// ---- boxes and gaps ----------------------------------------------------------------

/** Air between a box's edge and its text. */
const BOX_PADDING_PX = 8;
/** A leaf state's least width, so short names do not make slivers the arrows cannot reach. */
const LEAF_MIN_WIDTH_PX = 80;
/**
 * Room kept for a top-level state's detail line (semibold, label size), which
 * the page fills in: the longest is a terminated session's "reason:
 * multideviceMismatch", then a countdown, "retry in 59.9 s · attempt 12".
 */
const DETAIL_WIDTH_PX = 224;
/** Between a compound state's title and its detail, on the same row. */
const TITLE_DETAIL_GAP_PX = 16;
/** A label longer than this is broken onto rows (before a guard, after a "substate:" prefix). */
const LABEL_WRAP_PX = 150;
/** Around an edge label's text, inside its backing. */
const LABEL_PADDING_X_PX = 4;
const LABEL_PADDING_Y_PX = 2;
/** Between a backing and the lines dagre routes past it. */
const LABEL_CLEARANCE_PX = 4;
const INITIAL_DOT_PX = 10;

/** dagre's spacing, in px: between boxes side by side, between edges, between ranks (a label's rank sits in between). */
const SPACING = {
  top: { rankdir: 'TB', nodesep: 24, edgesep: 10, ranksep: 20, margin: 10 },
  inner: { rankdir: 'LR', nodesep: 12, edgesep: 8, ranksep: 8, margin: BOX_PADDING_PX },
} as const;

// ---- reading the machine ------------------------------------------------------------

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

type TransitionList = ReadonlyArray<{ target?: ReadonlyArray<AnyStateNode> | undefined; guard?: unknown }>;

function ownTransitions(node: AnyStateNode): Array<[string, TransitionList]> {
  const list: Array<[string, TransitionList]> = [...node.transitions];
  if (node.always) list.push(['always', node.always]);
  return list;
}

/** The targets' paths, sorted and joined: two lists lead to the same place when these are equal. */
function targetsOf(transitions: TransitionList): string {
  return [...new Set(transitions.flatMap((t) => (t.target ?? []).map(pathOf)))].sort().join(',');
}

/** Every transition with a target, root transitions spread to the top-level states that hear them, and the legend. */
function collectTransitions(machine: AnyStateMachine): { raw: RawTransition[]; legend: LegendEntry[] } {
  const raw: RawTransition[] = [];
  const legend: LegendEntry[] = [];
  const tops = Object.values(machine.root.states);
  const listening = tops.filter((state) => state.type !== 'final');
  /** Per state, the events the legend speaks for (not drawn from it). */
  const inLegend = new Map<string, Set<string>>();

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
    if (every) for (const state of listening) inLegend.set(pathOf(state), (inLegend.get(pathOf(state)) ?? new Set()).add(event));
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
    const from = pathOf(node);
    for (const [event, transitions] of ownTransitions(node)) {
      if (inLegend.get(from)?.has(event)) continue;
      for (const transition of transitions) {
        for (const target of transition.target ?? []) {
          const to = pathOf(target);
          // A parent's transition into one of its own children applies in each of its other children: drawn from each.
          const sources = isWithin(to, from) && to !== from
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
  // One line per source and event: a deeper source is named ("awaitingQr: …"), its guards joined.
  const bySource = new Map<string, Map<string, Array<string | null>>>();
  for (const t of transitions) {
    const byEvent = bySource.get(t.from) ?? new Map<string, Array<string | null>>();
    byEvent.set(t.event, [...(byEvent.get(t.event) ?? []), t.guard]);
    bySource.set(t.from, byEvent);
  }
  const lines = [...bySource].flatMap(([source, byEvent]) =>
    [...byEvent].map(([event, guards]) => {
      const named = [...new Set(guards.filter((g): g is string => g !== null))];
      // An unguarded transition among them means the event always moves: the guards say nothing then.
      const guardText = named.length && !guards.includes(null) ? ` [${named.join(' | ')}]` : '';
      const prefix = source !== drawnFrom && source.startsWith(`${drawnFrom}.`) ? `${relative(source, drawnFrom)}: ` : '';
      return prefix + eventLineName(event) + guardText;
    }),
  );
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

// ---- layout -----------------------------------------------------------------------

/**
 * A label line broken where a reader expects a pause, while it is wider than
 * LABEL_WRAP_PX: after a "substate:" prefix, before a " [guard]".
 */
function wrapLine(line: string): string[] {
  if (textWidthPx(line, LABEL_FONT_PX) <= LABEL_WRAP_PX) return [line];
  const prefix = /^(\S+:) (.+)$/.exec(line);
  if (prefix) return [prefix[1]!, ...wrapLine(prefix[2]!)];
  const guard = line.indexOf(' [');
  if (guard > 0) return [line.slice(0, guard), line.slice(guard + 1)];
  return [line];
}

function labelBox(lines: string[]): { rows: string[]; width: number; height: number } {
  const rows = lines.flatMap(wrapLine);
  return {
    rows,
    width: Math.max(...rows.map((row) => textWidthPx(row, LABEL_FONT_PX))) + 2 * LABEL_PADDING_X_PX,
    height: rows.length * LABEL_ROW_PX + 2 * LABEL_PADDING_Y_PX,
  };
}

function labelAt(centre: Point, box: ReturnType<typeof labelBox>): EdgeLabel {
  const x = centre.x - box.width / 2;
  const y = centre.y - box.height / 2;
  return {
    x,
    y,
    width: box.width,
    height: box.height,
    rows: box.rows.map((text, i) => ({ text, x: centre.x, y: baselineIn(y + LABEL_PADDING_Y_PX + i * LABEL_ROW_PX, LABEL_ROW_PX, LABEL_FONT_PX), anchor: 'middle' })),
  };
}

/** A laid-out state: its size, and how to write itself (and everything in it) out once its place is known. */
interface Laid {
  width: number;
  height: number;
  place: (left: number, top: number) => void;
}

interface Output {
  nodes: GraphNode[];
  edges: GraphEdge[];
}

/** What sits inside a box above and below its substates: the title row, then the re-entries. */
function boxText(node: AnyStateNode, loops: string[], compound: boolean): { width: number; titleBand: number; loopsBand: number } {
  const topLevel = node.parent?.parent === undefined;
  const title = textWidthPx(node.key, TITLE_FONT_PX, true);
  const loopsWidth = Math.max(0, ...loops.map((line) => textWidthPx(line, LABEL_FONT_PX)));
  // A compound top-level state has its detail on the title row, right of the title; a leaf has it under the title.
  const titleRow = compound && topLevel ? title + TITLE_DETAIL_GAP_PX + DETAIL_WIDTH_PX : title;
  const detailRow = !compound && topLevel ? DETAIL_WIDTH_PX : 0;
  return {
    width: Math.max(compound ? 0 : LEAF_MIN_WIDTH_PX, titleRow, detailRow, loopsWidth) + 2 * BOX_PADDING_PX,
    titleBand: BOX_PADDING_PX + TITLE_ROW_PX + (detailRow ? LABEL_ROW_PX : 0),
    loopsBand: loops.length * LABEL_ROW_PX + BOX_PADDING_PX,
  };
}

/** The title, detail and re-entry rows of a box whose top-left corner is (left, top). */
function boxRows(node: AnyStateNode, loops: string[], compound: boolean, left: number, top: number, width: number, height: number) {
  const topLevel = node.parent?.parent === undefined;
  const at = compound ? { x: left + BOX_PADDING_PX, anchor: 'start' as const } : { x: left + width / 2, anchor: 'middle' as const };
  const titleTop = top + BOX_PADDING_PX;
  const title: TextRow = { text: node.key, ...at, y: baselineIn(titleTop, TITLE_ROW_PX, TITLE_FONT_PX) };
  let detail: TextRow | null = null;
  if (topLevel && compound) detail = { text: '', x: left + width - BOX_PADDING_PX, anchor: 'end', y: baselineIn(titleTop, TITLE_ROW_PX, LABEL_FONT_PX) };
  if (topLevel && !compound) detail = { text: '', ...at, y: baselineIn(titleTop + TITLE_ROW_PX, LABEL_ROW_PX, LABEL_FONT_PX) };
  const loopsTop = top + height - BOX_PADDING_PX - loops.length * LABEL_ROW_PX;
  const loopRows = loops.map((text, i): TextRow => ({ text, ...at, y: baselineIn(loopsTop + i * LABEL_ROW_PX, LABEL_ROW_PX, LABEL_FONT_PX) }));
  return { title, detail, loops: loopRows };
}

/** A leaf state: its text, padded. */
function layoutLeaf(node: AnyStateNode, loops: string[], out: Output): Laid {
  const text = boxText(node, loops, false);
  const height = text.titleBand + text.loopsBand;
  return {
    width: text.width,
    height,
    place: (left, top) => out.nodes.push(nodeAt(node, loops, false, left, top, text.width, height)),
  };
}

function nodeAt(node: AnyStateNode, loops: string[], compound: boolean, left: number, top: number, width: number, height: number): GraphNode {
  const parent = node.parent?.parent ? pathOf(node.parent) : null;
  return {
    id: pathOf(node),
    label: node.key,
    parent,
    compound,
    final: node.type === 'final',
    selfLoops: loops,
    x: left + width / 2,
    y: top + height / 2,
    width,
    height,
    ...boxRows(node, loops, compound, left, top, width, height),
  };
}

/**
 * Lays out the substates of `node` (the machine's root, or a state that has
 * some): each child is laid out first, so a state with substates is one box
 * of known size here, then dagre places the children and the transitions
 * between them. A transition from or to a deeper state is drawn at the level
 * where its two ends part, from the box that holds it, with the deeper state
 * named in its label.
 */
function layoutChildren(node: AnyStateNode, raw: RawTransition[], selfLoops: Map<string, string[]>, out: Output): { width: number; height: number; place: (left: number, top: number) => void } {
  const state = node.parent ? pathOf(node) : '';
  const spacing = node.parent ? SPACING.inner : SPACING.top;
  const graph = new dagre.graphlib.Graph({ multigraph: true });
  graph.setGraph({ rankdir: spacing.rankdir, nodesep: spacing.nodesep, edgesep: spacing.edgesep, ranksep: spacing.ranksep, marginx: spacing.margin, marginy: spacing.margin });
  graph.setDefaultEdgeLabel(() => ({}));

  const children = Object.values(node.states).map((child) => ({ id: pathOf(child), laid: layoutState(child, raw, selfLoops, out) }));
  for (const { id, laid } of children) graph.setNode(id, { width: laid.width, height: laid.height });

  const initial = node.initial?.target?.[0];
  const initialDot = `initial:${state}`;
  const initialTarget = initial ? childHolding(state, pathOf(initial)) : null;
  if (initialTarget) {
    graph.setNode(initialDot, { width: INITIAL_DOT_PX, height: INITIAL_DOT_PX });
    graph.setEdge(initialDot, initialTarget, { width: 0, height: 0 }, 'initial');
  }

  // The transitions between two of these children, grouped by the pair they join.
  const byPair = new Map<string, Map<string, RawTransition[]>>();
  for (const t of raw) {
    if (!isWithin(t.from, state) || !isWithin(t.to, state)) continue;
    const from = childHolding(state, t.from);
    const to = childHolding(state, t.to);
    if (from === to) continue;
    const byTarget = byPair.get(from) ?? new Map<string, RawTransition[]>();
    byTarget.set(to, [...(byTarget.get(to) ?? []), t]);
    byPair.set(from, byTarget);
  }
  const edges = [...byPair].flatMap(([from, byTarget]) =>
    [...byTarget].map(([to, transitions]) => {
      const { lines, events } = linesFor(transitions, from);
      return { id: `edge:${from}>${to}`, from, to, lines, events, box: labelBox(lines) };
    }),
  );
  for (const edge of edges) {
    const room = { width: edge.box.width + LABEL_CLEARANCE_PX, height: edge.box.height + LABEL_CLEARANCE_PX, labelpos: 'c' };
    graph.setEdge(edge.from, edge.to, room, edge.id);
  }

  dagre.layout(graph);
  const size = graph.graph() as { width?: number; height?: number };
  return {
    width: size.width ?? 0,
    height: size.height ?? 0,
    place: (left, top) => {
      const shift = (p: Point): Point => ({ x: left + p.x, y: top + p.y });
      for (const { id, laid } of children) {
        const p = graph.node(id) as unknown as Point & { width: number; height: number };
        laid.place(left + p.x - p.width / 2, top + p.y - p.height / 2);
      }
      for (const { box, ...edge } of edges) {
        const laid = graph.edge({ v: edge.from, w: edge.to, name: edge.id }) as { points: Point[] } & Point;
        const centre = shift(laid);
        out.edges.push({ ...edge, kind: 'transition', points: laid.points.map(shift), labelX: centre.x, labelY: centre.y, label: labelAt(centre, box) });
      }
      if (initial && initialTarget) {
        const laid = graph.edge({ v: initialDot, w: initialTarget, name: 'initial' }) as { points: Point[] };
        // From the dot's centre, not from where dagre left its edge.
        const points = [graph.node(initialDot) as unknown as Point, ...laid.points.slice(1)].map(shift);
        out.edges.push({ id: initialDot, from: null, to: pathOf(initial), kind: 'initial', lines: [], events: [], points, labelX: points[0]!.x, labelY: points[0]!.y, label: null });
      }
    },
  };
}

function layoutState(node: AnyStateNode, raw: RawTransition[], selfLoops: Map<string, string[]>, out: Output): Laid {
  const loops = selfLoops.get(pathOf(node)) ?? [];
  if (!Object.keys(node.states).length) return layoutLeaf(node, loops, out);
  const inner = layoutChildren(node, raw, selfLoops, out);
  const text = boxText(node, loops, true);
  const width = Math.max(inner.width, text.width);
  const height = text.titleBand + inner.height + (loops.length ? text.loopsBand : 0);
  return {
    width,
    height,
    place: (left, top) => {
      // The compound's box first: its substates are drawn on top of it.
      out.nodes.push(nodeAt(node, loops, true, left, top, width, height));
      inner.place(left + (width - inner.width) / 2, top + text.titleBand);
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
  const out: Output = { nodes: [], edges: [] };
  const root = layoutChildren(machine.root, moves, selfLoops, out);
  root.place(0, 0);
  return {
    width: Math.ceil(root.width),
    height: Math.ceil(root.height),
    nodes: out.nodes,
    edges: out.edges,
    legend,
    font: { labelPx: LABEL_FONT_PX, titlePx: TITLE_FONT_PX, lineHeightPx: LABEL_ROW_PX },
  };
}
