/**
 * Every error leaves as `{ error, message }` with a 4xx that names the problem;
 * bad input is never a 5xx.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import { SessionError } from '../service/session-error.js';
import { InvalidIdError } from '../store/session-key.js';

const sessionErrorStatus: Record<SessionError['code'], number> = {
  ERR_NOT_FOUND: 404,
  ERR_EXISTS: 409,
  ERR_OWNED_ELSEWHERE: 409,
  ERR_NO_QR: 404,
  ERR_NOT_PAIRING: 409,
  ERR_SHUTTING_DOWN: 503,
};

export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | Error, request, reply) => {
    if (error instanceof InvalidIdError) return reply.code(400).send({ error: 'invalid_id', message: error.message });
    if (error instanceof SessionError) {
      const body = { error: error.code.slice(4).toLowerCase(), message: error.message, ...(error.owner ? { owner: error.owner } : {}) };
      return reply.code(sessionErrorStatus[error.code]).send(body);
    }
    const fastifyError = error as FastifyError;
    if (fastifyError.validation) {
      return reply.code(400).send({ error: 'invalid_request', message: fastifyError.message });
    }
    const status = fastifyError.statusCode;
    if (status && status >= 400 && status < 500) {
      return reply.code(status).send({ error: fastifyError.code ?? 'bad_request', message: fastifyError.message });
    }
    request.log.error({ err: error }, 'Request failed');
    return reply.code(500).send({ error: 'internal', message: 'internal error' });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ error: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` });
  });
}
