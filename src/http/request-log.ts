/**
 * How the API logs requests (a Fastify LogController). Health checks and
 * metric scrapes arrive every few seconds; two info lines each would bury the
 * session lines ops read. So:
 *
 *   every request            one line at debug, when it completes
 *   a 4xx                    info (a client got something wrong); 401/429 debug (see api-key.ts)
 *   a 5xx, or a slow answer  warn
 *
 * URLs are logged without their query string (a client may put a key there).
 */
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import { pathOnly } from '../logging/logger.js';

/** An answer slower than this is worth a warning. Default 1 s. */
export const defaultSlowRequestMs = 1_000;

export class RequestLogController extends LogController {
  constructor(private readonly slowRequestMs = defaultSlowRequestMs) {
    super();
  }

  // One line per request, written when it completes: the arrival says nothing the completion does not.
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const responseTimeMs = Math.round(reply.elapsedTime);
    const fields = { method: request.method, url: pathOnly(request.url), statusCode: reply.statusCode, responseTimeMs };
    const slow = responseTimeMs >= this.slowRequestMs;
    if (error || reply.statusCode >= 500 || slow) {
      reply.log.warn({ ...fields, ...(error ? { err: error } : {}) }, slow ? 'Slow request' : 'Request ended in a server error');
    } else if (reply.statusCode === 401 || reply.statusCode === 429) {
      // Refused keys are logged by the API key check, once per address and window: a flood must not flood the logs.
      reply.log.debug(fields, 'Request refused');
    } else if (reply.statusCode >= 400) {
      reply.log.info(fields, 'Request refused');
    } else {
      reply.log.debug(fields, 'Request completed');
    }
  }

  override routeNotFound(request: FastifyRequest): void {
    request.log.info({ method: request.method, url: pathOnly(request.url) }, 'Route not found');
  }
}
