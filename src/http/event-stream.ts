/**
 * A text/event-stream response: named events with JSON data, a comment line
 * every heartbeatMs so proxies do not cut an idle stream, and cleanup when the
 * client goes away.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { takeEventStreamSlot } from './server-limits.js';

/** Idle proxies commonly cut at 30–60 s. */
export const heartbeatMs = 15_000;

export interface EventStream {
  /** `id`, when given, is the event's `id:` line (a client resumes with it as Last-Event-ID). */
  send(event: string, data: unknown, id?: string): void;
  /** Runs once the client has disconnected. */
  onClose(cleanup: () => void): void;
}

/** Throws ServiceBusyError (a 503) when the server's event stream cap is reached (server-limits.ts). */
export function openEventStream(request: FastifyRequest, reply: FastifyReply): EventStream {
  takeEventStreamSlot(request.server.server, reply.raw);
  reply.hijack();
  const out = reply.raw;
  out.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  const heartbeat = setInterval(() => out.write(': heartbeat\n\n'), heartbeatMs);
  const cleanups: Array<() => void> = [() => clearInterval(heartbeat)];
  request.raw.once('close', () => cleanups.forEach((cleanup) => cleanup()));
  return {
    send: (event, data, id) => void out.write(`${id ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`),
    onClose: (cleanup) => void cleanups.push(cleanup),
  };
}
