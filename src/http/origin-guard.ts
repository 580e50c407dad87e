/**
 * Requests from web pages the operator happens to visit.
 *
 * A page on any site can POST `text/plain` to http://127.0.0.1:3000 (no CORS
 * preflight for "simple" requests) and log an account out; a DNS-rebinding page
 * can even read answers, because its requests reach us with its own Host name.
 * Browsers always say where a state-changing request comes from (Origin), and a
 * rebinding page cannot forge the Host it was loaded from. So:
 *   - a state-changing request (anything but GET/HEAD/OPTIONS) with an Origin
 *     other than the API's own (or one in allowedOrigins) is refused, 403;
 *   - without an API key, a Host that is not a loopback name (or one in
 *     allowedHosts) is refused, 403 — the key is then the only thing that would
 *     tell a rebinding page from the operator.
 * Clients that are not browsers (curl, SDKs) send no Origin and keep working.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';

export interface OriginGuardOptions {
  /** Whether an API key protects the API (then any Host name is fine). */
  apiKeyRequired: boolean;
  /** Host names accepted besides loopback ones when no API key is set. Default none. */
  allowedHosts?: readonly string[];
  /** Origins (scheme://host[:port]) allowed to change state. Default none: only the API's own. */
  allowedOrigins?: readonly string[];
}

const loopbackNames = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);
const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

/** "localhost" from "localhost:3000", "[::1]" from "[::1]:3000". */
export function hostName(host: string): string {
  const lower = host.trim().toLowerCase();
  if (lower.startsWith('[')) return lower.slice(0, lower.indexOf(']') + 1);
  return lower.split(':')[0]!;
}

function hostAllowed(request: FastifyRequest, options: OriginGuardOptions): boolean {
  if (options.apiKeyRequired) return true;
  const name = hostName(request.headers.host ?? '');
  return loopbackNames.has(name) || name.endsWith('.localhost') || (options.allowedHosts ?? []).includes(name);
}

function originAllowed(request: FastifyRequest, options: OriginGuardOptions): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return request.headers['sec-fetch-site'] !== 'cross-site';
  if ((options.allowedOrigins ?? []).includes(origin)) return true;
  try {
    // Same origin: the page was served by this API under the Host the request names.
    return new URL(origin).host === (request.headers.host ?? '').toLowerCase();
  } catch {
    return false; // "null" (sandboxed frames, file://) and garbage
  }
}

export function guardOrigins(app: FastifyInstance, options: OriginGuardOptions): void {
  app.addHook('onRequest', async (request, reply) => {
    if (!hostAllowed(request, options)) {
      return reply.code(403).send({ error: 'host_not_allowed', message: 'Host: not a loopback name; set API_KEY or ALLOWED_HOSTS to serve other names' });
    }
    if (!safeMethods.has(request.method) && !originAllowed(request, options)) {
      return reply.code(403).send({ error: 'origin_not_allowed', message: 'Origin: cross-site requests may not change sessions; list the origin in ALLOWED_ORIGINS' });
    }
  });
}
