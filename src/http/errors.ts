/**
 * Every error leaves as `{ error, message }` with a 4xx that names the problem;
 * bad input is never a 5xx.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import { SessionError } from '../service/session-error.js';
import { InvalidIdError } from '../store/session-key.js';
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
      return reply.code(status).send({ error: errorCodeFor(status), message: fastifyError.message });
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
