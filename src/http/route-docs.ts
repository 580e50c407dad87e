/**
 * The pieces every route's documentation shares: the error body, the error
 * answers by status, and text bodies. Each route declares its own summary, tag
 * and responses beside its handler (a response schema also shapes what Fastify
 * sends, so each one is the whole of what the route returns); openapi.ts turns
 * them into /openapi.json.
 */
export const errorSchema = {
  type: 'object',
  description: 'Every error: a code of our own and a message naming the problem (the field, for bad input).',
  required: ['error', 'message'],
  properties: {
    error: { type: 'string', example: 'invalid_request' },
    message: { type: 'string', example: 'body.userId: required' },
    owner: { type: 'string', description: 'With owned_elsewhere (409): the process (holder id) that owns the session' },
  },
} as const;

const errorDescriptions: Record<number, string> = {
  400: 'Bad input (the field is named)',
  401: 'API key missing or wrong',
  404: 'No such session, or nothing pending',
  409: 'Conflicts with the session’s state, another process owns it (owned_elsewhere, with owner), or its stored state is damaged (corrupt_meta, corrupt_credentials)',
  413: 'Body too large',
  415: 'Body of a type other than JSON',
  429: 'Too many failed authentications from this address',
  503: 'Too many connections or event streams, the service is shutting down, or the storage refused a write (storage_unavailable)',
};

/** The error answers with these statuses, each `{error, message}`. */
export function errors(...codes: number[]): Record<number, unknown> {
  return Object.fromEntries(codes.map((code) => [code, { ...errorSchema, description: errorDescriptions[code] }]));
}

/** Every route but /health may answer 401 (with API_KEY), 429 (after failed keys) and 503 (over a cap). */
export const guarded = [401, 429, 503] as const;

/** What any route on one session may answer besides its success. */
export const sessionErrors = errors(400, 404, ...guarded);

/** A body that is not JSON: its media type and what it is. */
export const text = (type: string, description: string) => ({ description, content: { [type]: { schema: { type: 'string' } } } });

/** An answer with no body. */
export const noContent = (description: string) => ({ type: 'null', description });
