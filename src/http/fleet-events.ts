/**
 * GET /events: every session's events on one stream (text/event-stream),
 * `id:` on each, filtered by `userId`, `sessionId` and `types` (comma-separated).
 * A client that reconnects with `Last-Event-ID` (browsers' EventSource does it
 * by itself; or `?lastEventId=`) gets every event after that id from the
 * outbox, then the live ones, with no gap and no repeat. Without one, the
 * stream starts with what happens next. An id older than what the outbox still
 * keeps (EVENTS_RETENTION_MS) is answered with a `gap` event first. An id
 * newer than anything stored here (garbage that looks like an id, or one from
 * a node whose clock runs ahead) cannot be resumed from: the stream says so
 * with a `gap` event (`reason: 'unknown_id'`), then goes on live, rather than
 * waiting silently for events that would have to sort after it.
 * On PostgreSQL the outbox is the cluster's: any node streams every node's
 * events, and an id one node served resumes on any other.
 * A QR's text is never on this stream: fetch it from /sessions/:userId/:sessionId/qr.
 */
import type { FastifyInstance } from 'fastify';
import type { EventService } from '../webhooks/event-service.js';
import { eventIdPattern } from '../outbox/event-id.js';
import { eventTypes, visibleTo, type FleetEvent } from '../outbox/fleet-event.js';
import { openEventStream } from './event-stream.js';
import { errors, guarded, text } from './route-docs.js';
import { idSchema } from './session-params.js';

interface Query {
  userId?: string;
  sessionId?: string;
  types?: string;
  lastEventId?: string;
}

/** Events read from the outbox per step of a replay. */
const replayPageSize = 500;
/** What a browser's EventSource waits before reconnecting (with Last-Event-ID). */
const reconnectDelayMs = 2_000;

export function fleetEventRoutes(app: FastifyInstance, events: EventService): void {
  app.get<{ Querystring: Query }>(
    '/events',
    {
      schema: {
        summary: 'Server-sent events for the whole fleet, with `id:` fields; `Last-Event-ID` resumes without gaps',
        tags: ['events'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            userId: idSchema,
            sessionId: idSchema,
            types: { type: 'string', pattern: `^(${eventTypes.map((t) => t.replace('.', '\\.')).join('|')})(,(${eventTypes.map((t) => t.replace('.', '\\.')).join('|')}))*$` },
            lastEventId: { type: 'string' },
          },
        },
        response: { 200: text('text/event-stream', 'An endless event stream, one SSE event per fleet event, named by its type'), ...errors(400, ...guarded) },
      },
    },
    async (request, reply) => {
      const { userId, sessionId } = request.query;
      const types = request.query.types ? new Set(request.query.types.split(',')) : null;
      const header = request.headers['last-event-id'];
      const resumeFrom = (typeof header === 'string' && header !== '' ? header : undefined) ?? request.query.lastEventId;
      if (resumeFrom !== undefined && !eventIdPattern.test(resumeFrom)) {
        return reply.code(400).send({ error: 'invalid_request', message: 'headers.last-event-id: not an event id' });
      }
      const wanted = (event: FleetEvent) =>
        (!userId || event.userId === userId) && (!sessionId || event.sessionId === sessionId) && (!types || types.has(event.type));

      const { outbox } = events;
      const stream = openEventStream(request, reply);
      // Sends the headers now (a stream with nothing to replay would otherwise wait for its first event) and sets EventSource's reconnect delay.
      reply.raw.write(`retry: ${reconnectDelayMs}\n\n`);
      let last = resumeFrom ?? outbox.newestId();
      let replaying = true;
      const held: FleetEvent[] = [];
      const send = (batch: readonly FleetEvent[]) => {
        for (const event of batch) {
          if (last !== null && event.id <= last) continue;
          last = event.id;
          if (wanted(event)) stream.send(event.type, visibleTo(event, false), event.id);
        }
      };
      // Listen before replaying: what is appended meanwhile is held, then sent after the replay (ids dedupe the overlap).
      stream.onClose(outbox.onAppended((batch) => (replaying ? held.push(...batch) : send(batch))));
      // A shared outbox: an id another node served may be newer than what this one has handed on yet.
      await outbox.sync?.().catch(() => undefined);
      const pruned = outbox.prunedThrough();
      const newest = outbox.newestId();
      if (resumeFrom !== undefined && resumeFrom > (newest ?? pruned ?? '')) {
        // Every id stored here sorts at or below `newest`: replaying "after" this one would skip everything until the clock passes it.
        stream.send('gap', { after: resumeFrom, reason: 'unknown_id', message: 'Last-Event-ID is newer than any event this service has; continuing live', newest });
        last = newest;
      } else if (resumeFrom !== undefined && pruned !== null && resumeFrom < pruned) {
        stream.send('gap', { after: resumeFrom, oldestKept: outbox.oldestId() });
      }
      if (resumeFrom !== undefined) {
        for (;;) {
          const page = await outbox.read(last, replayPageSize);
          send(page);
          if (page.length < replayPageSize) break;
        }
      }
      send(held);
      replaying = false;
    },
  );
}
