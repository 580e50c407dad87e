/**
 * The inspector: GET /inspector is an operator's console for the whole fleet.
 *
 *   /inspector, /inspector/app.js, …  the page (no data in it; open)
 *   /inspector/graph                  the laid-out statechart (API key)
 *   /inspector/fleet                   SSE, one for every session: `sessions` (all views) once,
 *                                      then `changes` ({views, removed}) batched (API key)
 *   /inspector/sessions/:u/:s/feed     SSE for one session: `view`, `history` (kept entries with
 *                                      the context now), then `entry` and `view` live (API key)
 *
 * Actions (start, stop, restart, logout, QR, pairing code) go through the
 * ordinary /sessions routes with the same key. Everything is served by the
 * service itself: no CDN, nothing from the internet.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { openEventStream } from '../http/event-stream.js';
import { sessionParamsSchema, type SessionParams } from '../http/session-params.js';
import { sessionMachine } from '../../machines/session.machine.js';
import type { SessionView } from '../service/session-view.js';
import { keyString, type SessionKey } from '../store/session-key.js';
import { FleetFeed, type FleetSource } from './fleet-feed.js';
import type { InspectionHub, InspectorEntry } from './inspection-hub.js';
import { buildStatechartGraph } from './statechart-graph.js';

/** What the inspector needs of the session registry (the surface the HTTP layer uses too). */
export interface InspectedFleet extends FleetSource {
  watch(userId: unknown, sessionId: unknown, listener: (view: SessionView) => void): () => void;
}

/** Works from src/ (tests) and from dist/src/ (npm start), where tsc copies no static files. */
function publicFolder(): string {
  const beside = fileURLToPath(new URL('./public/', import.meta.url));
  return existsSync(beside) ? beside : fileURLToPath(new URL('../../../src/inspector/public/', import.meta.url));
}

const staticFiles: Record<string, { file: string; type: string }> = {
  '/inspector': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/inspector/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/inspector/chart.js': { file: 'chart.js', type: 'text/javascript; charset=utf-8' },
  '/inspector/fleet.js': { file: 'fleet.js', type: 'text/javascript; charset=utf-8' },
  '/inspector/log.js': { file: 'log.js', type: 'text/javascript; charset=utf-8' },
  '/inspector/feed.js': { file: 'feed.js', type: 'text/javascript; charset=utf-8' },
  '/inspector/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
  '/inspector/favicon.svg': { file: 'favicon.svg', type: 'image/svg+xml' },
};

export const inspectorOpenPaths = Object.keys(staticFiles);

export function registerInspector(app: FastifyInstance, manager: InspectedFleet, hub: InspectionHub): void {
  const folder = publicFolder();
  for (const [path, { file, type }] of Object.entries(staticFiles)) {
    app.get(path, async (_request, reply) => reply.type(type).header('cache-control', 'no-cache').send(await readFile(folder + file)));
  }

  const onRemoved = (key: SessionKey) => hub.forget(key);
  manager.on('removed', onRemoved);
  const fleet = new FleetFeed(manager);
  app.addHook('onClose', async () => {
    fleet.close();
    manager.off('removed', onRemoved);
  });

  const graph = buildStatechartGraph(sessionMachine);
  app.get('/inspector/graph', async () => graph);

  app.get('/inspector/fleet', (request, reply) => {
    const stream = openEventStream(request, reply);
    const subscription = fleet.subscribe((changes) => stream.send('changes', changes));
    stream.send('sessions', subscription.sessions);
    stream.onClose(subscription.stop);
  });

  app.get<{ Params: SessionParams }>('/inspector/sessions/:userId/:sessionId/feed', { schema: { params: sessionParamsSchema } }, (request, reply) => {
    const key = { userId: request.params.userId, sessionId: request.params.sessionId };
    const first = manager.get(key.userId, key.sessionId); // 404 before the stream opens
    const stream = openEventStream(request, reply);
    stream.send('view', first);
    stream.send('history', { entries: hub.recent(key), context: hub.context(key) });
    const onEntry = (entry: InspectorEntry) => stream.send('entry', entry);
    hub.on(keyString(key), onEntry);
    stream.onClose(() => hub.off(keyString(key), onEntry));
    // The view is read again once the event has been handled: one emitted while a new actor
    // starts (a restart) describes the actor before it.
    let pending: NodeJS.Immediate | null = null;
    const sendFresh = () => {
      pending = null;
      try {
        stream.send('view', manager.get(key.userId, key.sessionId));
      } catch {
        // removed: the fleet feed says so
      }
    };
    stream.onClose(manager.watch(key.userId, key.sessionId, () => void (pending ??= setImmediate(sendFresh))));
    stream.onClose(() => pending && clearImmediate(pending));
  });
}
