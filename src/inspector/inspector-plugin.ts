/**
 * The inspector: GET /inspector is an operator's console for the whole fleet.
 *
 *   /inspector, /inspector/app.js, …  the page (no data in it; open)
 *   /inspector/graph                  the laid-out statechart (API key)
 *   /inspector/fleet                   SSE, one for every session: `sessions` (all views) once,
 *                                      then `changes` ({views, removed}) batched (API key)
 *   /inspector/sessions/:u/:s/feed     SSE for one session: `view`, `history` (kept entries with
 *                                      the context now, after the entries from before this process
 *                                      read from the outbox), `messages` (queue depth, last messages'
 *                                      ids and statuses), then `entry`, `view` and `messages` live (API key)
 *   /inspector/sessions/:u/:s/earlier  an older page of that log (?beforeId=, the feed's `nextBeforeId`) (API key)
 *
 * Actions (start, stop, restart, logout, QR, pairing code; stop and restart of
 * many sessions at once, one request per session, paced) go through the
 * ordinary /sessions routes with the same key, and the cluster view reads
 * GET /cluster. Everything is served by the
 * service itself: no CDN, nothing from the internet.
 */
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { openEventStream, type EventStream } from '../http/event-stream.js';
import { errors, guarded, sessionErrors, text } from '../http/route-docs.js';
import { eventIdPattern } from '../outbox/event-id.js';
import { sessionParamsSchema, type SessionParams } from '../http/session-params.js';
import { sessionMachine } from '../../machines/session.machine.js';
import { sessionStates } from '../../machines/session.states.js';
import type { SessionView } from '../session/session-view.js';
import type { OutgoingMessage } from '../store/message-queue.js';
import { keyString, type SessionKey } from '../store/session-key.js';
import { FleetFeed, type FleetSource } from './fleet-feed.js';
import type { EarlierHistory } from './earlier-history.js';
import type { InspectionHub, InspectorEntry } from './inspection-hub.js';
import { summarizeMessages } from './message-summary.js';
import { buildStatechartGraph } from './statechart-graph.js';

/** What the inspector needs of the session registry (the surface the HTTP layer uses too). */
export interface InspectedFleet extends FleetSource {
  watch(userId: unknown, sessionId: unknown, listener: (view: SessionView) => void): () => void;
}

/** What the inspector needs of messaging: a session's messages, and word when one was accepted or changed status. */
export interface InspectedMessages {
  list(key: SessionKey): Promise<OutgoingMessage[]>;
  on(event: 'changed', listener: (key: SessionKey) => void): unknown;
  off(event: 'changed', listener: (key: SessionKey) => void): unknown;
}

/** A burst of status changes (a queue flushed on reconnect) is one read of the queue per open page. */
const messagesRefreshMs = 200;

/** Works from src/ (tests) and from dist/src/ (npm start), where tsc copies no static files. */
function publicFolder(): string {
  const beside = fileURLToPath(new URL('./public/', import.meta.url));
  return existsSync(beside) ? beside : fileURLToPath(new URL('../../../src/inspector/public/', import.meta.url));
}

/** The page and its assets: served from public/, open without the key (the page asks for it), documented each. */
const staticFiles: Record<string, { file: string; type: string; summary: string }> = {
  '/inspector': { file: 'index.html', type: 'text/html; charset=utf-8', summary: 'The live statechart page (no key needed; it asks for one)' },
  '/inspector/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8', summary: 'The inspector page’s script' },
  '/inspector/chart.js': { file: 'chart.js', type: 'text/javascript; charset=utf-8', summary: 'The inspector’s statechart drawing' },
  '/inspector/fleet.js': { file: 'fleet.js', type: 'text/javascript; charset=utf-8', summary: 'The inspector’s fleet list' },
  '/inspector/log.js': { file: 'log.js', type: 'text/javascript; charset=utf-8', summary: 'The inspector’s event log' },
  '/inspector/feed.js': { file: 'feed.js', type: 'text/javascript; charset=utf-8', summary: 'The inspector’s live feeds' },
  '/inspector/link.js': { file: 'link.js', type: 'text/javascript; charset=utf-8', summary: 'The inspector’s live QR dialog' },
  '/inspector/bulk.js': { file: 'bulk.js', type: 'text/javascript; charset=utf-8', summary: 'The inspector’s bulk actions (paced requests, one summary)' },
  '/inspector/cluster.js': { file: 'cluster.js', type: 'text/javascript; charset=utf-8', summary: 'The inspector’s cluster view (GET /cluster)' },
  '/inspector/app.css': { file: 'app.css', type: 'text/css; charset=utf-8', summary: 'The inspector page’s styles' },
  '/inspector/favicon.svg': { file: 'favicon.svg', type: 'image/svg+xml', summary: 'The inspector’s icon' },
};

/** The page's list of top-level states, written from machines/ so the page never keeps its own copy. */
const statesModulePath = '/inspector/states.js';
const statesModule = `export const states = ${JSON.stringify(sessionStates)};\n`;

export const inspectorOpenPaths = [...Object.keys(staticFiles), statesModulePath];

export function registerInspector(app: FastifyInstance, registry: InspectedFleet, hub: InspectionHub, messages?: InspectedMessages, earlier?: EarlierHistory): void {
  const folder = publicFolder();
  const asset = (summary: string, type: string) => ({ summary, tags: ['inspector'], security: [], response: { 200: text(type.split(';')[0]!, summary) } });
  for (const [path, { file, type, summary }] of Object.entries(staticFiles)) {
    app.get(path, { schema: asset(summary, type) }, async (_request, reply) => reply.type(type).header('cache-control', 'no-cache').send(await readFile(folder + file)));
  }
  const statesSummary = 'The session machine’s top-level states, for the inspector page';
  app.get(statesModulePath, { schema: asset(statesSummary, 'text/javascript') }, async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(statesModule),
  );

  const onRemoved = (key: SessionKey) => hub.forget(key);
  registry.on('removed', onRemoved);
  const fleet = new FleetFeed(registry);
  // One listener on messaging, fanned out per session: a console may watch many sessions at once.
  const messageChanges = new EventEmitter().setMaxListeners(0);
  const onMessagesChanged = (key: SessionKey) => messageChanges.emit(keyString(key));
  messages?.on('changed', onMessagesChanged);
  app.addHook('onClose', async () => {
    fleet.close();
    registry.off('removed', onRemoved);
    messages?.off('changed', onMessagesChanged);
  });

  const graph = buildStatechartGraph(sessionMachine);
  const graphDoc = { summary: 'The session statechart, laid out for drawing', tags: ['inspector'], response: { 200: { type: 'object', additionalProperties: true }, ...errors(...guarded) } };
  app.get('/inspector/graph', { schema: graphDoc }, async () => graph);

  const fleetDoc = {
    summary: 'Server-sent events: every session once, then batched additions, state changes and removals',
    tags: ['inspector'],
    response: { 200: text('text/event-stream', 'An endless event stream'), ...errors(...guarded) },
  };
  app.get('/inspector/fleet', { schema: fleetDoc }, (request, reply) => {
    const stream = openEventStream(request, reply);
    const subscription = fleet.subscribe((changes) => stream.send('changes', changes));
    stream.send('sessions', subscription.sessions);
    stream.onClose(subscription.stop);
  });

  const feedDoc = {
    summary:
      'Server-sent events: `view` on each change of the session, `entry` per inspection event, and `messages` `{queued, last: [{id, status, error?, at}]}` (queue depth and the last 10 outgoing messages, newest first, never their text or recipient) at once and when one changes',
    tags: ['inspector'],
    params: sessionParamsSchema,
    response: { 200: text('text/event-stream', 'An endless event stream'), ...sessionErrors },
  };
  app.get<{ Params: SessionParams }>('/inspector/sessions/:userId/:sessionId/feed', { schema: feedDoc }, (request, reply) => {
    const key = { userId: request.params.userId, sessionId: request.params.sessionId };
    const first = registry.get(key.userId, key.sessionId); // 404 before the stream opens
    const stream = openEventStream(request, reply);
    stream.send('view', first);
    void openHistory(stream, key, hub, earlier);
    followSession(stream, key, registry, messages, messageChanges);
  });

  const earlierDoc = {
    summary: 'One older page of the session’s log from before this process (the feed’s `history` says where it starts: `nextBeforeId`)',
    tags: ['inspector'],
    params: sessionParamsSchema,
    querystring: {
      type: 'object',
      required: ['beforeId'],
      additionalProperties: false,
      properties: {
        beforeId: { type: 'string', pattern: eventIdPattern.source, description: 'The `nextBeforeId` of the page before' },
        // A string: the API validates without coercing types (api.ts), and a query string is text.
        seqBelow: { type: 'string', pattern: '^(0|-[1-9][0-9]{0,8})$', description: 'The smallest seq the page holds (0 or negative): the new entries’ seqs end below it' },
      },
    },
    response: {
      200: {
        type: 'object',
        required: ['entries', 'nextBeforeId'],
        properties: { entries: { type: 'array', items: { type: 'object', additionalProperties: true } }, nextBeforeId: { type: ['string', 'null'] } },
      },
      ...sessionErrors,
    },
  };
  app.get<{ Params: SessionParams; Querystring: { beforeId: string; seqBelow?: string } }>(
    '/inspector/sessions/:userId/:sessionId/earlier',
    { schema: earlierDoc },
    async (request) => {
      const key = { userId: request.params.userId, sessionId: request.params.sessionId };
      registry.get(key.userId, key.sessionId); // 404 for a session that is not there
      if (!earlier) return { entries: [], nextBeforeId: null };
      return earlier(key, { beforeId: request.query.beforeId, seqBelow: Number(request.query.seqBelow ?? 0) });
    },
  );
}

/**
 * Sends `history`: the log from before this process (outbox) and the hub's, oldest first.
 * The hub is read and followed in one step after the outbox read, so no live entry falls
 * between them. Nothing when the client left meanwhile.
 */
async function openHistory(stream: EventStream, key: SessionKey, hub: InspectionHub, earlier: EarlierHistory | undefined): Promise<void> {
  let closed = false;
  stream.onClose(() => (closed = true));
  const first = hub.recent(key)[0];
  // A storage that refuses the read costs only the earlier entries: the live log still opens.
  const none = { entries: [], nextBeforeId: null };
  const before = earlier ? await earlier(key, { before: first ? { at: first.at } : null }).catch(() => none) : none;
  if (closed) return;
  stream.send('history', { entries: [...before.entries, ...hub.recent(key)], context: hub.context(key), nextBeforeId: before.nextBeforeId });
  const onEntry = (entry: InspectorEntry) => stream.send('entry', entry);
  hub.on(keyString(key), onEntry);
  stream.onClose(() => hub.off(keyString(key), onEntry));
}

/** The session's `view` and `messages` after each change (the page takes them in any order with `history`). */
function followSession(stream: EventStream, key: SessionKey, registry: InspectedFleet, messages: InspectedMessages | undefined, messageChanges: EventEmitter): void {
  // The view is read again once the event has been handled: one emitted while a new actor
  // starts (a restart) describes the actor before it.
  let pending: NodeJS.Immediate | null = null;
  const sendFresh = () => {
    pending = null;
    try {
      stream.send('view', registry.get(key.userId, key.sessionId));
    } catch {
      // removed: the fleet feed says so
    }
  };
  stream.onClose(registry.watch(key.userId, key.sessionId, () => void (pending ??= setImmediate(sendFresh))));
  stream.onClose(() => pending && clearImmediate(pending));
  if (messages) followMessages(stream, key, messages, messageChanges);
}

/**
 * Sends the session's `messages` summary now and after each change, at most every
 * messagesRefreshMs; reads never overlap, so the last one sent is the newest.
 */
function followMessages(stream: EventStream, key: SessionKey, messages: InspectedMessages, changes: EventEmitter): void {
  let closed = false;
  let timer: NodeJS.Timeout | null = null;
  let reading: Promise<void> | null = null;
  const read = async () => {
    try {
      const summary = summarizeMessages(await messages.list(key));
      if (!closed) stream.send('messages', summary);
    } catch {
      // removed, or the storage refused the read: the page keeps its last summary until the next change
    }
  };
  const refresh = () => {
    timer = null;
    if (reading) return void (timer = setTimeout(refresh, messagesRefreshMs));
    reading = read().finally(() => (reading = null));
  };
  const onChanged = () => void (timer ??= setTimeout(refresh, messagesRefreshMs));
  changes.on(keyString(key), onChanged);
  refresh();
  stream.onClose(() => {
    closed = true;
    changes.off(keyString(key), onChanged);
    if (timer) clearTimeout(timer);
  });
}
