/**
 * POST/GET/DELETE /webhooks and POST /webhooks/:id/resume, plus the webhook
 * metrics on the service's registry. A secret is accepted, stored and used to
 * sign; it is never sent back.
 */
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { EventService } from '../events/event-service.js';
import { eventTypes, type EventType } from '../events/fleet-event.js';
import { registerWebhookMetrics } from '../metrics/webhook-metrics.js';
import { httpUrlProblem, minSecretLength } from '../webhooks/webhook-settings.js';

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

const notFound = (id: string) => ({ error: 'not_found', message: `no webhook subscription ${id}` });

export function webhookRoutes(app: FastifyInstance, events: EventService, metrics: Registry): void {
  const stopMetrics = registerWebhookMetrics(metrics, events);
  app.addHook('onClose', async () => stopMetrics());

  app.post<{ Body: SubscriptionBody }>(
    '/webhooks',
    {
      schema: {
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
      },
    },
    async (request, reply) => {
      const { url, secret, events: types, includeQr } = request.body;
      const problem = httpUrlProblem(url);
      if (problem) return reply.code(400).send({ error: 'invalid_request', message: `body.url: ${problem}` });
      const created = await events.addSubscription({ url, secret, events: types && types.length > 0 ? types : null, includeQr: includeQr ?? false });
      return reply.code(201).send(created);
    },
  );

  app.get('/webhooks', async () => events.listSubscriptions());

  app.delete<{ Params: { id: string } }>('/webhooks/:id', { schema: { params: idParams } }, async (request, reply) => {
    if (!(await events.removeSubscription(request.params.id))) return reply.code(404).send(notFound(request.params.id));
    return reply.code(204).send();
  });

  app.post<{ Params: { id: string } }>('/webhooks/:id/resume', { schema: { params: idParams } }, async (request, reply) => {
    const resumed = await events.resumeSubscription(request.params.id);
    if (!resumed) return reply.code(404).send(notFound(request.params.id));
    return resumed;
  });
}
