/** GET /cluster: the live nodes of a PostgreSQL cluster, the sessions each owns, and how renewing goes here. */
import type { FastifyInstance } from 'fastify';
import type { Cluster } from '../service/cluster.js';

export function clusterRoutes(app: FastifyInstance, cluster: Cluster): void {
  app.get('/cluster', async () => ({ self: cluster.holder, nodes: await cluster.members(), renew: cluster.renewStats() }));
}
