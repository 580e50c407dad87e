/**
 * A text/event-stream response: named events with JSON data, a comment line
 * (`: keep-alive`) every heartbeatMs, and cleanup when the client goes away.
 * The comment keeps proxies from cutting an idle stream, and it lets a client
 * tell a quiet fleet from a dead link within seconds (the inspector greys its
 * counts after 5 s without a byte).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { takeEventStreamSlot } from './server-limits.js';

/** Well under idle proxies' 30–60 s, and often enough that 5 s of silence means the link is gone. */
export const heartbeatMs = 2_000;

export interface EventStream {
  /** `id`, when given, is the event's `id:` line (a client resumes with it as Last-Event-ID). */
  send(event: string, data: unknown, id?: string): void;
  /** Writes whole, already formatted events (a relayed stream's). */
  write(block: string): void;
  /** Runs once the client has disconnected. */
  onClose(cleanup: () => void): void;
  /** Ends the stream from this side (a relayed stream whose source ended): the client reconnects. */
  end(): void;
}

/** Throws ServiceBusyError (a 503) when the server's event stream cap is reached (server-limits.ts). */
export function openEventStream(request: FastifyRequest, reply: FastifyReply): EventStream {
  takeEventStreamSlot(request.server.server, reply.raw);
  reply.hijack();
  const out = reply.raw;
  out.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  const heartbeat = setInterval(() => out.write(': keep-alive\n\n'), heartbeatMs);
  const cleanups: Array<() => void> = [() => clearInterval(heartbeat)];
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    for (const cleanup of cleanups.splice(0)) cleanup();
  };
  request.raw.once('close', close);
  out.once('close', close);
  // A client that left while this node asked the owner for its stream: nothing will say so again.
  if (out.destroyed || request.raw.socket?.destroyed) queueMicrotask(close);
  return {
    send: (event, data, id) => void out.write(`${id ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`),
    write: (block) => void out.write(block),
    onClose: (cleanup) => (closed ? cleanup() : void cleanups.push(cleanup)),
    end: () => {
      close();
      out.end();
    },
  };
}

/**
 * Relays another server's text/event-stream through `stream`, one whole event at a time (so
 * this side's heartbeat never lands inside one); its comments are dropped, this side sends its
 * own. The stream ends when the source does; the source is closed when the client goes.
 */
export function relayEventStream(source: { body: ReadableStream<Uint8Array>; close(): void }, stream: EventStream): void {
  stream.onClose(() => source.close());
  void (async () => {
    const decoder = new TextDecoder();
    let pending = '';
    try {
      for await (const chunk of source.body) {
        pending += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = pending.indexOf('\n\n')) !== -1) {
          const block = pending.slice(0, end);
          pending = pending.slice(end + 2);
          if (block.split('\n').some((line) => line !== '' && !line.startsWith(':'))) stream.write(`${block}\n\n`);
        }
      }
    } catch {
      // The source went away (its node stopped, or the client left and closed it): end here too.
    }
    stream.end();
  })();
}
