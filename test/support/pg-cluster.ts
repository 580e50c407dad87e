/**
 * Nodes of one PostgreSQL cluster inside the test process: each a whole service (webhooks
 * configured) with its own folder, on one fresh database. Leases of production length by
 * default: the harness's 1.5 s lets a loaded machine fence and move a session mid-test.
 */
import { testDatabase, type TestDatabase } from './postgres.js';
import { removeDir, tempSessionsDir } from './service-harness.js';
import { startWebhookService } from '../webhooks/support/webhook-service.js';

export type ClusterNode = Awaited<ReturnType<typeof startWebhookService>>;

const productionLeases = { LEASE_TTL_MS: '15000', LEASE_RENEW_MS: '1000' };

export function pgCluster() {
  let db: TestDatabase | undefined;
  const dirs: string[] = [];
  const nodes: ClusterNode[] = [];
  const cleanups: Array<() => void> = [];
  return {
    /** Call in beforeAll (a first embedded server may take a while). */
    async start(): Promise<void> {
      db = await testDatabase();
    },
    async node(env: Record<string, string> = {}): Promise<ClusterNode> {
      const dir = await tempSessionsDir();
      dirs.push(dir);
      const node = await startWebhookService(dir, { DATABASE_URL: db!.url, ...productionLeases, ...env });
      nodes.push(node);
      return node;
    },
    /** The node's holder id, as GET /cluster names it. */
    async holderOf(node: ClusterNode): Promise<string> {
      return ((await node.call('GET', '/cluster')).body as unknown as { self: string }).self;
    },
    /** Run at stop, before the nodes stop (streams to close). */
    onStop(cleanup: () => void): void {
      cleanups.push(cleanup);
    },
    async stop(): Promise<void> {
      for (const cleanup of cleanups) cleanup();
      for (const node of nodes) await node.service.stop();
      await db?.drop();
      for (const dir of dirs) await removeDir(dir);
    },
  };
}
