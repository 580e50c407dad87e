/**
 * Empty request bodies are no body, whatever the content-type. Many HTTP
 * clients send `content-type: application/json` on every request, so a
 * bodiless POST /…/stop or DELETE arrives with the header and nothing else;
 * Fastify would refuse it (400 for an empty JSON body, 415 for an unknown
 * type). A route that needs a body still says so through its schema.
 *
 * A non-empty body keeps Fastify's own JSON parser (prototype-poisoning
 * checks included); a non-empty body of any other type is a 415.
 */
import type { FastifyInstance } from 'fastify';

export class UnsupportedMediaTypeError extends Error {
  readonly statusCode = 415;
  constructor(contentType: string | undefined, message = `content-type ${contentType ?? '(none)'} is not accepted: send application/json`) {
    super(message);
  }
}

export function acceptEmptyBodies(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  // Only JSON is parsed: text/plain too falls to the catch-all below.
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    // The body is read as UTF-8 (RFC 8259 requires it): another declared charset would be misread, not converted.
    const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(request.headers['content-type'] ?? '')?.[1]?.toLowerCase();
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
      return done(new UnsupportedMediaTypeError(request.headers['content-type'], `charset ${charset} is not accepted: send UTF-8 JSON`), undefined);
    }
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    parseJson(request, text, done);
  });
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (request, body, done) => {
    if ((body as Buffer).length === 0) return done(null, undefined);
    done(new UnsupportedMediaTypeError(request.headers['content-type']), undefined);
  });
}
