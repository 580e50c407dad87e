/** What a receiver's answer means, how long a retry waits, and what the environment may say. */
import { expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/app/config.js';
import { parseRetryAfter, retryDelayMs, verdictFor } from '../../src/webhooks/retry-policy.js';

it('2xx delivers; 410 pauses; other 4xx are not retried; 408, 429 and 5xx are', () => {
  expect(verdictFor(204, null, 0).kind).toBe('delivered');
  expect(verdictFor(410, null, 0).kind).toBe('gone');
  for (const status of [400, 401, 403, 404, 413, 422]) expect(verdictFor(status, null, 0).kind).toBe('refused');
  for (const status of [408, 429, 500, 502, 503, 301]) expect(verdictFor(status, null, 0).kind).toBe('retry');
  expect(verdictFor(429, '7', 0)).toEqual({ kind: 'retry', retryAfterMs: 7000 });
});

it('Retry-After in seconds or as an HTTP date', () => {
  const now = Date.parse('2026-11-29T12:00:00Z');
  expect(parseRetryAfter('120', now)).toBe(120_000);
  expect(parseRetryAfter('Sun, 29 Nov 2026 12:00:30 GMT', now)).toBe(30_000);
  expect(parseRetryAfter('soon', now)).toBeNull();
  expect(parseRetryAfter(null, now)).toBeNull();
});

it('backoff: 2 s doubling to 5 min by default, jittered down by at most half, Retry-After honoured within the cap', () => {
  const options = { retryFirstMs: 2_000, retryMaxMs: 300_000 };
  const none = () => 1;
  const most = () => 0;
  expect([1, 2, 3, 4, 8, 9, 20].map((n) => retryDelayMs(n, options, null, none))).toEqual([2_000, 4_000, 8_000, 16_000, 256_000, 300_000, 300_000]);
  expect(retryDelayMs(1, options, null, most)).toBe(1_000);
  expect(retryDelayMs(1, options, 60_000, most)).toBe(60_000);
  expect(retryDelayMs(1, options, 3_600_000, most)).toBe(300_000);
});

it('webhook variables are checked at start, each error naming its variable', () => {
  const base = { SESSIONS_DIR: '/tmp' };
  const error = (env: Record<string, string>) => {
    try {
      loadConfig({ ...base, ...env });
    } catch (caught) {
      return caught instanceof ConfigError ? caught.message : String(caught);
    }
    return 'accepted';
  };
  expect(error({ WEBHOOK_URL: 'ftp://x.example/hook', WEBHOOK_SECRET: 'a'.repeat(16) })).toMatch(/^WEBHOOK_URL: /);
  expect(error({ WEBHOOK_URL: 'https://x.example/hook' })).toMatch(/^WEBHOOK_SECRET: /);
  expect(error({ WEBHOOK_URL: 'https://x.example/hook', WEBHOOK_SECRET: 'a'.repeat(16), WEBHOOK_EVENTS: 'session.status,session.bogus' })).toMatch(/^WEBHOOK_EVENTS: .*session\.bogus/);
  expect(error({ WEBHOOK_SECRET: 'a'.repeat(16) })).toMatch(/^WEBHOOK_SECRET: /);
  expect(error({ WEBHOOK_RETRY_FIRST_MS: '0' })).toMatch(/^WEBHOOK_RETRY_FIRST_MS: /);
  const config = loadConfig({ ...base, WEBHOOK_URL: 'https://x.example/hook', WEBHOOK_SECRET: 'a'.repeat(16), WEBHOOK_EVENTS: 'session.qr' });
  expect(config.webhooks.subscription).toEqual({ url: 'https://x.example/hook', secret: 'a'.repeat(16), events: ['session.qr'], includeQr: false });
  expect(config.webhooks.delivery).toMatchObject({ retryFirstMs: 2_000, retryMaxMs: 300_000, retryForMs: 86_400_000 });
});
