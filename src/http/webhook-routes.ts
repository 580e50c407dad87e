/**
 * POST/GET/DELETE /webhooks and POST /webhooks/:id/resume. A secret is accepted, stored and used to
 * sign; it is never sent back, and a URL is shown with its query values masked.
 *
 * POST /webhooks refuses, naming `body.url`: a URL fetch could never deliver to
 * (webhook-url.ts: not http(s), credentials, port 0 or a blocked port), and one
 * pointing at this service itself (self-address.ts) unless WEBHOOK_ALLOW_SELF;
 * beyond MAX_WEBHOOKS subscriptions it answers 409 `too_many_webhooks`.
 */
import type { FastifyInstance } from 'fastify';
import type { EventService } from '../webhooks/event-service.js';
import { eventTypes, type EventType } from '../outbox/fleet-event.js';
import { pointsAtSelf, type Resolver, type SelfAddresses } from '../webhooks/self-address.js';
import { minSecretLength } from '../webhooks/webhook-settings.js';
import { parseWebhookUrl } from '../webhooks/webhook-url.js';
import { nullable } from '../schema/static.js';
import { errors, guarded, noContent } from './route-docs.js';

interface SubscriptionBody {
  url: string;
  secret: string;
  events?: EventType[];
  includeQr?: boolean;
}

const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } },
} as const;

const dateTime = { type: 'string', format: 'date-time' } as const;

const webhookSchema = {
  type: 'object',
  description: 'A webhook subscription (its secret is never returned).',
  additionalProperties: true,
  properties: {
    id: { type: 'string' },
    url: { type: 'string' },
    events: nullable({ type: 'array', items: { type: 'string' }, description: 'Event types delivered; null: every type' }),
    includeQr: { type: 'boolean', description: 'Whether session.qr carries the QR text' },
    source: { type: 'string', enum: ['env', 'api'] },
    createdAt: dateTime,
    paused: nullable({ type: 'object', properties: { at: dateTime, reason: { type: 'string' } } }),
    lastError: nullable({
      type: 'object',
      properties: { at: dateTime, eventId: { type: 'string' }, message: { type: 'string' }, status: nullable({ type: 'integer' }) },
    }),
    lastDeliveredAt: nullable(dateTime),
  },
} as const;

const notFound = (id: string) => ({ error: 'not_found', message: `no webhook subscription ${id}` });

export interface WebhookRouteOptions {
  /** How host names are resolved for the self-address check (tests). Default: the system's resolver. */
  resolve?: Resolver;
}

export function webhookRoutes(app: FastifyInstance, events: EventService, routeOptions: WebhookRouteOptions = {}): void {
  const settings = events.options.settings;
  // The ports actually listened on (PORT=0 picks one), besides what the settings know.
  const self = (): SelfAddresses => ({
    ports: [...new Set([...settings.self.ports, ...app.addresses().flatMap((address) => (typeof address === 'string' ? [] : [address.port]))])],
    origins: settings.self.origins,
  });

  app.post<{ Body: SubscriptionBody }>(
    '/webhooks',
    {
      schema: {
        summary:
          'Subscribe a URL to events, signed with its secret (HMAC-SHA512); the secret is never returned. 400: a URL that cannot be delivered to or points at this service; 409: MAX_WEBHOOKS reached',
        tags: ['events'],
        body: {
          type: 'object',
          required: ['url', 'secret'],
          additionalProperties: false,
          properties: {
            url: { type: 'string', maxLength: 2048 },
            secret: { type: 'string', minLength: minSecretLength, maxLength: 256 },
            events: { type: 'array', items: { type: 'string', enum: [...eventTypes] }, uniqueItems: true },
            includeQr: { type: 'boolean' },
          },
        },
        response: { 201: webhookSchema, ...errors(400, 409, 413, 415, ...guarded) },
      },
    },
    async (request, reply) => {
      const { url, secret, events: types, includeQr } = request.body;
      const parsed = parseWebhookUrl(url);
      if ('problem' in parsed) return reply.code(400).send({ error: 'invalid_request', message: `body.url: ${parsed.problem}` });
      if (!settings.allowSelf && (await pointsAtSelf(parsed.url, self(), routeOptions.resolve))) {
        return reply.code(400).send({
          error: 'invalid_request',
          message: 'body.url: points at this service itself (its events would loop back into it); set WEBHOOK_ALLOW_SELF=true if that is meant',
        });
      }
      // Checked right before adding, with no wait in between, so concurrent requests cannot overshoot it.
      if (events.subscriptions.full()) {
        const limit = events.subscriptions.maxSubscriptions;
        return reply.code(409).send({ error: 'too_many_webhooks', message: `at most ${limit} webhook subscriptions (MAX_WEBHOOKS); delete one first` });
      }
      const created = await events.addSubscription({ url, secret, events: types && types.length > 0 ? types : null, includeQr: includeQr ?? false });
      return reply.code(201).send(created);
    },
  );

  const listed = {
    summary: 'Every webhook subscription with its state: paused (and why), last error, last delivery',
    tags: ['events'],
    response: { 200: { type: 'array', items: webhookSchema }, ...errors(...guarded) },
  };
  app.get('/webhooks', { schema: listed }, async () => events.listSubscriptions());

  const removed = {
    summary: 'Remove a webhook subscription (its undelivered events are released)',
    tags: ['events'],
    params: idParams,
    response: { 204: noContent('Deleted'), ...errors(400, 404, ...guarded) },
  };
  app.delete<{ Params: { id: string } }>('/webhooks/:id', { schema: removed }, async (request, reply) => {
    if (!(await events.removeSubscription(request.params.id))) return reply.code(404).send(notFound(request.params.id));
    return reply.code(204).send();
  });

  const resume = {
    summary: 'Resume a paused subscription from the event it stopped at',
    tags: ['events'],
    params: idParams,
    response: { 200: webhookSchema, ...errors(400, 404, ...guarded) },
  };
  app.post<{ Params: { id: string } }>('/webhooks/:id/resume', { schema: resume }, async (request, reply) => {
    const resumed = await events.resumeSubscription(request.params.id);
    if (!resumed) return reply.code(404).send(notFound(request.params.id));
    return resumed;
  });
}
