/**
 * The session log survives a restart (issue #23, item 5): the service is stopped
 * and a new one started on the same sessions folder; the selected session's log,
 * over the feed and in Chromium at 1400×900, shows the transitions from before the
 * restart (read from the outbox), oldest to newest, then the new process's own.
 * A QR's text never becomes history. Once on files, once on PostgreSQL (needs
 * TEST_DATABASE_URL, as inspector-cluster.test.ts).
 */
import { mkdir } from 'node:fs/promises';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { EarlierEntry } from '../../src/inspector/earlier-history.js';
import type { InspectorEntry } from '../../src/inspector/inspection-hub.js';
import { testDatabase, type TestDatabase } from '../support/postgres.js';
import { removeDir } from '../support/service-harness.js';
import { launchChromium, openConsole, startConsoleService, tempDir, testApiKey, type ConsoleService } from './console-harness.js';

const artifacts = 'test-artifacts';
/** Users named qr-… get a QR (and wait for a scan); everyone else logs in at once. */
const outcome = ({ userId }: { userId: string }) => (userId.startsWith('qr-') ? ('qr' as const) : ('open' as const));
const qrSecret = '2@history-secret-ref,key,key';
const dropLabel = 'open → backingOff · 428 Connection Terminated';

let dir: string;
let app: ConsoleService;
let browser: Browser;

type Entry = InspectorEntry & Partial<Pick<EarlierEntry, 'earlier' | 'facts'>>;

async function statusOf(userId: string, sessionId: string): Promise<string> {
  return ((await app.call('GET', `/sessions/${userId}/${sessionId}`)).body as { status: string }).status;
}

/** The top-level state of a status path ("open.settling" → "open"). */
const top = (status: string) => status.split('.')[0]!;

/** The feed as the console reads it, until its `history` has come: that event's data, and the raw text. */
async function feedHistory(userId: string, sessionId: string): Promise<{ entries: Entry[]; raw: string }> {
  const res = await fetch(`${app.service.url}/inspector/sessions/${userId}/${sessionId}/feed`, { headers: { 'x-api-key': testApiKey }, signal: AbortSignal.timeout(5_000) });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let raw = '';
  const history = /event: history\ndata: (.*)\n/;
  while (!history.test(raw)) raw += decoder.decode((await reader.read()).value, { stream: true });
  await reader.cancel();
  return { entries: (JSON.parse(history.exec(raw)![1]!) as { entries: Entry[] }).entries, raw };
}

let db: TestDatabase | null = null;

beforeAll(async () => {
  await mkdir(artifacts, { recursive: true });
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await db?.drop();
});

const backends: Array<{ name: string; env: () => Promise<Record<string, string>> }> = [
  { name: 'files', env: async () => ({}) },
  // Short leases, as the service harness's: the new process takes over sooner if the old one's lease is still held.
  { name: 'PostgreSQL', env: async () => ({ DATABASE_URL: (db ??= await testDatabase()).url, LEASE_TTL_MS: '1500', LEASE_RENEW_MS: '250' }) },
];

for (const backend of backends) {
  it(`after a restart the selected session’s log starts with the transitions from before it, oldest first, then the live ones (${backend.name})`, async () => {
    const env = await backend.env();
    dir = await tempDir();
    app = await startConsoleService({ sessionsDir: dir, outcome, env });
    try {
      await app.create('hist', 'main');
      await app.create('qr-hist', 'main');
      await expect.poll(async () => top(await statusOf('hist', 'main'))).toBe('open');
      await expect.poll(() => statusOf('qr-hist', 'main')).toBe('connecting.awaitingQr');
      app.inject('qr-hist/main', { type: 'CONNECTION.QR', qr: qrSecret });
      // The link drops; the reconnect waits a minute (the harness's delay), so the drop is the last word before the restart.
      app.inject('hist/main', { type: 'CONNECTION.CLOSED', statusCode: 428, message: 'Connection Terminated' });
      await expect.poll(async () => top(await statusOf('hist', 'main'))).toBe('backingOff');
      const beforeRestart = (await feedHistory('hist', 'main')).entries;
      expect(beforeRestart.some((entry) => entry.earlier)).toBe(false);

      const port = new URL(app.service.url).port;
      await app.service.stop();
      app = await startConsoleService({ sessionsDir: dir, outcome, env, port: Number(port) });
      // A wait, not a measure: on PostgreSQL the new process connects once it holds the lease.
      await expect.poll(async () => top(await statusOf('hist', 'main')), { timeout: 15_000 }).toBe('open');

      const { entries, raw } = await feedHistory('hist', 'main');
      const earlier = entries.filter((entry) => entry.earlier);
      const live = entries.filter((entry) => !entry.earlier);
      // Before the restart: connecting, open, the drop, in that order, and all of them before the new process's entries.
      expect(earlier.map((entry) => entry.label)).toEqual(['connecting', 'connecting → open', dropLabel]);
      expect(earlier.map((entry) => top(entry.to))).toEqual(['connecting', 'open', 'backingOff']);
      expect(entries.slice(0, earlier.length)).toEqual(earlier);
      expect(live.length).toBeGreaterThan(0);
      expect(top(live.at(-1)!.to)).toBe('open');
      const times = entries.map((entry) => entry.at);
      expect([...times].sort()).toEqual(times);
      expect(new Set(entries.map((entry) => entry.seq)).size).toBe(entries.length);
      const drop = earlier.at(-1)!;
      expect(top(drop.from!)).toBe('open');
      expect(drop).toMatchObject({ kind: 'transition', statusCode: 428, message: 'Connection Terminated', facts: { attempt: 1 } });
      expect(drop.context).toBeUndefined();
      // The QR session's history holds no QR text, and no QR event.
      const qr = await feedHistory('qr-hist', 'main');
      expect(qr.entries.filter((entry) => entry.earlier).map((entry) => top(entry.to))).toEqual(['connecting']);
      expect(qr.raw).not.toContain('history-secret');
      expect(raw).not.toContain('session.qr');

      // In the page: newest first, so the live entries on top and the earlier ones at the bottom, muted and tagged.
      const { page } = await openConsole(browser, app.service.url, undefined, '#hist%2Fmain');
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await expect.poll(() => page.locator('#log li.earlier').count()).toBe(3);
      const shown = await page.locator('#log li').evaluateAll((items) => items.map((li) => ({ earlier: li.classList.contains('earlier'), what: li.querySelector('.what')?.textContent })));
      const firstEarlier = shown.findIndex((item) => item.earlier);
      expect(shown.slice(firstEarlier).map((item) => item.what)).toEqual([dropLabel, 'connecting → open', 'connecting']);
      expect(shown.slice(0, firstEarlier).length).toBe(live.filter((entry) => entry.kind === 'transition').length);
      expect(await page.locator('#log li.earlier').first().textContent()).toContain('before restart');

      // Picking the drop shows what the outbox kept (its attempt and disconnect), without breaking the page.
      await page.locator('#log li.earlier .pick', { hasText: dropLabel }).click();
      await expect.poll(() => page.locator('#past-text').textContent()).toContain(`after “${dropLabel}” (before restart)`);
      expect(top((await page.locator('dd[data-field="state"]').textContent())!)).toBe('backingOff');
      expect(await page.locator('dd[data-field="attempt"]').textContent()).toBe('1');
      expect(await page.locator('dd[data-field="last disconnect"]').textContent()).toBe('428 Connection Terminated');
      await page.screenshot({ path: `${artifacts}/inspector-history-${backend.name}-1400x900.png` });
      expect(errors).toEqual([]);
      await page.close();
    } finally {
      await app.service.stop();
      await removeDir(dir);
    }
  }, 60_000);
}

it('"Load earlier entries" pages back through the outbox past the first 100, to the session’s first transition (files)', async () => {
  dir = await tempDir();
  app = await startConsoleService({ sessionsDir: dir, outcome });
  try {
    await app.create('long', 'main');
    await app.create('calm', 'main');
    await expect.poll(async () => top(await statusOf('long', 'main'))).toBe('open');
    // Each restart is a stop and a start: three status events each, past two pages of 100.
    const restarts = 70;
    for (let i = 0; i < restarts; i++) {
      expect((await app.call('POST', '/sessions/long/main/restart')).status).toBeLessThan(300);
      await expect.poll(async () => top(await statusOf('long', 'main'))).toBe('open');
    }
    const port = new URL(app.service.url).port;
    await app.service.stop();
    app = await startConsoleService({ sessionsDir: dir, outcome, port: Number(port) });
    await expect.poll(async () => top(await statusOf('long', 'main')), { timeout: 15_000 }).toBe('open');

    const { page } = await openConsole(browser, app.service.url, undefined, '#long%2Fmain');
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    const earlierShown = () => page.locator('#log li.earlier').count();
    await expect.poll(earlierShown, { timeout: 10_000 }).toBeGreaterThan(0);
    const firstPage = await earlierShown();
    expect(firstPage).toBeLessThanOrEqual(100);
    const more = page.locator('#log-earlier');
    expect(await more.isVisible()).toBe(true);

    // The second page, as asked.
    await more.click();
    await expect.poll(earlierShown, { timeout: 10_000 }).toBeGreaterThan(firstPage);
    expect(await more.isVisible()).toBe(true);

    // The third is asked for; before it comes, the operator looks at another session and back, so the log
    // starts again from the first page. The late page belongs to the log it was asked for: it is dropped,
    // never joined to the new first page with the second missing between them.
    const held: Array<() => Promise<void>> = [];
    const earlierPage = (url: URL) => url.pathname.endsWith('/earlier');
    await page.route(earlierPage, (route) => void held.push(() => route.continue()));
    await more.click();
    await expect.poll(() => held.length, { timeout: 10_000 }).toBe(1);
    await page.locator('#search').fill('calm');
    await page.locator('#fleet-list .row[data-key="calm/main"]').click();
    await expect.poll(() => page.locator('#chart-title').textContent()).toBe('calm/main');
    await page.locator('#search').fill('long');
    await page.locator('#fleet-list .row[data-key="long/main"]').click();
    await expect.poll(earlierShown, { timeout: 10_000 }).toBe(firstPage);
    for (const release of held) await release();
    await page.unroute(earlierPage);
    await expect.poll(() => more.isEnabled(), { timeout: 10_000 }).toBe(true);
    expect(await earlierShown()).toBe(firstPage);

    for (let clicks = 0; clicks < 20 && (await more.isVisible()); clicks++) {
      const before = await earlierShown();
      await more.click();
      await expect.poll(async () => (await earlierShown()) > before || !(await more.isVisible()), { timeout: 10_000 }).toBe(true);
    }
    expect(await more.isVisible()).toBe(false);

    const shown = await page.locator('#log li').evaluateAll((items) =>
      items.map((li) => ({ earlier: li.classList.contains('earlier'), what: li.querySelector('.what')?.textContent ?? '', at: li.querySelector('time')?.dateTime ?? '', seq: Number(li.getAttribute('data-seq')) })),
    );
    const earlier = shown.filter((item) => item.earlier);
    expect(earlier.length).toBeGreaterThan(100);
    // Newest first, every entry once, in time order: the pages join without a gap or an overlap.
    expect(new Set(shown.map((item) => item.seq)).size).toBe(shown.length);
    expect(shown.map((item) => item.at)).toEqual([...shown.map((item) => item.at)].sort().reverse());
    // Every restart is there, and the oldest entry is the session's very first transition.
    expect(earlier.filter((item) => item.what.endsWith('terminated · stopped'))).toHaveLength(restarts);
    expect(earlier.at(-1)!.what).toBe('connecting');
    expect(errors).toEqual([]);
    await page.close();
  } finally {
    await app.service.stop();
    await removeDir(dir);
  }
}, 120_000);

it('the page’s log holds 400 entries plus the pages loaded: timer ticks go first, and losing its oldest transition ends the paging', async () => {
  dir = await tempDir();
  app = await startConsoleService({ sessionsDir: dir, outcome });
  try {
    const { page } = await openConsole(browser, app.service.url);
    // The page's own module, on a list of its own: what it keeps, as the page would keep it.
    const result = await page.evaluate<{ afterTicks: number[]; droppedAfterTicks: number; afterTransition: number[]; dropped: number }>(`(async () => {
      const { SessionLog, maxEntries } = await import('/inspector/log.js');
      let dropped = 0;
      const log = new SessionLog(document.createElement('ol'), { onPick: () => {}, onOldestDropped: () => (dropped += 1) });
      const at = new Date(0).toISOString();
      const entry = (seq, kind) => ({ seq, at, kind, event: 'x', label: String(seq), from: 'open', to: 'open' });
      log.reset(Array.from({ length: maxEntries }, (_, i) => entry(i + 1, i % 2 === 0 ? 'transition' : 'tick')));
      log.prependEarlier(Array.from({ length: 100 }, (_, i) => ({ ...entry(i - 100, 'transition'), earlier: true })));
      // 200 new ticks push out the 200 old ticks, never a transition: the loaded page stays.
      for (let i = 0; i < 200; i++) log.add(entry(maxEntries + 1 + i, 'tick'));
      const afterTicks = [log.entries.length, log.entries.filter((e) => e.kind === 'tick').length, log.entries[0].seq];
      const droppedAfterTicks = dropped;
      // No tick left to go: the next one out is the oldest transition, and the page is told.
      for (let i = 0; i < 201; i++) log.add(entry(maxEntries + 201 + i, 'transition'));
      return { afterTicks, droppedAfterTicks, afterTransition: [log.entries.length, log.entries[0].seq], dropped };
    })()`);
    expect(result.afterTicks).toEqual([500, 200, -100]);
    expect(result.droppedAfterTicks).toBe(0);
    expect(result.dropped).toBeGreaterThan(0);
    expect(result.afterTransition[0]).toBe(500);
    expect(result.afterTransition[1]).toBeGreaterThan(-100);
    await page.close();
  } finally {
    await app.service.stop();
    await removeDir(dir);
  }
});
