/**
 * API key check: `Authorization: Bearer <key>` or `X-Api-Key: <key>` on every
 * route but the open ones, compared in constant time. The right key always
 * passes; wrong keys are throttled per client address (auth-throttle.ts).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import { AuthThrottle, type FailureSummary } from './auth-throttle.js';

const digest = (value: string) => createHash('sha256').update(value).digest();

export function presentedKey(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  // RFC 9110: the auth scheme is case-insensitive ("bearer", "BEARER").
  const bearer = typeof header === 'string' ? /^bearer +(\S+)\s*$/i.exec(header) : null;
  if (bearer) return bearer[1]!;
  const apiKey = request.headers['x-api-key'];
  return typeof apiKey === 'string' ? apiKey : null;
}

/** An open path is exact, or a prefix when it ends in '/*'. */
export function isOpen(path: string, openPaths: readonly string[]): boolean {
  return openPaths.some((open) => (open.endsWith('/*') ? path.startsWith(open.slice(0, -1)) : path === open));
}

export function requireApiKey(app: FastifyInstance, apiKey: string | null, openPaths: readonly string[], throttle = new AuthThrottle()): void {
  if (!apiKey) return;
  const expected = digest(apiKey);
  const logSummary = (log: FastifyBaseLogger, summary: FailureSummary | null) => {
    if (summary) log.warn({ ...summary }, 'Authentication failures not logged one by one in the last window');
  };
  // A spray that stops is still summed up; unref'd, so it never holds the process.
  const summaries = setInterval(() => logSummary(app.log, throttle.flush()), throttle.windowMs);
  summaries.unref();
  app.addHook('onClose', async () => clearInterval(summaries));
  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?')[0]!;
    if (isOpen(path, openPaths)) return;
    const presented = presentedKey(request);
    // Checked first: a client with the right key is never locked out by someone else's wrong ones at the same address.
    if (presented !== null && timingSafeEqual(digest(presented), expected)) return;
    const blockedForMs = throttle.blockedForMs(request.ip);
    const { log, summary } = throttle.recordFailure(request.ip);
    logSummary(request.log, summary);
    if (blockedForMs > 0) {
      const retryAfterSeconds = Math.ceil(blockedForMs / 1000);
      return reply
        .code(429)
        .header('retry-after', String(retryAfterSeconds))
        .send({ error: 'too_many_requests', message: `too many failed authentications from this address: retry in ${retryAfterSeconds} s` });
    }
    if (log) {
      request.log.warn(
        { remoteAddress: request.ip, windowMs: throttle.windowMs, maxFailures: throttle.maxFailures },
        'Authentication failed (further failures from this address in this window are counted, not logged)',
      );
    }
    return reply.code(401).send({ error: 'unauthorized', message: 'Authorization: Bearer <API_KEY> or X-Api-Key required' });
  });
}
