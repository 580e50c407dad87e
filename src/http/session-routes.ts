/** The /sessions routes. Ids are checked by JSON schema (session-params.ts) before any handler runs. */
import type { FastifyInstance } from 'fastify';
import QRCode from 'qrcode';
import type { Cluster } from '../service/cluster.js';
import type { SessionRegistry } from '../service/registry.js';
import type { SessionView } from '../service/session-view.js';
import { keyString } from '../store/session-key.js';
import { openEventStream } from './event-stream.js';
import { idSchema, sessionParamsSchema as sessionParams, type SessionParams } from './session-params.js';

/**
 * @param cluster on a PostgreSQL cluster: the list spans every node, and a read of a
 *                session another node owns is answered by that node.
 */
export function sessionRoutes(app: FastifyInstance, manager: SessionRegistry, cluster: Cluster | null = null): void {
  app.post<{ Body: { userId: string; sessionId?: string } }>(
    '/sessions',
    {
      schema: {
        body: {
          type: 'object',
          required: ['userId'],
          additionalProperties: false,
          properties: { userId: idSchema, sessionId: idSchema },
        },
      },
    },
    async (request, reply) => reply.code(201).send(await manager.create(request.body.userId, request.body.sessionId ?? 'default')),
  );

  app.get<{ Querystring: { scope?: 'cluster' | 'local' } }>(
    '/sessions',
    { schema: { querystring: { type: 'object', additionalProperties: false, properties: { scope: { type: 'string', enum: ['cluster', 'local'] } } } } },
    async (request) => {
      const views = manager.list();
      if (!cluster) return views;
      const mine = views.filter((v) => v.owner === cluster.holder);
      if (request.query.scope === 'local') return mine;
      // Every node answers for what it owns; what nobody owns right now is listed as this node sees it.
      const merged = new Map(views.map((v) => [keyString(v), v]));
      for (const theirs of await cluster.fromPeers<SessionView[]>('/sessions?scope=local', request.headers)) {
        for (const view of theirs) merged.set(keyString(view), view);
      }
      for (const view of mine) merged.set(keyString(view), view);
      return [...merged.values()].sort((a, b) => keyString(a).localeCompare(keyString(b)));
    },
  );

  app.get<{ Params: SessionParams }>('/sessions/:userId/:sessionId', { schema: { params: sessionParams } }, async (request, reply) => {
    const view = manager.get(request.params.userId, request.params.sessionId);
    if (cluster && view.owner && view.owner !== cluster.holder) {
      const answer = await cluster.forward(request, view.owner);
      if (answer) return reply.code(answer.status).type(answer.contentType ?? 'application/json').send(answer.body);
    }
    return view;
  });

  const actions: Record<string, (p: SessionParams) => Promise<SessionView>> = {
    start: (p) => manager.start(p.userId, p.sessionId),
    stop: (p) => manager.stop(p.userId, p.sessionId),
    restart: (p) => manager.restart(p.userId, p.sessionId),
    logout: (p) => manager.logout(p.userId, p.sessionId),
  };
  for (const [name, act] of Object.entries(actions)) {
    app.post<{ Params: SessionParams }>(`/sessions/:userId/:sessionId/${name}`, { schema: { params: sessionParams } }, async (request, reply) =>
      reply.code(202).send(await act(request.params)),
    );
  }

  app.delete<{ Params: SessionParams; Querystring: { logout?: boolean } }>(
    '/sessions/:userId/:sessionId',
    {
      schema: {
        params: sessionParams,
        querystring: { type: 'object', additionalProperties: false, properties: { logout: { type: 'string', enum: ['true', 'false'] } } },
      },
    },
    async (request, reply) => {
      const logout = String(request.query.logout) === 'true';
      await manager.remove(request.params.userId, request.params.sessionId, { logout });
      return reply.code(204).send();
    },
  );

  app.get<{ Params: SessionParams; Querystring: { format?: 'png' | 'raw' } }>(
    '/sessions/:userId/:sessionId/qr',
    {
      schema: {
        params: sessionParams,
        querystring: { type: 'object', properties: { format: { type: 'string', enum: ['png', 'raw'] } } },
      },
    },
    async (request, reply) => {
      const qr = manager.pendingQr(request.params.userId, request.params.sessionId);
      if (request.query.format === 'raw') return { qr };
      return reply.type('image/png').header('cache-control', 'no-store').send(await QRCode.toBuffer(qr, { type: 'png', margin: 2, width: 320 }));
    },
  );

  app.post<{ Params: SessionParams; Body: { phoneNumber: string } }>(
    '/sessions/:userId/:sessionId/pairing-code',
    {
      schema: {
        params: sessionParams,
        body: {
          type: 'object',
          required: ['phoneNumber'],
          additionalProperties: false,
          properties: { phoneNumber: { type: 'string', pattern: '^[0-9]{6,15}$' } },
        },
      },
    },
    async (request) => ({
      code: await manager.requestPairingCode(request.params.userId, request.params.sessionId, request.body.phoneNumber),
    }),
  );

  app.get<{ Params: SessionParams }>('/sessions/:userId/:sessionId/events', { schema: { params: sessionParams } }, (request, reply) => {
    const { userId, sessionId } = request.params;
    const first = manager.get(userId, sessionId);
    const stream = openEventStream(request, reply);
    stream.send('transition', first);
    stream.onClose(manager.watch(userId, sessionId, (view) => stream.send('transition', view)));
  });
}
