/**
 * What the OpenAPI document says about each route beyond its validation
 * schema: a summary, a tag, and its responses. Kept here, keyed by
 * "METHOD /path", and merged into each route's schema as it is added
 * (openapi.ts), so the route files stay about behaviour. A response schema
 * also shapes what Fastify sends, so each one is the whole of what the
 * route returns.
 */

const nullable = <T extends object>(schema: T) => ({ ...schema, nullable: true });

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

export const sessionViewSchema = {
  type: 'object',
  description: 'A session as the service sees it.',
  // Fields added later still reach the client: a response schema must not silently drop them.
  additionalProperties: true,
  properties: {
    userId: { type: 'string' },
    sessionId: { type: 'string' },
    state: { type: 'string', enum: ['connecting', 'open', 'degraded', 'backingOff', 'terminated'] },
    status: { type: 'string', description: 'The full state path, e.g. connecting.awaitingQr', example: 'open.stable' },
    attempt: { type: 'integer' },
    nextRetryAt: nullable({ type: 'string', format: 'date-time' }),
    openSince: nullable({ type: 'string', format: 'date-time' }),
    createdAt: { type: 'string', format: 'date-time' },
    reconnects: { type: 'integer' },
    lastDisconnect: nullable({
      type: 'object',
      properties: {
        statusCode: nullable({ type: 'integer' }),
        message: nullable({ type: 'string' }),
        at: nullable({ type: 'string', format: 'date-time' }),
      },
    }),
    terminatedReason: nullable({ type: 'string' }),
    me: nullable({ type: 'object', properties: { id: { type: 'string' } } }),
    owner: nullable({ type: 'string', description: 'The process (holder id) that owns the session; null when nobody does' }),
  },
} as const;

export const webhookSchema = {
  type: 'object',
  description: 'A webhook subscription (its secret is never returned).',
  additionalProperties: true,
  properties: {
    id: { type: 'string' },
    url: { type: 'string' },
    events: nullable({ type: 'array', items: { type: 'string' }, description: 'Event types delivered; null: every type' }),
    includeQr: { type: 'boolean', description: 'Whether session.qr carries the QR text' },
    source: { type: 'string', enum: ['env', 'api'] },
    createdAt: { type: 'string', format: 'date-time' },
    paused: nullable({ type: 'object', properties: { at: { type: 'string', format: 'date-time' }, reason: { type: 'string' } } }),
    lastError: nullable({
      type: 'object',
      properties: {
        at: { type: 'string', format: 'date-time' },
        eventId: { type: 'string' },
        message: { type: 'string' },
        status: nullable({ type: 'integer' }),
      },
    }),
    lastDeliveredAt: nullable({ type: 'string', format: 'date-time' }),
  },
} as const;

type Responses = Record<string, unknown>;

function errors(...codes: number[]): Responses {
  const descriptions: Record<number, string> = {
    400: 'Bad input (the field is named)',
    401: 'API key missing or wrong',
    404: 'No such session, or nothing pending',
    409: 'Conflicts with the session’s state, or another process owns it (owned_elsewhere, with owner)',
    413: 'Body too large',
    415: 'Body of a type other than JSON',
    429: 'Too many failed authentications from this address',
    503: 'Too many connections or event streams, or the service is shutting down',
  };
  return Object.fromEntries(codes.map((code) => [code, { ...errorSchema, description: descriptions[code] }]));
}

/** Every route but /health may answer 401 (with API_KEY), 429 (after failed keys) and 503 (over a cap). */
const guarded = [401, 429, 503];
const sessionErrors = errors(400, 404, ...guarded);

export interface RouteDoc {
  summary: string;
  tags: string[];
  description?: string;
  response: Responses;
  security?: Array<Record<string, string[]>>;
}

const text = (type: string, description: string) => ({ description, content: { [type]: { schema: { type: 'string' } } } });

export const routeDocs: Record<string, RouteDoc> = {
  'GET /health': {
    summary: 'Liveness: answers while the process serves HTTP (no key needed)',
    tags: ['operations'],
    security: [],
    response: { 200: { type: 'object', properties: { status: { type: 'string', enum: ['ok'] } } } },
  },
  'GET /metrics': {
    summary: 'Prometheus metrics (text exposition)',
    tags: ['operations'],
    response: { 200: text('text/plain', 'Prometheus text format 0.0.4'), ...errors(...guarded) },
  },
  'POST /sessions': {
    summary: 'Create a session and start connecting it',
    tags: ['sessions'],
    response: { 201: sessionViewSchema, ...errors(400, 409, 413, 415, ...guarded) },
  },
  'GET /sessions': {
    summary: 'Every session',
    tags: ['sessions'],
    response: { 200: { type: 'array', items: sessionViewSchema }, ...errors(...guarded) },
  },
  'GET /sessions/:userId/:sessionId': {
    summary: 'One session',
    tags: ['sessions'],
    response: { 200: sessionViewSchema, ...sessionErrors },
  },
  'DELETE /sessions/:userId/:sessionId': {
    summary: 'Stop a session and remove its folder (credentials included)',
    tags: ['sessions'],
    response: { 204: { type: 'null', description: 'Deleted' }, ...sessionErrors, ...errors(409) },
  },
  'POST /sessions/:userId/:sessionId/start': {
    summary: 'Start a stopped session',
    tags: ['sessions'],
    response: { 202: sessionViewSchema, ...sessionErrors, ...errors(409) },
  },
  'POST /sessions/:userId/:sessionId/stop': {
    summary: 'Stop a session, keeping its credentials; it stays stopped across restarts',
    tags: ['sessions'],
    response: { 202: sessionViewSchema, ...sessionErrors, ...errors(409) },
  },
  'POST /sessions/:userId/:sessionId/restart': {
    summary: 'Stop and start a session',
    tags: ['sessions'],
    response: { 202: sessionViewSchema, ...sessionErrors, ...errors(409) },
  },
  'POST /sessions/:userId/:sessionId/logout': {
    summary: 'Unlink the device and wipe its credentials',
    tags: ['sessions'],
    response: { 202: sessionViewSchema, ...sessionErrors, ...errors(409) },
  },
  'GET /sessions/:userId/:sessionId/qr': {
    summary: 'The pending pairing QR: a PNG, or {qr} with ?format=raw (404 when none is pending)',
    tags: ['pairing'],
    response: {
      200: {
        description: 'The QR',
        content: {
          'image/png': { schema: { type: 'string', format: 'binary' } },
          'application/json': { schema: { type: 'object', properties: { qr: { type: 'string' } } } },
        },
      },
      ...sessionErrors,
    },
  },
  'POST /sessions/:userId/:sessionId/pairing-code': {
    summary: 'Link by phone number instead of QR: a code to type on the phone',
    tags: ['pairing'],
    response: { 200: { type: 'object', properties: { code: { type: 'string' } } }, ...sessionErrors, ...errors(409, 413, 415) },
  },
  'GET /sessions/:userId/:sessionId/events': {
    summary: 'Server-sent events: one `transition` event with the session view per transition',
    tags: ['sessions'],
    response: { 200: text('text/event-stream', 'An endless event stream'), ...sessionErrors },
  },
  'POST /webhooks': {
    summary: 'Subscribe a URL to events, signed with its secret (HMAC-SHA512); the secret is never returned',
    tags: ['events'],
    response: { 201: webhookSchema, ...errors(400, 413, 415, ...guarded) },
  },
  'GET /webhooks': {
    summary: 'Every webhook subscription with its state: paused (and why), last error, last delivery',
    tags: ['events'],
    response: { 200: { type: 'array', items: webhookSchema }, ...errors(...guarded) },
  },
  'DELETE /webhooks/:id': {
    summary: 'Remove a webhook subscription (its undelivered events are released)',
    tags: ['events'],
    response: { 204: { type: 'null', description: 'Deleted' }, ...errors(400, 404, ...guarded) },
  },
  'POST /webhooks/:id/resume': {
    summary: 'Resume a paused subscription from the event it stopped at',
    tags: ['events'],
    response: { 200: webhookSchema, ...errors(400, 404, ...guarded) },
  },
  'GET /events': {
    summary: 'Server-sent events for the whole fleet, with `id:` fields; `Last-Event-ID` resumes without gaps',
    tags: ['events'],
    response: { 200: text('text/event-stream', 'An endless event stream, one SSE event per fleet event, named by its type'), ...errors(400, ...guarded) },
  },
  'GET /inspector': {
    summary: 'The live statechart page (no key needed; it asks for one)',
    tags: ['inspector'],
    security: [],
    response: { 200: text('text/html', 'The page') },
  },
  ...Object.fromEntries(
    (
      [
        ['app.js', 'text/javascript', 'The inspector page’s script'],
        ['chart.js', 'text/javascript', 'The inspector’s statechart drawing'],
        ['fleet.js', 'text/javascript', 'The inspector’s fleet list'],
        ['log.js', 'text/javascript', 'The inspector’s event log'],
        ['feed.js', 'text/javascript', 'The inspector’s live feeds'],
        ['app.css', 'text/css', 'The inspector page’s styles'],
        ['favicon.svg', 'image/svg+xml', 'The inspector’s icon'],
      ] as const
    ).map(([file, type, summary]) => [`GET /inspector/${file}`, { summary, tags: ['inspector'], security: [], response: { 200: text(type, summary) } }]),
  ),
  'GET /inspector/fleet': {
    summary: 'Server-sent events: every session once, then batched additions, state changes and removals',
    tags: ['inspector'],
    response: { 200: text('text/event-stream', 'An endless event stream'), ...errors(...guarded) },
  },
  'GET /inspector/graph': {
    summary: 'The session statechart, laid out for drawing',
    tags: ['inspector'],
    response: { 200: { type: 'object', additionalProperties: true }, ...errors(...guarded) },
  },
  'GET /inspector/sessions/:userId/:sessionId/feed': {
    summary: 'Server-sent events: `view` on each transition and `entry` per inspection event',
    tags: ['inspector'],
    response: { 200: text('text/event-stream', 'An endless event stream'), ...sessionErrors },
  },
};
