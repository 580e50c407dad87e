import { setup } from 'xstate';
import { expect, it } from 'vitest';
import { sessionMachine } from '../../machines/session.machine.js';
import { buildStatechartGraph, type GraphNode } from '../../src/inspector/statechart-graph.js';

const graph = buildStatechartGraph(sessionMachine);
const node = (id: string) => graph.nodes.find((n) => n.id === id);
const edgesFrom = (from: string) => graph.edges.filter((e) => e.from === from);

function inside(point: { x: number; y: number }, n: GraphNode): boolean {
  return Math.abs(point.x - n.x) < n.width / 2 && Math.abs(point.y - n.y) < n.height / 2;
}

it('draws substates inside their state, with the moves between them and the initial ones marked', () => {
  expect(node('connecting.awaitingQr')).toMatchObject({ parent: 'connecting', compound: false });
  expect(node('connecting')).toMatchObject({ compound: true, parent: null });
  for (const sub of graph.nodes.filter((n) => n.parent)) {
    const parent = node(sub.parent!)!;
    expect(sub.x - sub.width / 2).toBeGreaterThan(parent.x - parent.width / 2);
    expect(sub.y + sub.height / 2).toBeLessThan(parent.y + parent.height / 2);
  }
  expect(edgesFrom('connecting.queued').map((e) => [e.to, e.lines])).toContainEqual(['connecting.handshaking', ['CONNECTION.ADMITTED']]);
  expect(edgesFrom('connecting.handshaking').map((e) => [e.to, e.lines])).toContainEqual(['connecting.awaitingQr', ['CONNECTION.QR']]);
  expect(edgesFrom('open.settling').map((e) => [e.to, e.lines])).toContainEqual(['open.stable', ['after stable']]);
  const initials = graph.edges.filter((e) => e.kind === 'initial').map((e) => e.to);
  expect(initials.sort()).toEqual(['connecting', 'connecting.queued', 'degraded.probing', 'open.settling']);
  expect(node('degraded.probing')!.selfLoops).toEqual(['↻ after re-probe']);
});

it('draws what each state really hears: backingOff ignores a close, terminated hears nothing', () => {
  expect(edgesFrom('terminated')).toEqual([]);
  expect(edgesFrom('backingOff').flatMap((e) => e.events)).not.toContain('CONNECTION.CLOSED');
  expect(edgesFrom('backingOff').map((e) => [e.to, e.lines])).toEqual([
    ['connecting', ['RECONNECT', 'WAKE', 'after backoff']],
    ['terminated', ['at once [attemptsExhausted]']],
  ]);
  // The machine's own transitions are listed with the states they apply in.
  const line = (event: string) => graph.legend.filter((l) => l.event === event).map((l) => ({ every: l.every, from: l.from, line: l.line }));
  expect(line('STOP')).toEqual([{ every: true, from: ['connecting', 'open', 'degraded', 'backingOff'], line: 'STOP → terminated' }]);
  expect(line('CONNECTION.CLOSED')).toContainEqual({
    every: false,
    from: ['connecting', 'open', 'degraded'],
    line: 'CONNECTION.CLOSED [closedByLogout | closeIsFinal] → terminated',
  });
});

it('puts every label where the layout reserved room: inside the chart, on no state box', () => {
  const leaves = graph.nodes.filter((n) => !n.compound);
  for (const edge of graph.edges.filter((e) => e.lines.length)) {
    const label = { x: edge.labelX, y: edge.labelY };
    expect(label.x).toBeGreaterThan(0);
    expect(label.x).toBeLessThan(graph.width);
    expect(label.y).toBeLessThan(graph.height);
    expect(leaves.filter((n) => inside(label, n)).map((n) => n.id)).toEqual([]);
  }
  expect(graph.font.labelPx).toBeGreaterThanOrEqual(11);
});

it('follows the machine: a new substate and a new event appear without touching the chart code', () => {
  const machine = setup({}).createMachine({
    id: 'm',
    initial: 'connecting',
    on: { STOP: '.terminated', 'CONNECTION.CLOSED': '.backingOff' },
    states: {
      connecting: { initial: 'queued', states: { queued: { on: { ADMITTED: 'handshaking' } }, handshaking: {} }, on: { OPEN: 'open' } },
      open: {},
      backingOff: { on: { WAKE: 'connecting', 'CONNECTION.CLOSED': {} } },
      terminated: { type: 'final' },
    },
  });
  const g = buildStatechartGraph(machine);
  expect(g.nodes.find((n) => n.id === 'connecting.queued')).toMatchObject({ parent: 'connecting' });
  expect(g.edges.filter((e) => e.kind === 'initial').map((e) => e.to)).toContain('connecting.queued');
  expect(g.edges.map((e) => [e.from, e.to, e.lines])).toEqual(
    expect.arrayContaining([
      ['connecting.queued', 'connecting.handshaking', ['ADMITTED']],
      ['backingOff', 'connecting', ['WAKE']],
    ]),
  );
  expect(g.legend.map((l) => [l.line, l.every])).toEqual([
    ['STOP → terminated', true],
    ['CONNECTION.CLOSED → backingOff', false],
  ]);
});
