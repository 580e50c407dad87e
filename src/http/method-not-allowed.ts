/**
 * A path that exists, asked with a method it does not take, is a 405 with an
 * `Allow` header listing the methods it does take, not a 404: the client has
 * the right URL and the wrong verb. Routes are recorded as they are added
 * (including those of plugins registered later), so nothing is listed twice.
 */
import type { FastifyInstance } from 'fastify';

interface KnownPath {
  pattern: RegExp;
  methods: Set<string>;
}

export interface AllowedMethods {
  /** The methods `path` takes, or [] when no route has that path. */
  of(path: string): string[];
}

function toPattern(url: string): RegExp {
  const escaped = url
    .split('/')
    .map((part) => (part.startsWith(':') ? '[^/]+' : part === '*' ? '.*' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${escaped}/?$`);
}

/** Call before any route is added. */
export function recordRouteMethods(app: FastifyInstance): AllowedMethods {
  const known = new Map<string, KnownPath>();
  app.addHook('onRoute', (route) => {
    const entry = known.get(route.url) ?? { pattern: toPattern(route.url), methods: new Set<string>() };
    for (const method of [route.method].flat()) entry.methods.add(method);
    known.set(route.url, entry);
  });
  return {
    of: (path) => {
      const methods = new Set<string>();
      for (const { pattern, methods: taken } of known.values()) if (pattern.test(path)) taken.forEach((m) => methods.add(m));
      return [...methods].sort();
    },
  };
}
