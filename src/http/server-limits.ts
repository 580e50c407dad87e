/**
 * Limits that keep one misbehaving client from exhausting the process: HTTP
 * timeouts (a socket that sends nothing is closed, so idle connections cannot
 * pile up until file descriptors run out and reconnects fail with EMFILE), a
 * cap on open connections and one on event streams. Past a cap the client
 * gets a clear 503 `{error, message}`, not a silently dropped socket.
 */
import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';

export interface ServerLimits {
  /** Open HTTP connections at once. Default 1024 (below the common `ulimit -n` of 1024 plus the sessions' own sockets). */
  maxConnections: number;
  /** Open event streams (SSE) at once. Default 256. */
  maxEventStreams: number;
  /** Time to receive a whole request. Default 30 s. */
  requestTimeoutMs: number;
  /** Time to receive a request's headers. Default 10 s. */
  headersTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. Default 5 s. */
  keepAliveTimeoutMs: number;
  /** A socket silent this long is closed; far above the event streams' 2 s keep-alive. Default 60 s. */
  idleSocketTimeoutMs: number;
}

export const defaultServerLimits: Readonly<ServerLimits> = Object.freeze({
  maxConnections: 1024,
  maxEventStreams: 256,
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  idleSocketTimeoutMs: 60_000,
});

export class ServiceBusyError extends Error {
  readonly statusCode = 503;
}

/** The part of the limits Fastify applies itself. */
export function fastifyTimeouts(limits: ServerLimits): Pick<FastifyServerOptions, 'connectionTimeout' | 'keepAliveTimeout' | 'requestTimeout'> {
  return { connectionTimeout: limits.idleSocketTimeoutMs, keepAliveTimeout: limits.keepAliveTimeoutMs, requestTimeout: limits.requestTimeoutMs };
}

interface StreamGate {
  limit: number;
  open: number;
}
const streamGates = new WeakMap<Server, StreamGate>();

function busyResponse(message: string): string {
  const body = JSON.stringify({ error: 'service_unavailable', message });
  return [
    'HTTP/1.1 503 Service Unavailable',
    'content-type: application/json; charset=utf-8',
    `content-length: ${Buffer.byteLength(body)}`,
    'retry-after: 1',
    'connection: close',
    '',
    body,
  ].join('\r\n');
}

/** Applies the rest: the headers timeout, the connection cap, the event stream cap. */
export function applyServerLimits(app: FastifyInstance, limits: ServerLimits): void {
  const server = app.server;
  server.headersTimeout = limits.headersTimeoutMs;
  let open = 0;
  server.on('connection', (socket: Socket) => {
    if (open >= limits.maxConnections) {
      socket.end(busyResponse(`more than ${limits.maxConnections} open connections: retry shortly`));
      return;
    }
    open += 1;
    socket.once('close', () => {
      open -= 1;
    });
  });
  streamGates.set(server, { limit: limits.maxEventStreams, open: 0 });
}

/** Takes one event stream slot for `response`'s lifetime, or throws ServiceBusyError (a 503). */
export function takeEventStreamSlot(server: Server, response: ServerResponse): void {
  const gate = streamGates.get(server);
  if (!gate) return;
  if (gate.open >= gate.limit) throw new ServiceBusyError(`more than ${gate.limit} open event streams: close one or retry later`);
  gate.open += 1;
  response.once('close', () => {
    gate.open -= 1;
  });
}
