/** GET /metrics: Prometheus text from the service's prom-client registry (see src/metrics/service-metrics.ts). */
import type { FastifyInstance } from 'fastify';
import type { ServiceMetrics } from '../metrics/service-metrics.js';

export function registerMetricsRoute(app: FastifyInstance, metrics: ServiceMetrics): void {
  app.get('/metrics', async (_request, reply) => reply.type(metrics.registry.contentType).send(await metrics.render()));
  app.addHook('onClose', async () => metrics.stop());
}
