/**
 * The console in an incident (#23), in headless Chromium at 1400×900: a self-fence
 * is one banner, not a row of "stopped" per session; an outage is one banner too;
 * a silent feed shows as stale within seconds and recovers; the tab title carries
 * the attention count; a long id stays whole in its row.
 */
import type { ServerResponse } from 'node:http';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { removeDir } from '../support/service-harness.js';
import { launchChromium, openConsole, startConsoleService, tempDir, type ConsoleService } from './console-harness.js';

let dir: string;
let app: ConsoleService;
let browser: Browser;

/** Leases renewed rarely: a fence stays until the test ends it, no renew proves it behind the test's back. */
const env = { LEASE_TTL_MS: '600000', LEASE_RENEW_MS: '300000' };
const longId = 'tenant-with-long-name/main';

beforeAll(async () => {
  dir = await tempDir();
  app = await startConsoleService({ sessionsDir: dir, env });
  await app.create('ops', 'main');
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await app?.service.stop();
  await removeDir(dir);
});

const open = async (hash = ''): Promise<Page> => (await openConsole(browser, app.service.url, undefined, hash)).page;
const count = (page: Page, filter: string) => page.locator(`#counts .count[data-filter="${filter}"] b`).textContent();

/** What the self-fence timer does (placement.ts): every held lease unproven at once. */
function fence(prefix: string): void {
  const owners = app.service.registry.all().filter((owner) => owner.key.userId.startsWith(prefix));
  expect(owners.length).toBeGreaterThan(0);
  for (const owner of owners) owner.leaseLost(null, { unproven: true });
}

it('fenced sessions are one banner, labelled as fenced (never "stopped"), and the tab title counts the banner', async () => {
  await app.create('loggedout');
  app.inject('loggedout/default', { type: 'CONNECTION.CLOSED', statusCode: 401, message: 'logged out' });
  for (let i = 0; i < 5; i++) await app.create(`f-${i}`);
  const page = await open();
  await expect.poll(() => page.title()).toBe('(1) wa-vigil inspector');

  fence('f-');
  const banner = page.locator('#banners .banner[data-banner="fence"]');
  await expect.poll(() => banner.textContent(), { timeout: 3_000 }).toContain('This node could not prove its leases: 5 sessions stopped until they are proven');
  expect(await banner.textContent()).toMatch(/since \d\d:\d\d:\d\d/);
  // A page opened after the fence cannot know when it began, and says so.
  const late = await open();
  await expect.poll(() => late.locator('#banners .banner[data-banner="fence"]').textContent()).toMatch(/since before \d\d:\d\d:\d\d/);
  await late.close();
  // One banner plus the logged-out session: the title says 2, not 6.
  await expect.poll(() => page.title()).toBe('(2) wa-vigil inspector');
  expect(await count(page, 'attention')).toBe('1');
  await page.locator('#search').fill('f-3');
  const badge = page.locator('.row[data-key="f-3/default"] .badge');
  await expect.poll(() => badge.textContent()).toBe('fenced · lease unproven');
  expect(await page.locator('.row[data-key="f-3/default"]').getAttribute('title')).not.toContain('stopped');
  await page.locator('#search').fill('');
  await page.screenshot({ path: 'test-artifacts/inspector-fenced-1400x900.png' });

  // "show them" lists exactly the sessions the banner speaks for.
  await banner.locator('button').click();
  await expect.poll(() => page.locator('#fleet-summary').textContent()).toMatch(/^5 of \d+ sessions$/);

  // Proven again (here: started by hand), the banner goes.
  for (let i = 0; i < 5; i++) expect((await app.call('POST', `/sessions/f-${i}/default/start`)).status).toBeLessThan(300);
  await expect.poll(() => page.locator('#banners .banner').count(), { timeout: 5_000 }).toBe(0);
  await expect.poll(() => page.title()).toBe('(1) wa-vigil inspector');
  await page.close();
});

it('an outage (most sessions backing off, WhatsApp never answered) is one banner with counts', async () => {
  for (let i = 0; i < 8; i++) await app.create(`o-${i}`);
  const page = await open();
  const running = (((await app.call('GET', '/sessions')).body as Array<{ state: string }>) ?? []).filter((s) => s.state !== 'terminated').length;
  for (let i = 0; i < 8; i++) app.inject(`o-${i}/default`, { type: 'CONNECTION.CLOSED', message: 'connect ECONNREFUSED', outage: true });
  const banner = page.locator('#banners .banner[data-banner="outage"]');
  // Only sessions counted by the outage rule: more than half of those meant to run.
  expect(8 * 2).toBeGreaterThan(running);
  await expect.poll(() => banner.textContent(), { timeout: 3_000 }).toContain(`8 of ${running} sessions backing off on failures WhatsApp never answered`);
  expect(await count(page, 'backingOff')).toBe('8');
  await page.close();
});

it('a row with a long id keeps the id whole; the badge is shortened first', async () => {
  const [userId, sessionId] = longId.split('/') as [string, string];
  await app.create(userId, sessionId);
  app.inject(longId, { type: 'CONNECTION.CLOSED', statusCode: 428, message: 'Connection Terminated' });
  const page = await open();
  await page.locator('#search').fill('tenant-with');
  await page.screenshot({ path: 'test-artifacts/inspector-long-id-1400x900.png' });
  const row = page.locator(`.row[data-key="${longId}"]`);
  await expect.poll(() => row.locator('.badge').textContent()).toBe('backingOff · attempt 1');
  const sizes = await page.evaluate<{ idScroll: number; idClient: number; badgeScroll: number; badgeClient: number }>(`(() => {
    const row = document.querySelector('.row[data-key="${longId}"]');
    const id = row.querySelector('.id');
    const badge = row.querySelector('.badge');
    return { idScroll: id.scrollWidth, idClient: id.clientWidth, badgeScroll: badge.scrollWidth, badgeClient: badge.clientWidth };
  })()`);
  expect(sizes.idClient).toBeGreaterThanOrEqual(sizes.idScroll); // not cut
  expect(sizes.badgeClient).toBeLessThan(sizes.badgeScroll); // cut instead
  expect(await row.getAttribute('title')).toContain('backingOff · attempt 1');
  await page.close();
});

it('a silent feed shows stale within ~5 s and greys the counts; "retry now" brings it back', async () => {
  // The fleet stream's writes are dropped from the next one on: the socket stays open, no byte arrives.
  const fleetStreams: ServerResponse[] = [];
  const track = (request: { url?: string }, response: ServerResponse) => request.url === '/inspector/fleet' && fleetStreams.push(response);
  app.service.api.server.on('request', track);
  const page = await open();
  app.service.api.server.off('request', track);
  expect(fleetStreams).toHaveLength(1);
  const countsFilter = () => page.evaluate<string>(`getComputedStyle(document.getElementById('counts')).filter`);
  expect(await countsFilter()).toBe('none');

  const mutedAt = Date.now();
  fleetStreams[0]!.write = () => true;
  await expect.poll(() => page.locator('#connection').getAttribute('data-state'), { timeout: 7_000, interval: 100 }).toBe('stale');
  expect(Date.now() - mutedAt).toBeLessThan(7_500);
  expect(await page.locator('#connection').textContent()).toMatch(/data \d+ s old/);
  expect(await countsFilter()).toContain('grayscale');
  await page.screenshot({ path: 'test-artifacts/inspector-stale-1400x900.png' });

  await page.locator('#retry-now').click();
  await expect.poll(() => page.locator('#connection').getAttribute('data-state'), { timeout: 3_000 }).toBe('live');
  expect(await countsFilter()).toBe('none');
  expect(await page.locator('#retry-now').isHidden()).toBe(true);
  await page.close();
});

it('offline, the retry countdown counts down, and "retry now" reconnects without waiting it out', async () => {
  const page = await open();
  const port = Number(new URL(app.service.url).port);
  await app.service.stop();
  const status = page.locator('#connection');
  const waitLeft = async () => Number(/retrying in ([\d.]+) s/.exec((await status.textContent()) ?? '')?.[1] ?? NaN);
  // Backoff grows 0.5, 1, 2, 4 s: wait for a wait long enough to watch.
  await expect.poll(waitLeft, { timeout: 10_000, interval: 100 }).toBeGreaterThan(2.5);
  const first = await waitLeft();
  await page.waitForTimeout(1_000);
  const later = await waitLeft();
  expect(later).toBeLessThan(first - 0.5);
  expect(await status.textContent()).toMatch(/data \d+ s old/);

  app = await startConsoleService({ sessionsDir: dir, env, port });
  await page.locator('#retry-now').click();
  await expect.poll(() => status.getAttribute('data-state'), { timeout: 2_000 }).toBe('live');
  await page.close();
});
