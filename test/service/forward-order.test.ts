/**
 * Operations on one session that another node owns reach that node in the order they
 * arrived here, however long each forward takes to find the owner's address.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import { afterEach, expect, it } from 'vitest';
import { createLogger } from '../../src/logging/logger.js';
import { Cluster } from '../../src/service/cluster.js';
import type { PgOwnership } from '../../src/store/postgres/pg-ownership.js';

let server: Server | null = null;
afterEach(async () => {
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = null;
});

it('two operations forwarded one after the other arrive at the owner in that order, even when the first lookup is slower', async () => {
  const arrived: string[] = [];
  server = createServer((request, response) => {
    arrived.push(`${request.method} ${request.url}`);
    response.writeHead(202, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  // The first lookup of the owner's address waits on a slow database; the second answers at once.
  let releaseFirstLookup!: () => void;
  const firstLookup = new Promise<void>((resolve) => (releaseFirstLookup = resolve));
  let lookups = 0;
  const ownership = {
    holder: 'node-y',
    ttlMs: 15_000,
    liveHolders: async () => {
      lookups += 1;
      if (lookups === 1) await firstLookup;
      return [{ holder: 'node-x', url }];
    },
  } as unknown as PgOwnership;
  const cluster = new Cluster({ newClient: () => ({}) as pg.Client, ownership, logger: createLogger({ level: 'silent' }), onReleased: () => undefined, renewStats: () => ({ lastMs: null, at: null }) });

  const params = { userId: 'ola', sessionId: 'main' };
  const stop = cluster.forward({ method: 'POST', url: '/sessions/ola/main/stop', headers: {}, body: undefined, params }, 'node-x');
  const start = cluster.forward({ method: 'POST', url: '/sessions/ola/main/start', headers: {}, body: undefined, params }, 'node-x');
  await new Promise((resolve) => setTimeout(resolve, 100));
  releaseFirstLookup();
  expect((await stop)?.status).toBe(202);
  expect((await start)?.status).toBe(202);
  expect(arrived).toEqual(['POST /sessions/ola/main/stop', 'POST /sessions/ola/main/start']);
  // Nothing is kept once no forward is in flight.
  await new Promise((resolve) => setImmediate(resolve));
  expect(cluster.forwardsInFlight).toBe(0);
});
