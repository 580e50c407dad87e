/**
 * Every error leaves as `{ error, message }` with a 4xx that names the problem;
 * bad input is never a 5xx. That includes what Fastify and Node answer before
 * a route runs: a bad percent-escape in the path (frameworkErrors), oversized
 * headers (431) and unparseable requests (clientErrorHandler). Any 400 is
 * `invalid_request`, as the README says.
 */
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyServerOptions } from 'fastify';
import { SessionError } from '../service/session-error.js';
import { InvalidIdError } from '../store/session-key.js';
import { STATUS_CODES } from 'node:http';
import { storageProblem } from '../store/storage-faults.js';
import { errorCodeFor, validationMessage } from './error-codes.js';
import type { AllowedMethods } from './method-not-allowed.js';
import type { Cluster } from '../service/cluster.js';

const sessionErrorStatus: Record<SessionError['code'], number> = {
  ERR_NOT_FOUND: 404,
  ERR_EXISTS: 409,
  ERR_OWNED_ELSEWHERE: 409,
  ERR_NO_QR: 404,
  ERR_NOT_PAIRING: 409,
  ERR_SHUTTING_DOWN: 503,
  ERR_SESSION_NOT_RUNNING: 409,
  ERR_QUEUE_FULL: 429,
  ERR_NOT_CONNECTED: 409,
  ERR_CORRUPT_META: 409,
  ERR_CORRUPT_CREDENTIALS: 409,
  ERR_STORAGE_UNAVAILABLE: 503,
};

/** @param cluster on a cluster, an operation on a session another node owns is forwarded to it. */
export function installErrorHandler(app: FastifyInstance, allowed?: AllowedMethods, cluster: Cluster | null = null): void {
  app.setErrorHandler(async (error: FastifyError | Error, request, reply) => {
    if (error instanceof InvalidIdError) return reply.code(400).send({ error: 'invalid_id', message: error.message });
    if (error instanceof SessionError && error.code === 'ERR_OWNED_ELSEWHERE' && cluster && error.owner) {
      const answer = await cluster.forward(request, error.owner);
      if (answer) return reply.code(answer.status).type(answer.contentType ?? 'application/json').send(answer.body);
    }
    if (error instanceof SessionError) {
      const body = { error: error.code.slice(4).toLowerCase(), message: error.message, ...(error.owner ? { owner: error.owner } : {}) };
      return reply.code(sessionErrorStatus[error.code]).send(body);
    }
    const fastifyError = error as FastifyError;
    if (fastifyError.validation) {
      return reply.code(400).send({ error: 'invalid_request', message: validationMessage(fastifyError) });
    }
    const status = fastifyError.statusCode;
    // 4xx: the client's doing; 503: a cap was reached (server-limits.ts). Neither is our failure.
    if (status && ((status >= 400 && status < 500) || status === 503)) {
      return reply.code(status).send({ error: status === 400 ? 'invalid_request' : errorCodeFor(status), message: clientMessage(fastifyError) });
    }
    // A disk that is full or read-only (or a database that refuses writes) is not a bug: say so, retryably.
    const problem = storageProblem(error);
    if (problem) {
      request.log.warn({ err: error.message }, 'Request failed: storage refused a write');
      return reply.code(503).header('retry-after', '30').send({ error: 'storage_unavailable', message: `the storage refused a write: ${problem}; try again once the operator has fixed it` });
    }
    request.log.error({ err: error }, 'Request failed');
    return reply.code(500).send({ error: 'internal', message: 'internal error' });
  });
  app.setNotFoundHandler((request, reply) => {
    const methods = allowed?.of(request.url.split('?')[0]!) ?? [];
    if (methods.length > 0) {
      const message = `${request.method} is not allowed here; use ${methods.join(', ')}`;
      return void reply.code(405).header('allow', methods.join(', ')).send({ error: 'method_not_allowed', message });
    }
    void reply.code(404).send({ error: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` });
  });
}

/** Fastify's messages, in the project's words where they name Fastify's internals. */
function clientMessage(error: FastifyError): string {
  if (error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error instanceof SyntaxError) return `body: not valid JSON (${error.message})`;
  if (error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return 'body: empty, but this route needs a JSON body';
  return error.message;
}

function rawJsonResponse(status: number, error: string, message: string): string {
  const body = JSON.stringify({ error, message });
  return [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`, 'content-type: application/json; charset=utf-8', `content-length: ${Buffer.byteLength(body)}`, 'connection: close', '', body].join('\r\n');
}

/**
 * Answers that come before any route: a path whose percent-escapes do not
 * decode, and what Node's parser refuses (headers too large: 431; anything
 * else malformed: 400), each as `{ error, message }`.
 */
export function errorServerOptions(): Pick<FastifyServerOptions, 'frameworkErrors' | 'clientErrorHandler'> {
  return {
    frameworkErrors: (error, _request, reply) => {
      const message = error.code === 'FST_ERR_BAD_URL' ? 'the path is not a valid URL: a percent-escape does not decode' : error.message;
      void (reply as FastifyReply).code(400).send({ error: 'invalid_request', message });
    },
    clientErrorHandler: (error: NodeJS.ErrnoException, socket: Socket) => {
      // A reset socket has nobody to answer.
      if (error.code === 'ECONNRESET' || socket.destroyed || !socket.writable) return void socket.destroy();
      const answer =
        error.code === 'HPE_HEADER_OVERFLOW'
          ? rawJsonResponse(431, 'request_header_fields_too_large', 'the request headers are larger than the server accepts (16 KiB in all)')
          : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? rawJsonResponse(408, 'request_timeout', 'the request did not arrive in time')
            : rawJsonResponse(400, 'invalid_request', 'the request is not valid HTTP');
      socket.end(answer);
    },
  };
}
