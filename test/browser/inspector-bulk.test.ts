/**
 * Bulk actions in the console (#23 item 7), in headless Chromium at 1400×900 with 200
 * sessions: "Restart every session backing off (N)" asks once, naming N, and restarts
 * exactly those; three checked rows are stopped with one confirmation; requests are
 * paced; the result is one summary. On a file store there is no cluster view.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { removeDir } from '../support/service-harness.js';
import { launchChromium, openConsole, startConsoleService, tempDir, trackInFlight, type ConsoleService } from './console-harness.js';

let dir: string;
let app: ConsoleService;
let browser: Browser;

const fleetSize = 200;
/** Every fifth session backs off: enough to need pacing, few enough to tell apart from the rest. */
const backingOffEvery = 5;
/** bulkConcurrency in src/inspector/public/bulk.js: the most requests the page may have in flight. */
const pageConcurrency = 4;
/** Bounds that catch a hang, not a speed. */
const hangMs = 20_000;

/** Connection attempts per session, counted where the service opens them: a restart is exactly one more. */
const starts = new Map<string, number>();

interface View {
  userId: string;
  sessionId: string;
  state: string;
  openSince: string | null;
  terminatedReason: string | null;
}

const keyOf = (v: { userId: string; sessionId: string }) => `${v.userId}/${v.sessionId}`;
const idOf = (i: number) => `user-${String(i).padStart(3, '0')}`;

beforeAll(async () => {
  dir = await tempDir();
  app = await startConsoleService({
    sessionsDir: dir,
    outcome: (input) => {
      const key = `${input.userId}/${input.sessionId}`;
      starts.set(key, (starts.get(key) ?? 0) + 1);
      return 'open';
    },
  });
  for (let i = 0; i < fleetSize; i++) await app.create(idOf(i));
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await app?.service.stop();
  await removeDir(dir);
});

async function views(): Promise<Map<string, View>> {
  const res = await app.call('GET', '/sessions');
  return new Map((res.body as View[]).map((v) => [keyOf(v), v]));
}

/** Opens the console and counts every confirmation the page shows (each showModal of the confirm dialog). */
async function open(): Promise<Page> {
  const { page } = await openConsole(browser, app.service.url);
  await page.evaluate(`(() => {
    window.confirmations = [];
    const dialog = document.getElementById('confirm-dialog');
    const show = dialog.showModal.bind(dialog);
    dialog.showModal = () => { window.confirmations.push(document.getElementById('confirm-text').textContent); show(); };
  })()`);
  const total = (await views()).size;
  await expect.poll(() => page.locator('#counts .count[data-filter=""] b').textContent()).toBe(String(total));
  return page;
}

const confirmations = (page: Page) => page.evaluate<string[]>('window.confirmations');

it('restarts every session backing off after one confirmation naming the count, paced, and touches no other', async () => {
  const backingOff = new Set<string>();
  for (let i = 0; i < fleetSize; i += backingOffEvery) {
    const key = `${idOf(i)}/default`;
    backingOff.add(key);
    app.inject(key, { type: 'CONNECTION.CLOSED', statusCode: 428, message: 'Connection Terminated' });
  }
  await expect.poll(async () => [...(await views()).values()].filter((v) => v.state === 'backingOff').length).toBe(backingOff.size);
  const before = await views();
  const startsBefore = new Map(starts);

  const page = await open();
  // A file store has no cluster: the view is absent, not empty.
  expect(await page.locator('#cluster').isHidden()).toBe(true);
  const shortcut = page.locator('#restart-backing-off');
  await expect.poll(() => shortcut.textContent()).toBe(`Restart every session backing off (${backingOff.size})`);

  const inFlight = trackInFlight(app.service, '/restart');
  const clickedAt = Date.now();
  await shortcut.click();
  const dialog = page.locator('#confirm-dialog');
  await dialog.waitFor({ state: 'visible' });
  expect(await page.locator('#confirm-text').textContent()).toBe(
    `Restart ${backingOff.size} sessions backing off? Each one’s socket is closed and a new one opened.`,
  );
  expect(await page.locator('#confirm-ok').textContent()).toBe(`Restart ${backingOff.size} sessions`);
  await page.screenshot({ path: 'test-artifacts/inspector-bulk-confirm-1400x900.png' });
  await page.locator('#confirm-ok').click();

  const result = page.locator('#bulk-result');
  await expect.poll(() => result.textContent(), { timeout: hangMs }).toBe(`Restart: ${backingOff.size} done`);
  expect(await result.getAttribute('data-failed')).toBe('0');
  // One confirmation for the lot, one request per session, never more than the pace allows at once.
  expect(await confirmations(page)).toHaveLength(1);
  expect(await dialog.isVisible()).toBe(false);
  expect(inFlight.sent()).toBe(backingOff.size);
  expect(inFlight.max()).toBeLessThanOrEqual(pageConcurrency);
  expect(inFlight.max()).toBeGreaterThan(1); // paced, not one by one
  inFlight.stop();
  await page.screenshot({ path: 'test-artifacts/inspector-bulk-restart-1400x900.png' });

  // Via the API: every one of them restarted (one new connection each, open since the click) …
  await expect.poll(async () => [...(await views()).values()].filter((v) => v.state === 'backingOff').length, { timeout: hangMs }).toBe(0);
  const after = await views();
  for (const key of backingOff) {
    expect(starts.get(key), key).toBe((startsBefore.get(key) ?? 0) + 1);
    expect(after.get(key)?.state, key).toBe('open');
    expect(Date.parse(after.get(key)!.openSince!), key).toBeGreaterThanOrEqual(clickedAt - 1_000);
  }
  // … and no other session was touched.
  for (const [key, view] of before) {
    if (backingOff.has(key)) continue;
    expect(starts.get(key), key).toBe(startsBefore.get(key));
    expect(after.get(key), key).toEqual(view);
  }
  // Nothing backs off now: the shortcut goes.
  await expect.poll(() => shortcut.isHidden()).toBe(true);
  await page.close();
});

it('stops three checked rows with one confirmation saying how many and what, and leaves the rest running', async () => {
  const page = await open();
  await page.locator('#state-filter').selectOption('open');
  const rowAt = (i: number) => page.locator(`#fleet-list .row[data-index="${i}"]`);
  await rowAt(5).waitFor();
  // Row 0 is the selected session: rows 1–3 show that checking does not select.
  const keys = await Promise.all([1, 2, 3].map(async (i) => (await rowAt(i).getAttribute('data-key'))!));
  const before = await views();
  const startsBefore = new Map(starts);

  // Its box checks a row (without selecting it); shift-click checks the range from there; ctrl-click toggles one.
  const selectedBefore = await page.locator('#chart-title').textContent();
  await rowAt(1).locator('.check').click();
  expect(await page.locator('#chart-title').textContent()).toBe(selectedBefore);
  await rowAt(3).click({ modifiers: ['Shift'] });
  await rowAt(4).click({ modifiers: ['Control'] });
  await rowAt(4).click({ modifiers: ['Control'] });
  // From the keyboard: Space checks the focused row and Space again unchecks it, selecting nothing.
  await rowAt(5).focus();
  await page.keyboard.press('Space');
  expect(await rowAt(5).getAttribute('data-checked')).toBe('true');
  expect(await page.locator('#checked-count').textContent()).toBe('4 checked');
  await page.keyboard.press('Space');
  expect(await rowAt(5).getAttribute('data-checked')).toBe('false');
  expect(await page.locator('#chart-title').textContent()).toBe(selectedBefore);
  expect(await page.locator('#fleet-list .row[data-checked="true"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-key')).sort())).toEqual([...keys].sort());
  expect(await page.locator('#checked-count').textContent()).toBe('3 checked');

  const inFlight = trackInFlight(app.service, '/stop');
  await page.locator('#bulk-stop').click();
  await page.locator('#confirm-dialog').waitFor({ state: 'visible' });
  expect(await page.locator('#confirm-text').textContent()).toBe('Stop 3 sessions (the checked ones)? They stay stopped; their credentials are kept.');
  await page.locator('#confirm-ok').click();
  await expect.poll(() => page.locator('#bulk-result').textContent(), { timeout: hangMs }).toBe('Stop: 3 done');
  expect(await confirmations(page)).toHaveLength(1);
  expect(inFlight.sent()).toBe(3);
  inFlight.stop();
  // Done, the checks are cleared (a failed one would have stayed checked).
  await expect.poll(() => page.locator('#checked-count').textContent()).toBe('');
  await expect.poll(() => page.locator('#fleet-summary').textContent()).toBe(`${fleetSize - 3} of ${fleetSize} sessions`);
  await page.screenshot({ path: 'test-artifacts/inspector-bulk-stop-1400x900.png' });

  const after = await views();
  for (const key of keys) {
    expect(after.get(key)?.state, key).toBe('terminated');
    expect(after.get(key)?.terminatedReason, key).toBe('stopped');
  }
  for (const [key, view] of before) {
    if (keys.includes(key)) continue;
    expect(starts.get(key), key).toBe(startsBefore.get(key));
    expect(after.get(key), key).toEqual(view);
  }
  await page.close();
});

it('a bulk run that partly fails says how many failed and the first error, once, and leaves the failed ones checked', async () => {
  const page = await open();
  await page.locator('#search').fill('user-00');
  await page.locator('#fleet-list .row[data-index="9"]').waitFor();
  // Ten listed. One is removed behind the page's back before the run (the service answers 404);
  // another's request meets a service that refuses it (a 503 in its way).
  await page.route('**/sessions/user-004/default/restart', (route) =>
    route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ message: 'service busy' }) }),
  );
  await page.locator('#check-shown').check();
  expect(await page.locator('#checked-count').textContent()).toBe('10 checked');
  await page.locator('#bulk-restart').click();
  await page.locator('#confirm-dialog').waitFor({ state: 'visible' });
  expect(await page.locator('#confirm-text').textContent()).toContain('Restart 10 sessions (the checked ones)?');
  expect((await app.call('DELETE', '/sessions/user-007/default')).status).toBeLessThan(300);
  await page.locator('#confirm-ok').click();
  const result = page.locator('#bulk-result');
  await expect.poll(() => result.textContent(), { timeout: hangMs }).toMatch(/^Restart: 8 done, 2 failed \(first: user-00[47]\/default: .+\)$/);
  expect(await result.getAttribute('data-failed')).toBe('2');
  // Said in red (the test's type check has no DOM lib: the style is read as a string of page code).
  expect(await page.evaluate<string>(`getComputedStyle(document.getElementById('bulk-result')).color`)).toBe('rgb(176, 0, 32)');
  expect(await confirmations(page)).toHaveLength(1);
  // The one that failed and still exists stays checked, ready for a second try; the removed one is forgotten.
  await expect.poll(() => page.locator('#checked-count').textContent()).toBe('1 checked');
  expect(await page.locator('#fleet-list .row[data-checked="true"]').getAttribute('data-key')).toBe('user-004/default');
  await page.close();
});

it('the whole fleet restarted at once is still paced: one confirmation, one request each, never more than the pace at the service', async () => {
  const page = await open();
  const total = (await views()).size;
  await page.locator('#check-shown').check();
  expect(await page.locator('#checked-count').textContent()).toBe(`${total} checked`);
  const inFlight = trackInFlight(app.service, '/restart');
  const startsBefore = [...starts.values()].reduce((a, b) => a + b, 0);
  const began = Date.now();
  await page.locator('#bulk-restart').click();
  expect(await page.locator('#confirm-ok').textContent()).toBe(`Restart ${total} sessions`);
  await page.locator('#confirm-ok').click();
  await expect.poll(() => page.locator('#bulk-result').textContent(), { timeout: hangMs }).toBe(`Restart: ${total} done`);
  const tookMs = Date.now() - began;
  inFlight.stop();
  expect(await confirmations(page)).toHaveLength(1);
  expect(inFlight.sent()).toBe(total);
  expect(inFlight.max()).toBeLessThanOrEqual(pageConcurrency);
  // Every session had its new connection (the stopped ones start again: restart is stop then start).
  await expect.poll(() => [...starts.values()].reduce((a, b) => a + b, 0) - startsBefore, { timeout: hangMs }).toBe(total);
  console.info(`bulk restart of ${total} sessions: ${tookMs} ms, at most ${inFlight.max()} requests in flight`);
  await page.close();
});

it('Cancel sends no more requests: the ones already sent finish and are counted, the rest stay checked', async () => {
  const page = await open();
  await page.locator('#search').fill('user-01');
  await page.locator('#fleet-list .row[data-index="9"]').waitFor();
  // Every restart the page sends is held before it reaches the service, until the test lets it go.
  const held: Array<{ key: string; release: () => Promise<void> }> = [];
  await page.route('**/sessions/*/default/restart', (route) => {
    const key = `${new URL(route.request().url()).pathname.split('/')[2]}/default`;
    held.push({ key, release: () => route.continue() });
  });
  await page.locator('#check-shown').check();
  const checked = await page.locator('#fleet-list .row[data-checked="true"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-key')!));
  expect(checked).toHaveLength(10);
  const startsBefore = new Map(starts);
  await page.locator('#bulk-restart').click();
  await page.locator('#confirm-ok').click();

  const cancel = page.locator('#bulk-cancel');
  await cancel.waitFor({ state: 'visible' });
  await expect.poll(() => held.length).toBe(pageConcurrency);
  await cancel.click();
  expect(await cancel.isDisabled()).toBe(true);
  for (const request of held) await request.release();
  const result = page.locator('#bulk-result');
  await expect.poll(() => result.textContent(), { timeout: hangMs }).toBe(`Restart: ${pageConcurrency} done, ${10 - pageConcurrency} not tried (cancelled)`);
  expect(await cancel.isHidden()).toBe(true);
  expect(held).toHaveLength(pageConcurrency);

  // At the service: exactly the sent ones restarted, one new connection each; the others untouched and still checked.
  const sent = new Set(held.map((h) => h.key));
  await expect.poll(() => [...sent].filter((key) => starts.get(key) === (startsBefore.get(key) ?? 0) + 1).length, { timeout: hangMs }).toBe(sent.size);
  for (const key of checked.filter((k) => !sent.has(k))) expect(starts.get(key), key).toBe(startsBefore.get(key));
  await expect.poll(() => page.locator('#checked-count').textContent()).toBe(`${10 - pageConcurrency} checked`);
  expect((await page.locator('#fleet-list .row[data-checked="true"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-key')!))).sort()).toEqual(
    checked.filter((k) => !sent.has(k)).sort(),
  );
  await page.close();
});
