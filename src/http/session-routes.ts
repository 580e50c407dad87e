/** The /sessions routes. Ids are checked by JSON schema (session-params.ts) before any handler runs. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import QRCode from 'qrcode';
import type { Cluster, ForwardedAnswer } from '../service/cluster.js';
import type { SessionRegistry } from '../service/registry.js';
import type { SessionView } from '../session/session-view.js';
import { keyString } from '../store/session-key.js';
import { sessionViewSchema } from '../session/session-view-schema.js';
import { openEventStream, relayEventStream } from './event-stream.js';
import { errors, guarded, noContent, sessionErrors, text } from './route-docs.js';
import { idSchema, sessionParamsSchema as sessionParams, type SessionParams } from './session-params.js';

/**
 * @param cluster on a PostgreSQL cluster: the list spans every node, and a read of a
 *                session another node owns is answered by that node.
 */
export function sessionRoutes(app: FastifyInstance, registry: SessionRegistry, cluster: Cluster | null = null): void {
  app.post<{ Body: { userId: string; sessionId?: string } }>(
    '/sessions',
    {
      schema: {
        summary: 'Create a session and start connecting it',
        tags: ['sessions'],
        body: {
          type: 'object',
          required: ['userId'],
          additionalProperties: false,
          properties: { userId: idSchema, sessionId: idSchema },
        },
        response: { 201: sessionViewSchema, ...errors(400, 409, 413, 415, ...guarded) },
      },
    },
    async (request, reply) => reply.code(201).send(await registry.create(request.body.userId, request.body.sessionId ?? 'default')),
  );

  app.get<{ Querystring: { scope?: 'cluster' | 'local' } }>(
    '/sessions',
    {
      schema: {
        summary: 'Every session (on a cluster, every node’s; ?scope=local: those this node owns)',
        tags: ['sessions'],
        querystring: { type: 'object', additionalProperties: false, properties: { scope: { type: 'string', enum: ['cluster', 'local'] } } },
        response: { 200: { type: 'array', items: sessionViewSchema }, ...errors(400, ...guarded) },
      },
    },
    async (request) => {
      const views = registry.list();
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

  /**
   * A read that only the owner can answer (its live view, its QR) is asked of the owner;
   * the answer, or null when this node answers itself (it owns the session, or the owner
   * cannot be reached).
   */
  /** This node's view; on a cluster, of a session nobody runs, with its metadata read again (see registry.current). */
  const localView = (params: SessionParams): Promise<SessionView> | SessionView => {
    const view = registry.get(params.userId, params.sessionId);
    return cluster && view.owner === null ? registry.current(params.userId, params.sessionId) : view;
  };

  const askOwner = async (request: FastifyRequest<{ Params: SessionParams }>): Promise<ForwardedAnswer | null> => {
    const owner = await ownerElsewhere(request.params);
    return owner ? cluster!.forward(request, owner) : null;
  };

  /**
   * The node that runs the session when it is not this one; null on one node, when this
   * node runs it, or when nobody does. A view without an owner is checked against the
   * database: a node that has only just learnt of a session does not know its owner yet.
   */
  const ownerElsewhere = async (params: SessionParams): Promise<string | null> => {
    const view = registry.get(params.userId, params.sessionId);
    if (!cluster || view.owner === cluster.holder) return null;
    const owner = view.owner ?? (await cluster.liveOwner(params));
    return owner === cluster.holder ? null : owner;
  };

  const oneSession = { summary: 'One session', tags: ['sessions'], params: sessionParams, response: { 200: sessionViewSchema, ...sessionErrors } };
  app.get<{ Params: SessionParams }>('/sessions/:userId/:sessionId', { schema: oneSession }, async (request, reply) => {
    const answer = await askOwner(request);
    if (answer) return reply.code(answer.status).type(answer.contentType ?? 'application/json').send(answer.body);
    return localView(request.params);
  });

  const actions: Record<string, { summary: string; act: (p: SessionParams) => Promise<SessionView> }> = {
    start: { summary: 'Start a stopped session', act: (p) => registry.start(p.userId, p.sessionId) },
    stop: { summary: 'Stop a session, keeping its credentials; it stays stopped across restarts', act: (p) => registry.stop(p.userId, p.sessionId) },
    restart: { summary: 'Stop and start a session', act: (p) => registry.restart(p.userId, p.sessionId) },
    logout: { summary: 'Unlink the device and wipe its credentials', act: (p) => registry.logout(p.userId, p.sessionId) },
  };
  for (const [name, { summary, act }] of Object.entries(actions)) {
    const schema = { summary, tags: ['sessions'], params: sessionParams, response: { 202: sessionViewSchema, ...sessionErrors, ...errors(409) } };
    app.post<{ Params: SessionParams }>(`/sessions/:userId/:sessionId/${name}`, { schema }, async (request, reply) => reply.code(202).send(await act(request.params)));
  }

  app.delete<{ Params: SessionParams; Querystring: { logout?: boolean } }>(
    '/sessions/:userId/:sessionId',
    {
      schema: {
        summary: 'Stop a session and remove its folder (credentials included); ?logout=true unlinks the device first',
        tags: ['sessions'],
        params: sessionParams,
        querystring: { type: 'object', additionalProperties: false, properties: { logout: { type: 'string', enum: ['true', 'false'] } } },
        response: { 204: noContent('Deleted'), ...sessionErrors, ...errors(409) },
      },
    },
    async (request, reply) => {
      const logout = String(request.query.logout) === 'true';
      await registry.remove(request.params.userId, request.params.sessionId, { logout });
      return reply.code(204).send();
    },
  );

  app.get<{ Params: SessionParams; Querystring: { format?: 'png' | 'raw' } }>(
    '/sessions/:userId/:sessionId/qr',
    {
      schema: {
        summary: 'The pending pairing QR: a PNG, or {qr} with ?format=raw (404 when none is pending)',
        tags: ['pairing'],
        params: sessionParams,
        querystring: { type: 'object', properties: { format: { type: 'string', enum: ['png', 'raw'] } } },
        response: {
          200: {
            description: 'The QR',
            content: {
              'image/png': { schema: { type: 'string', format: 'binary' } },
              'application/json': { schema: { type: 'object', properties: { qr: { type: 'string' } } } },
            },
          },
          ...sessionErrors,
        },
      },
    },
    async (request, reply) => {
      // The QR lives in the owner's socket: any node serves it by asking the owner.
      const answer = await askOwner(request);
      if (answer) return reply.code(answer.status).type(answer.contentType ?? 'application/json').header('cache-control', 'no-store').send(answer.body);
      const qr = registry.pendingQr(request.params.userId, request.params.sessionId);
      if (request.query.format === 'raw') return { qr };
      return reply.type('image/png').header('cache-control', 'no-store').send(await QRCode.toBuffer(qr, { type: 'png', margin: 2, width: 320 }));
    },
  );

  app.post<{ Params: SessionParams; Body: { phoneNumber: string } }>(
    '/sessions/:userId/:sessionId/pairing-code',
    {
      schema: {
        summary: 'Link by phone number instead of QR: a code to type on the phone',
        tags: ['pairing'],
        params: sessionParams,
        body: {
          type: 'object',
          required: ['phoneNumber'],
          additionalProperties: false,
          properties: { phoneNumber: { type: 'string', pattern: '^[0-9]{6,15}$' } },
        },
        response: { 200: { type: 'object', properties: { code: { type: 'string' } } }, ...sessionErrors, ...errors(409, 413, 415) },
      },
    },
    async (request) => ({
      code: await registry.requestPairingCode(request.params.userId, request.params.sessionId, request.body.phoneNumber),
    }),
  );

  const transitions = {
    summary: 'Server-sent events: one `transition` event with the session view per transition',
    tags: ['sessions'],
    params: sessionParams,
    response: { 200: text('text/event-stream', 'An endless event stream'), ...sessionErrors },
  };
  app.get<{ Params: SessionParams }>('/sessions/:userId/:sessionId/events', { schema: transitions }, async (request, reply) => {
    const { userId, sessionId } = request.params;
    // Another node runs it: only that node sees each transition, so its stream is relayed as it comes.
    const owner = await ownerElsewhere(request.params);
    const first = await localView(request.params);
    // This node's stream slot first: a client refused here (503) never holds one on the owner.
    const stream = openEventStream(request, reply);
    const owners = owner ? await cluster!.openStream(request, owner) : null;
    if (owners) return relayEventStream(owners, stream);
    stream.send('transition', first);
    stream.onClose(registry.watch(userId, sessionId, (view) => stream.send('transition', view)));
  });
}
