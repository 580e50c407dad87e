/** GET /cluster: the live nodes of a PostgreSQL cluster, the sessions each owns, and how renewing goes here. */
import type { FastifyInstance } from 'fastify';
import type { Cluster } from '../service/cluster.js';
import { errors, guarded } from './route-docs.js';

const clusterDoc = {
  summary: 'On PostgreSQL: the live nodes (holder, URL, sessions owned, last renew) and how renewing goes on this node',
  tags: ['operations'],
  response: { 200: { type: 'object', additionalProperties: true, description: '{self: this node, nodes: [{holder, url, sessions, renewedAt}], renew: this node’s renew statistics}' }, ...errors(...guarded) },
};

export function clusterRoutes(app: FastifyInstance, cluster: Cluster): void {
  app.get('/cluster', { schema: clusterDoc }, async () => ({ self: cluster.holder, nodes: await cluster.members(), renew: cluster.renewStats() }));
}
