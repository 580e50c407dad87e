/**
 * The inspector as an operator uses it, in headless Chromium at 1400×900:
 * a live fleet, a readable chart, the log and time-travel, actions, and a page
 * that recovers by itself when the service comes back. Sessions run on the
 * scripted connection (test/support/auto-connection), not 200 Baileys sockets.
 */
import { mkdir } from 'node:fs/promises';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { removeDir } from '../support/service-harness.js';
import { launchChromium, openConsole, startConsoleService, tempDir, testApiKey, type ConsoleService } from './console-harness.js';

const artifacts = 'test-artifacts';
let dir: string;
let app: ConsoleService;
let browser: Browser;
/** Every request any page made, for the loopback check. */
const requests: string[] = [];

/** Users named qr-… get a QR (and wait for a scan); everyone else logs in at once. */
const outcome = ({ userId }: { userId: string }) => (userId.startsWith('qr-') ? ('qr' as const) : ('open' as const));

beforeAll(async () => {
  dir = await tempDir();
  await mkdir(artifacts, { recursive: true });
  app = await startConsoleService({ sessionsDir: dir, outcome });
  await app.create('ops', 'main');
  await app.create('ops', 'spare');
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await app?.service.stop();
  await removeDir(dir);
});

async function open(viewport?: { width: number; height: number }, hash = ''): Promise<Page> {
  const opened = await openConsole(browser, app.service.url, viewport, hash);
  opened.page.on('request', () => undefined);
  requests.push(...opened.requests);
  opened.page.on('request', (request) => requests.push(request.url()));
  return opened.page;
}

const count = (page: Page, filter: string) => page.locator(`#counts .count[data-filter="${filter}"] b`).textContent();
const rowBadge = (page: Page, key: string) => page.locator(`.row[data-key="${key}"] .badge`).textContent();

async function search(page: Page, text: string): Promise<void> {
  await page.locator('#search').fill(text);
}

it('refuses a wrong API key and shows nothing', async () => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on('request', (request) => requests.push(request.url()));
  await page.goto(`${app.service.url}/inspector`);
  await page.locator('#key-input').fill('not-the-key');
  await page.locator('#key-form button').click();
  await expect.poll(() => page.locator('#key-error').textContent()).toContain('refused');
  expect(await page.locator('#main').isHidden()).toBe(true);
  expect(await page.locator('.state').count()).toBe(0);
  await page.close();
});

it('shows 60 sessions created after the page loaded, without a reload, and their badges follow a fault within 1 s', async () => {
  const page = await open();
  await expect.poll(() => count(page, '')).toBe('2');
  const keys = Array.from({ length: 60 }, (_, i) => `late-${String(i).padStart(2, '0')}/default`);
  for (const key of keys) await app.create(key.split('/')[0]!);
  await expect.poll(() => count(page, 'open'), { timeout: 5_000 }).toBe('62');
  await expect.poll(() => page.locator('#fleet-summary').textContent()).toBe('62 sessions');

  for (const key of keys) app.inject(key, { type: 'CONNECTION.CLOSED', statusCode: 428, message: 'Connection Terminated' });
  await expect.poll(() => count(page, 'backingOff'), { timeout: 1_000, interval: 50 }).toBe('60');
  expect(await count(page, 'open')).toBe('2');
  // The rows say so too (the list is virtualised: look one up by searching).
  await search(page, 'late-59');
  await expect.poll(() => rowBadge(page, 'late-59/default')).toBe('backingOff · attempt 1');
  await page.close();
});

it('draws the chart at 1:1 with no label under 11 px, marks the initial state, and shows why a session terminated', async () => {
  await app.create('gone');
  app.inject('gone/default', { type: 'CONNECTION.CLOSED', statusCode: 440, message: 'replaced' });
  const page = await open({ width: 1400, height: 900 }, '#gone%2Fdefault');
  await expect.poll(() => page.locator('#chart-title').textContent()).toBe('gone/default');
  await expect.poll(() => page.locator('#state-terminated').getAttribute('class')).toContain('active');
  await expect.poll(() => page.locator('#detail-terminated').textContent()).toBe('reason: replaced');
  await search(page, 'gone');
  expect(await rowBadge(page, 'gone/default')).toBe('terminated · replaced');

  // Substates are boxes inside their state; the machine's initial state has its arrow.
  for (const id of ['connecting', 'connecting-handshaking', 'connecting-awaitingQr', 'open-settling', 'open-stable', 'degraded-probing', 'backingOff', 'terminated']) {
    expect(await page.locator(`#state-${id}`).count()).toBe(1);
  }
  expect(await page.locator('.edge.initial[data-to="connecting"]').count()).toBe(1);
  expect(await page.locator('#legend').textContent()).toContain('STOP → terminated');
  // The transition just taken (a 440 from open) is the one highlighted, in the legend.
  expect(await page.locator('#legend .entry.taken').textContent()).toContain('closeIsFinal');

  // Rendered size = font size × the chart's current scale, for every piece of text in it (run in the page).
  const smallest = await page.evaluate<{ min: number; labels: number; scale: number }>(`(() => {
    const svg = document.getElementById('chart');
    const scale = svg.getScreenCTM().a;
    const sizes = [...svg.querySelectorAll('text')].filter((t) => t.textContent).map((t) => parseFloat(getComputedStyle(t).fontSize) * scale);
    return { min: Math.min(...sizes), labels: sizes.length, scale };
  })()`);
  expect(smallest.labels).toBeGreaterThan(15);
  expect(smallest.scale).toBeGreaterThanOrEqual(1);
  expect(smallest.min).toBeGreaterThanOrEqual(11);
  await page.screenshot({ path: `${artifacts}/inspector-chart-1400x900.png` });
  await page.setViewportSize({ width: 1920, height: 1080 });
  await page.screenshot({ path: `${artifacts}/inspector-chart-1920x1080.png` });
  await page.close();
});

it('a click on a log entry shows the chart and context as they were then', async () => {
  await app.create('travel');
  const page = await open({ width: 1400, height: 900 }, '#travel%2Fdefault');
  await expect.poll(() => page.locator('#state-open').getAttribute('class')).toContain('active');
  app.inject('travel/default', { type: 'CONNECTION.CLOSED', statusCode: 428, message: 'Connection Terminated' });
  await expect.poll(() => page.locator('#state-backingOff').getAttribute('class')).toContain('active');
  await expect.poll(() => page.locator('#log').textContent()).toContain('connection closed 428 (Connection Terminated)');

  await page.locator('#log .pick', { hasText: 'logged in' }).click();
  await expect.poll(() => page.locator('#state-open').getAttribute('class')).toContain('active');
  expect(await page.locator('#state-backingOff').getAttribute('class')).not.toContain('active');
  expect(await page.locator('dd[data-field="state"]').textContent()).toBe('open.settling');
  expect(await page.locator('dd[data-field="last disconnect"]').textContent()).toBe('–');
  expect(await page.locator('#past-banner').isVisible()).toBe(true);
  // The QR never reaches the page, even redacted context is only a placeholder.
  expect(await page.locator('#raw-context').textContent()).toContain('"attempt": 0');
  await page.screenshot({ path: `${artifacts}/inspector-time-travel.png` });

  await page.locator('#back-to-live').click();
  await expect.poll(() => page.locator('#state-backingOff').getAttribute('class')).toContain('active');
  expect(await page.locator('dd[data-field="last disconnect"]').textContent()).toBe('428 Connection Terminated');
  await page.close();
});

it('the restart button (after a confirmation) restarts the session', async () => {
  await app.create('again');
  app.inject('again/default', { type: 'CONNECTION.CLOSED', statusCode: 428, message: 'Connection Terminated' });
  const page = await open({ width: 1400, height: 900 }, '#again%2Fdefault');
  await expect.poll(() => page.locator('#state-backingOff').getAttribute('class')).toContain('active');
  await page.locator('#actions button[data-action="restart"]').click();
  await expect.poll(() => page.locator('#confirm-dialog').isVisible()).toBe(true);
  await page.locator('#confirm-ok').click();
  await expect.poll(() => page.locator('#state-open').getAttribute('class')).toContain('active');
  expect(((await app.call('GET', '/sessions/again/default')).body as { state: string }).state).toBe('open');
  await expect.poll(() => page.locator('#log').textContent()).toContain('started');
  await page.close();
});

it('a removed session leaves the list, and the page says so if it was selected', async () => {
  await app.create('brief');
  const page = await open({ width: 1400, height: 900 }, '#brief%2Fdefault');
  await expect.poll(() => page.locator('#state-open').getAttribute('class')).toContain('active');
  const before = Number(await count(page, ''));
  expect((await app.call('DELETE', '/sessions/brief/default')).status).toBe(204);
  await expect.poll(() => count(page, '')).toBe(String(before - 1));
  await expect.poll(() => page.locator('#chart-title').textContent()).toBe('brief/default (removed)');
  expect(await page.locator('.row[data-key="brief/default"]').count()).toBe(0);
  expect(await page.locator('#actions button[data-action="restart"]').isDisabled()).toBe(true);

  // Its history went with it: the same id created again starts with an empty log.
  await app.create('brief');
  await search(page, 'brief');
  await page.locator('.row[data-key="brief/default"]').click();
  await expect.poll(() => page.locator('#chart-title').textContent()).toBe('brief/default');
  await expect.poll(() => page.locator('#log .pick').allTextContents()).toHaveLength(2); // started, logged in
  expect((await page.locator('#log').textContent())!.match(/started/g)).toHaveLength(1);
  await page.close();
});

it('stays usable with 200 sessions: attention first, filter, virtualised rows, keyboard (screenshots)', async () => {
  for (let i = 0; i < 8; i++) await app.create(`qr-${i}`);
  const have = ((await app.call('GET', '/sessions')).body as unknown[]).length;
  for (let i = have; i < 200; i++) await app.create(`user-${String(i).padStart(3, '0')}`);
  for (const i of [110, 120, 130]) app.inject(`user-${i}/default`, { type: 'CONNECTION.CLOSED', statusCode: 401, message: 'logged out' });
  const page = await open({ width: 1400, height: 900 });
  await expect.poll(() => count(page, '')).toBe('200');
  await expect.poll(() => count(page, 'awaitingQr')).toBe('8');
  // Attention first: the ones terminated on their own, then those waiting for a scan.
  const firstRows = await page.evaluate<string[]>(
    `[...document.querySelectorAll('.row')].sort((a, b) => a.dataset.index - b.dataset.index).slice(0, 12).map((r) => r.dataset.state)`,
  );
  expect(firstRows.slice(0, 4)).toEqual(['terminated', 'terminated', 'terminated', 'terminated']);
  expect(await page.locator('.row').count()).toBeLessThan(60);

  await page.locator('#counts .count[data-filter="awaitingQr"]').click();
  await expect.poll(() => page.locator('#fleet-summary').textContent()).toBe('8 of 200 sessions');
  await page.locator('.row').first().focus();
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  await expect.poll(() => page.locator('#chart-title').textContent()).toBe('qr-1/default');
  await expect.poll(() => page.locator('#state-connecting-awaitingQr').getAttribute('class')).toContain('active');
  await page.locator('#actions button[data-action="qr"]').click();
  await expect.poll(() => page.locator('#qr-image').evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)).toBe(320);
  await page.screenshot({ path: `${artifacts}/inspector-qr.png` });
  await page.locator('#qr-dialog button[value="close"]').click();
  // A pairing code is asked through the API with the same key; the answer (here: this scripted
  // connection has no socket to ask) is shown in the dialog.
  await page.locator('#actions button[data-action="pairing"]').click();
  await page.locator('#pairing-phone').fill('15550001111');
  await page.locator('#pairing-form button[type="submit"]').click();
  await expect.poll(() => page.locator('#pairing-result').textContent()).toContain('only for an unpaired session');
  await page.locator('#pairing-close').click();
  // A refreshed QR changes nothing a person needs: a tick, hidden until "show timers" is ticked.
  app.inject('qr-1/default', { type: 'CONNECTION.QR', qr: '2@refreshed-ref,key,key' });
  await page.waitForTimeout(300);
  expect(await page.locator('#log li.tick').count()).toBe(0);
  await page.locator('#show-ticks').check();
  const refreshed = page.locator('#log li.tick', { hasText: 'QR shown' });
  await expect.poll(() => refreshed.count()).toBe(1);
  expect(await refreshed.textContent()).toContain('in connecting.awaitingQr');
  await page.locator('#counts .count[data-filter=""]').click();

  await page.screenshot({ path: `${artifacts}/inspector-fleet-1400x900.png` });
  await page.setViewportSize({ width: 1920, height: 1080 });
  await page.screenshot({ path: `${artifacts}/inspector-fleet-1920x1080.png` });
  await page.close();
});

it('greys out and stops its clocks when the service goes away, and recovers by itself when it is back', async () => {
  const page = await open({ width: 1400, height: 900 }, '#ops%2Fmain');
  await expect.poll(() => page.locator('dd[data-field="uptime"]').textContent()).not.toBe('–');
  const port = new URL(app.service.url).port;
  const sessions = await count(page, '');
  await app.service.stop();
  await expect.poll(() => page.locator('#connection').getAttribute('data-state')).toBe('lost');
  expect(await page.locator('body').getAttribute('class')).toContain('offline');
  const frozen = await page.locator('dd[data-field="uptime"]').textContent();
  await page.waitForTimeout(1_200);
  expect(await page.locator('dd[data-field="uptime"]').textContent()).toBe(frozen);
  await page.screenshot({ path: `${artifacts}/inspector-offline.png` });

  app = await startConsoleService({ sessionsDir: dir, outcome, port: Number(port) });
  await expect.poll(() => page.locator('#connection').getAttribute('data-state'), { timeout: 15_000 }).toBe('live');
  expect(await page.locator('body').getAttribute('class')).not.toContain('offline');
  // Every session the new process restored (the three logged out had their folders wiped).
  const restored = ((await app.call('GET', '/sessions')).body as unknown[]).length;
  expect(Number(sessions)).toBeGreaterThanOrEqual(restored);
  await expect.poll(() => count(page, ''), { timeout: 10_000 }).toBe(String(restored));
  await expect.poll(() => page.locator('#state-open').getAttribute('class')).toContain('active');
  await page.close();
});

it('no page made a request that left loopback', () => {
  expect(requests.length).toBeGreaterThan(20);
  const outside = requests.filter((url) => {
    if (url.startsWith('data:') || url.startsWith('blob:')) return false;
    return !['127.0.0.1', 'localhost', '[::1]'].includes(new URL(url).hostname);
  });
  expect(outside).toEqual([]);
  expect(testApiKey).not.toBe('');
});
