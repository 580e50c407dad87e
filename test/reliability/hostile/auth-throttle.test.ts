/**
 * The auth throttle against a guesser behind a shared address (NAT, proxy) and
 * a spray of wrong keys from thousands of addresses: the right key always
 * passes, and the log stays a few lines however large the spray.
 */
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { expect, it } from 'vitest';
import { requireApiKey } from '../../../src/http/api-key.js';
import { AuthThrottle } from '../../../src/http/auth-throttle.js';
import { createLogger } from '../../../src/logging/logger.js';
import { LogCapture } from '../../support/service-harness.js';

const apiKey = 'the-right-key-0123456789';

async function guarded(throttle: AuthThrottle) {
  const logs = new LogCapture();
  const app = Fastify({ loggerInstance: createLogger({ level: 'info', format: 'json', destination: logs }) as FastifyBaseLogger, disableRequestLogging: true });
  requireApiKey(app, apiKey, ['/health'], throttle);
  app.get('/sessions', async () => []);
  await app.ready();
  const call = async (address: string, key: string) => (await app.inject({ method: 'GET', url: '/sessions', remoteAddress: address, headers: { 'x-api-key': key } })).statusCode;
  const lines = () => logs.lines.map((line) => JSON.parse(line) as { msg: string; failures?: number; addresses?: number });
  return { app, call, lines };
}

it('a guesser behind a NAT is answered 429; the right key from the same address still passes', async () => {
  const { app, call } = await guarded(new AuthThrottle());
  const statuses: number[] = [];
  for (let i = 0; i < 15; i += 1) statuses.push(await call('203.0.113.7', `wrong-key-${i}-aaaaaaaa`));
  expect(statuses).toEqual([...Array<number>(10).fill(401), ...Array<number>(5).fill(429)]);
  expect(await call('203.0.113.7', apiKey)).toBe(200);
  expect(await call('203.0.113.7', 'wrong-key-again-aaaaaaaa')).toBe(429);
  expect(await call('203.0.113.8', 'wrong-key-other-aaaaaaaa')).toBe(401);
  await app.close();
});

it('6,000 wrong keys from 3,000 addresses (more than are tracked): at most 10 failure lines and one summary line per window', async () => {
  let now = 0;
  const { app, call, lines } = await guarded(new AuthThrottle({ now: () => now, maxTrackedAddresses: 500 }));
  for (let round = 0; round < 2; round += 1) {
    for (let i = 0; i < 3_000; i += 1) await call(`10.${(i >> 8) & 255}.${i & 255}.${round}`, `wrong-${i}-aaaaaaaaaaaa`);
  }
  const failureLines = lines().filter((l) => l.msg.startsWith('Authentication failed'));
  expect(failureLines.length).toBeLessThanOrEqual(10);
  now += 60_000;
  await call('192.0.2.1', 'wrong-after-aaaaaaaaaaaa');
  const summaries = lines().filter((l) => l.msg.startsWith('Authentication failures not logged'));
  expect(summaries).toHaveLength(1);
  expect(summaries[0]!.failures).toBe(6_000 - failureLines.length);
  expect(summaries[0]!.addresses).toBe(500);
  expect(lines().length).toBeLessThanOrEqual(12); // 10 failures, the summary, the one after the window
  await app.close();
});
