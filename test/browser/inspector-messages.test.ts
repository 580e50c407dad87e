/**
 * The selected session's messages in the console, on real Baileys against the
 * simulator: the queue depth and the last messages' ids and statuses follow
 * the phones' receipts live, messages accepted while the link is down are
 * counted as queued until a restart sends them, and no message text (nor any
 * recipient's number) reaches the page.
 */
import { mkdir } from 'node:fs/promises';
import { pino } from 'pino';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { routeConsoleToLogger } from '../../src/logging/console-guard.js';
import { WaSimulator } from '../../src/sim/wa-simulator.js';
import { writeBaileysAuthFolder } from '../../fixtures/baileys-folder.js';
import { removeDir, startTestService, tempSessionsDir, testApiKey } from '../support/service-harness.js';
import { waitUntil } from '../../fixtures/wait.js';
import { launchChromium, openConsole } from './console-harness.js';

const device = '15550001234:3@s.whatsapp.net';
const reader = '15551111111';
const deliverer = '15552222222';
const stranger = '15559999999';
/** Every text sent: none may appear in the page. */
const texts: string[] = [];

let sim: WaSimulator;
let dir: string;
let browser: Browser;
let app: Awaited<ReturnType<typeof startTestService>>;
// The contacts' phones run libsignal in this process, and it prints whole sessions on every replacement.
let restoreConsole: () => void;

beforeAll(async () => {
  restoreConsole = routeConsoleToLogger(pino({ level: 'silent' }));
  sim = await new WaSimulator().start();
  dir = await tempSessionsDir();
  await writeBaileysAuthFolder(dir, 'shop', 'main', '15550001234');
  // A dropped link stays down for a minute: messages sent meanwhile wait in the queue.
  app = await startTestService({ sim, sessionsDir: dir, env: { RECONNECT_DELAYS_MS: '60000' } });
  await app.waitForState('shop', 'main', 'open', 10_000);
  await waitUntil(() => sim.messaging.contacts.keysOf(device) !== undefined, 10_000);
  sim.addContact({ phone: reader, receipts: 'read' });
  sim.addContact({ phone: deliverer, receipts: 'delivered' });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await app?.service.stop();
  await sim?.stop();
  await removeDir(dir);
  restoreConsole?.();
});

async function send(to: string, label: string): Promise<string> {
  const text = `private text ${label} ${Math.random().toString(36).slice(2)}`;
  texts.push(text);
  const res = await app.call('POST', '/sessions/shop/main/messages', { to, text });
  expect(res.status).toBe(202);
  return res.body.id as string;
}

const depth = (page: Page) => page.locator('#queue-depth').textContent();
const statusOf = (page: Page, id: string) => page.locator(`#messages li[data-id="${id}"] .status`).textContent();
const listedIds = (page: Page) => page.locator('#messages li[data-id]').evaluateAll((items) => items.map((li) => (li as unknown as { dataset: { id: string } }).dataset.id));

/** Everything the page holds: its markup, its visible text, and every form value. */
async function pageText(page: Page): Promise<string> {
  return `${await page.content()}\n${await page.locator('body').innerText()}`;
}

/** The raw session feed as the console reads it, until its `messages` event has come. */
async function rawFeed(): Promise<string> {
  const res = await fetch(`${app.service.url}/inspector/sessions/shop/main/feed`, { headers: { 'x-api-key': testApiKey }, signal: AbortSignal.timeout(5_000) });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let raw = '';
  while (!raw.includes('event: messages')) raw += decoder.decode((await reader.read()).value, { stream: true });
  await reader.cancel();
  return raw;
}

it('shows the queue depth and the last messages’ statuses live, never a text or a number', async () => {
  const { page, requests } = await openConsole(browser, app.service.url, undefined, '#shop%2Fmain');
  await expect.poll(() => page.locator('#chart-title').textContent()).toBe('shop/main');
  await expect.poll(() => depth(page)).toBe('0 queued');
  expect(await page.locator('#messages').textContent()).toBe('none sent yet');

  // While open: the phones' receipts move the statuses; a number not on WhatsApp fails.
  const read = await send(reader, 'read');
  const delivered = await send(deliverer, 'delivered');
  const failed = await send(stranger, 'failed');
  await expect.poll(() => statusOf(page, read), { timeout: 10_000 }).toBe('read');
  await expect.poll(() => statusOf(page, delivered), { timeout: 10_000 }).toBe('delivered');
  await expect.poll(() => statusOf(page, failed), { timeout: 10_000 }).toBe('failed');
  expect(await page.locator(`#messages li[data-id="${failed}"] .error`).textContent()).toBe('not_on_whatsapp');
  expect(await depth(page)).toBe('0 queued');
  expect(await listedIds(page)).toEqual([failed, delivered, read]);

  // The link drops and stays down: what is accepted now waits, and the page counts it.
  sim.closeAll();
  await app.waitForState('shop', 'main', 'backingOff', 5_000);
  const waiting = [await send(reader, 'waiting-1'), await send(reader, 'waiting-2'), await send(deliverer, 'waiting-3')];
  await expect.poll(() => depth(page)).toBe('3 queued');
  expect(await page.locator('#queue-depth').getAttribute('data-queued')).toBe('3');
  expect(await listedIds(page)).toEqual([...[...waiting].reverse(), failed, delivered, read]);
  for (const id of waiting) expect(await statusOf(page, id)).toBe('queued');
  expect(((await app.call('GET', '/sessions/shop/main/messages?status=queued')).body as unknown as unknown[]).length).toBe(3);
  await mkdir('test-artifacts', { recursive: true });
  await page.screenshot({ path: 'test-artifacts/inspector-messages-queued.png' });

  // A restart brings the link back: the queue empties and each status follows.
  expect((await app.call('POST', '/sessions/shop/main/restart')).status).toBe(202);
  await expect.poll(() => depth(page), { timeout: 15_000 }).toBe('0 queued');
  await expect.poll(() => statusOf(page, waiting[0]!), { timeout: 10_000 }).toBe('read');
  await expect.poll(() => statusOf(page, waiting[1]!), { timeout: 10_000 }).toBe('read');
  await expect.poll(() => statusOf(page, waiting[2]!), { timeout: 10_000 }).toBe('delivered');

  // Ids and statuses only: no text, no recipient, in the page or in what the console is sent.
  const shown = await pageText(page);
  const raw = await rawFeed();
  for (const secret of [...texts, reader, deliverer, stranger]) {
    expect(shown).not.toContain(secret);
    expect(raw).not.toContain(secret);
  }
  expect(raw).toContain(waiting[2]);
  expect(requests.filter((url) => !url.startsWith(app.service.url))).toEqual([]);
  await page.close();
});
