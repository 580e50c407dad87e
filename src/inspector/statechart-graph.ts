/**
 * The session statechart as a drawable graph, read from the machine's own
 * definition (its state nodes and transitions) and laid out with dagre on the
 * server, so the page needs no library and nothing from the internet.
 *
 * Boxes are the top-level states (substates listed inside); edges are the
 * transitions between them, labelled with their event (or delay) and guard.
 * Transitions defined on the root apply in every state and start at "any state".
 */
import dagre from '@dagrejs/dagre';
import type { AnyStateMachine, AnyStateNode } from 'xstate';

export interface GraphNode {
  id: string;
  label: string;
  substates: string[];
  final: boolean;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface GraphEdge {
  from: string;
  to: string;
  label: string;
  points: Array<{ x: number; y: number }>;
}

export interface StatechartGraph {
  width: number;
  height: number;
  nodes: GraphNode[];
  edges: GraphEdge[];
}

export const anyStateId = '*';

const boxWidth = 190;
const lineHeight = 16;

/** "after reconnectDelay", "always", "CONNECTION.CLOSED" */
function eventLabel(eventType: string): string {
  const delayed = /^xstate\.after\.([^.]+)\./.exec(eventType);
  if (delayed) return `after ${delayed[1]}`;
  if (eventType.startsWith('xstate.error.actor.')) return 'connection crashed';
  return eventType;
}

function guardLabel(guard: unknown): string {
  if (!guard) return '';
  if (typeof guard === 'string') return ` [${guard}]`;
  const type = (guard as { type?: unknown }).type;
  return typeof type === 'string' ? ` [${type}]` : '';
}

/** The top-level state a node belongs to ('*' for the root). */
function topLevel(node: AnyStateNode): string {
  return node.path.length === 0 ? anyStateId : node.path[0]!;
}

function collect(node: AnyStateNode, into: Array<{ from: string; to: string; label: string }>): void {
  const add = (eventType: string, transitions: ReadonlyArray<{ target?: ReadonlyArray<AnyStateNode> | undefined; guard?: unknown }>) => {
    for (const transition of transitions) {
      for (const target of transition.target ?? []) {
        const from = topLevel(node);
        const to = topLevel(target);
        if (from === to) continue; // moves inside one box (re-entries, substates) are not drawn
        into.push({ from, to, label: eventLabel(eventType) + guardLabel(transition.guard) });
      }
    }
  };
  for (const [eventType, transitions] of node.transitions) add(eventType, transitions);
  if (node.always) add('always', node.always);
  for (const child of Object.values(node.states)) collect(child, into);
}

export function buildStatechartGraph(machine: AnyStateMachine): StatechartGraph {
  const graph = new dagre.graphlib.Graph({ multigraph: true });
  graph.setGraph({ rankdir: 'TB', nodesep: 60, ranksep: 90, marginx: 20, marginy: 20 });
  graph.setDefaultEdgeLabel(() => ({}));

  const tops = Object.values(machine.root.states);
  const nodes = new Map<string, Omit<GraphNode, 'x' | 'y'>>();
  nodes.set(anyStateId, { id: anyStateId, label: 'any state', substates: [], final: false, width: 110, height: 36 });
  for (const state of tops) {
    const substates = Object.keys(state.states);
    nodes.set(state.key, {
      id: state.key,
      label: state.key,
      substates,
      final: state.type === 'final',
      width: boxWidth,
      height: 40 + substates.length * lineHeight,
    });
  }
  for (const node of nodes.values()) graph.setNode(node.id, { width: node.width, height: node.height });

  const raw: Array<{ from: string; to: string; label: string }> = [];
  collect(machine.root, raw);
  // One edge per (from, to, label): several guarded branches to one target read as one arrow.
  const unique = [...new Map(raw.map((e) => [`${e.from}|${e.to}|${e.label}`, e])).values()];
  unique.forEach((edge, index) => {
    graph.setEdge(edge.from, edge.to, { label: edge.label, width: edge.label.length * 6, height: 14, labelpos: 'c' }, String(index));
  });

  dagre.layout(graph);
  const laidOut = graph.graph() as { width?: number; height?: number };
  return {
    width: Math.ceil(laidOut.width ?? 800),
    height: Math.ceil(laidOut.height ?? 600),
    nodes: [...nodes.values()].map((n) => {
      const placed = graph.node(n.id) as { x: number; y: number };
      return { ...n, x: placed.x, y: placed.y };
    }),
    edges: unique.map((edge, index) => {
      const placed = graph.edge({ v: edge.from, w: edge.to, name: String(index) }) as { points: Array<{ x: number; y: number }> };
      return { ...edge, points: placed.points };
    }),
  };
}
