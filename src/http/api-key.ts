/**
 * API key check: `Authorization: Bearer <key>` or `X-Api-Key: <key>` on every
 * route but the open ones, compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';

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

export function requireApiKey(app: FastifyInstance, apiKey: string | null, openPaths: readonly string[]): void {
  if (!apiKey) return;
  const expected = digest(apiKey);
  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?')[0]!;
    if (isOpen(path, openPaths)) return;
    const presented = presentedKey(request);
    if (presented !== null && timingSafeEqual(digest(presented), expected)) return;
    return reply.code(401).send({ error: 'unauthorized', message: 'Authorization: Bearer <API_KEY> or X-Api-Key required' });
  });
}
