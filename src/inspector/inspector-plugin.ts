/**
 * The inspector: GET /inspector draws every session's statechart live.
 *
 *   /inspector, /inspector/app.js   the page (no data in it; open)
 *   /inspector/graph                the laid-out statechart (API key)
 *   /inspector/sessions/:u/:s/feed  SSE: recent entries, then live ones,
 *                                   plus the session view on each transition (API key)
 *
 * Everything is served by the service itself: no CDN, nothing from the internet.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { openEventStream } from '../http/event-stream.js';
import { sessionParamsSchema, type SessionParams } from '../http/session-params.js';
import { sessionMachine } from '../../machines/session.machine.js';
import type { SessionRegistry } from '../service/registry.js';
import { keyString } from '../store/session-key.js';
import type { InspectionHub, InspectorEntry } from './inspection-hub.js';
import { buildStatechartGraph } from './statechart-graph.js';

/** Works from src/ (tests) and from dist/src/ (npm start), where tsc copies no static files. */
function publicFolder(): string {
  const beside = fileURLToPath(new URL('./public/', import.meta.url));
  return existsSync(beside) ? beside : fileURLToPath(new URL('../../../src/inspector/public/', import.meta.url));
}

const staticFiles: Record<string, { file: string; type: string }> = {
  '/inspector': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/inspector/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/inspector/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};

export const inspectorOpenPaths = Object.keys(staticFiles);

export function registerInspector(app: FastifyInstance, manager: SessionRegistry, hub: InspectionHub): void {
  const folder = publicFolder();
  for (const [path, { file, type }] of Object.entries(staticFiles)) {
    app.get(path, async (_request, reply) => reply.type(type).header('cache-control', 'no-cache').send(await readFile(folder + file)));
  }

  // A session deleted through the API takes its inspection history with it.
  app.addHook('onResponse', async (request, reply) => {
    if (request.method !== 'DELETE' || reply.statusCode !== 204 || request.routeOptions.url !== '/sessions/:userId/:sessionId') return;
    hub.forget(request.params as SessionParams);
  });

  const graph = buildStatechartGraph(sessionMachine);
  app.get('/inspector/graph', async () => graph);

  app.get<{ Params: SessionParams }>('/inspector/sessions/:userId/:sessionId/feed', { schema: { params: sessionParamsSchema } }, (request, reply) => {
    const key = { userId: request.params.userId, sessionId: request.params.sessionId };
    const first = manager.get(key.userId, key.sessionId);
    const stream = openEventStream(request, reply);
    stream.send('view', first);
    for (const entry of hub.recent(key)) stream.send('entry', entry);
    const onEntry = (entry: InspectorEntry) => stream.send('entry', entry);
    hub.on(keyString(key), onEntry);
    stream.onClose(() => hub.off(keyString(key), onEntry));
    stream.onClose(manager.watch(key.userId, key.sessionId, (view) => stream.send('view', view)));
  });
}
