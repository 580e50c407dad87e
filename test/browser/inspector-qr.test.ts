/**
 * Linking a device from the console (#23, items 4 and 7), in headless Chromium at
 * 1400×900, on real Baileys against the simulator: the new-session form shows the
 * API's message naming the field; a created session's QR dialog follows WhatsApp's
 * new QRs without the operator doing anything (the code drawn in the dialog is
 * decoded with jsQR and compared to GET …/qr?format=raw); the simulated phone scans
 * it and the dialog says linked and closes. The QR text never travels on a feed.
 *
 * WhatsApp rotates a QR after 60 s, then every 20 s (Baileys' timer). Waiting for that
 * would make the test slow and its moment a guess; instead the simulator's server sends
 * the connection a fresh `pair-device` with new refs, which Baileys shows at once: a
 * new QR at a moment the test chooses.
 */
import { mkdir } from 'node:fs/promises';
import jsQRModule from 'jsqr';
import { PNG } from 'pngjs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { WaSimulator, type SimulatedConnection } from '../../src/sim/wa-simulator.js';
import { removeDir, startTestService, tempSessionsDir, testApiKey } from '../support/service-harness.js';
import { launchChromium, openConsole, startConsoleService, tempDir } from './console-harness.js';

// jsqr is CommonJS with `export default` typings: under NodeNext the function sits on .default.
const jsQR = ((jsQRModule as unknown as { default?: typeof jsQRModule }).default ?? jsQRModule) as unknown as typeof jsQRModule.default;

const artifacts = 'test-artifacts';
/** The issue's requirement: the dialog shows a new QR within a second of its issue. */
const rotationBoundMs = 1_000;
/** Bounds that only cover a hang: a scan, a 515 restart and a login on a shared machine. */
const hangMs = 15_000;
/** The page's linkedCloseMs (link.js) plus room for a busy machine. */
const linkedCloseBoundMs = 2_500 + 5_000;
const rotations = 3;

let sim: WaSimulator;
let dir: string;
let browser: Browser;
let app: Awaited<ReturnType<typeof startTestService>>;

beforeAll(async () => {
  await mkdir(artifacts, { recursive: true });
  sim = await new WaSimulator().start();
  dir = await tempSessionsDir();
  app = await startTestService({ sim, sessionsDir: dir });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  // Its stop() also fails when the logs hold the key or any ref the simulator issued (ours included).
  await app?.service.stop();
  await sim?.stop();
  await removeDir(dir);
});

const isOpen = (page: Page, selector: string) => page.locator(selector).evaluate((d) => (d as unknown as { open: boolean }).open);

/** What the dialog's image shows on screen, decoded; null while no image is shown. */
async function shownQr(page: Page): Promise<string | null> {
  const image = page.locator('#qr-dialog[open] #qr-image:not([hidden])');
  if ((await image.count()) === 0) return null;
  const png = PNG.sync.read(await image.screenshot());
  return jsQR(new Uint8ClampedArray(png.data), png.width, png.height)?.data ?? null;
}

async function rawQr(key: string): Promise<string | null> {
  const res = await app.call('GET', `/sessions/${key}/qr?format=raw`);
  return res.status === 200 ? (res.body as unknown as { qr: string }).qr : null;
}

/** The dialog shows the QR the service has pending for `key`; for polling, as the QR may not be issued yet. */
async function showsPendingQr(page: Page, key: string): Promise<boolean> {
  const shown = await shownQr(page);
  const raw = await rawQr(key);
  return raw !== null && shown === raw;
}

/**
 * As WhatsApp's server does when it hands out refs: Baileys shows the first at once (a
 * new QR), or, given none, ends the connection with 408 "QR refs attempts ended" (the
 * QR expired: the session terminates as qrTimeout).
 */
let rotation = 0;
function pairDevice(connection: SimulatedConnection, refs: string[]): void {
  rotation += 1;
  // Known to the simulator: its phone can scan them, and the service's logs are checked for them.
  connection.refs.push(...refs);
  sim.issuedRefs.push(...refs);
  connection.deliver({
    tag: 'iq',
    attrs: { id: `rotate-${rotation}`, type: 'set', from: 's.whatsapp.net', xmlns: 'md' },
    content: [{ tag: 'pair-device', attrs: {}, content: refs.map((ref) => ({ tag: 'ref', attrs: {}, content: Buffer.from(ref) })) }],
  });
}

function rotate(connection: SimulatedConnection): string {
  const ref = `sim-rotated-${connection.id}-${rotation + 1}-${Date.now().toString(36)}`;
  pairDevice(connection, [ref]);
  return ref;
}

/** The one connection showing a QR (the tests link one session at a time). */
function awaitingScan(): SimulatedConnection {
  const showing = sim.openConnections.filter((c) => c.phase === 'awaitingScan');
  expect(showing).toHaveLength(1);
  return showing[0]!;
}

/**
 * When each new code went on screen, by the page's clock (the same host's as the test's):
 * the dialog's data-qr-count moves once the new picture is decoded and shown.
 */
async function recordSwaps(page: Page): Promise<void> {
  await page.evaluate(`(() => {
    window.qrSwaps = [];
    new MutationObserver(() => window.qrSwaps.push(Date.now())).observe(document.getElementById('qr-dialog'), { attributes: true, attributeFilter: ['data-qr-count'] });
  })()`);
}
const swaps = (page: Page) => page.evaluate<number[]>('window.qrSwaps');

/** Everything a feed sends while the test runs, to prove no QR text is in it. */
function tap(path: string): { text: () => string; stop: () => void } {
  const controller = new AbortController();
  let text = '';
  void (async () => {
    const res = await fetch(app.service.url + path, { headers: { authorization: `Bearer ${testApiKey}` }, signal: controller.signal });
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) text += decoder.decode(chunk, { stream: true });
  })().catch(() => undefined);
  return { text: () => text, stop: () => controller.abort() };
}

it('the new-session form shows the API’s message naming the field, then creates the session and its QR follows every rotation until the scan says linked', async () => {
  const { page, requests } = await openConsole(browser, app.service.url);
  const fleetTap = tap('/inspector/fleet');

  // Bad input: the API judges, the page shows its message as it is and marks the field.
  await page.locator('#new-session').click();
  await page.locator('#new-user-id').fill('bad id!');
  await page.locator('#new-session-create').click();
  const expected = String((await app.call('POST', '/sessions', { userId: 'bad id!' })).body.message);
  expect(expected).toContain('userId');
  await expect.poll(() => page.locator('#new-session-error').textContent()).toBe(expected);
  expect(await page.locator('#new-user-id').getAttribute('aria-invalid')).toBe('true');
  await page.screenshot({ path: `${artifacts}/inspector-new-session-error-1400x900.png` });
  await page.locator('#new-user-id').fill('phone-1');
  await page.locator('#new-session-id').fill('a.b');
  await page.locator('#new-session-create').click();
  await expect.poll(() => page.locator('#new-session-error').textContent()).toContain('sessionId');
  expect(await page.locator('#new-session-id').getAttribute('aria-invalid')).toBe('true');
  expect(await page.locator('#new-user-id').getAttribute('aria-invalid')).toBeNull();
  expect((await app.call('GET', '/sessions')).body).toEqual([]);

  // Created (no session id: the API's "default"): selected, and its QR shown as soon as there is one.
  await page.locator('#new-session-id').fill('');
  await page.locator('#new-session-create').click();
  const key = 'phone-1/default';
  await expect.poll(() => page.locator('#qr-dialog').getAttribute('data-key')).toBe(key);
  expect(await isOpen(page, '#new-session-dialog')).toBe(false);
  const sessionTap = tap(`/inspector/sessions/${key}/feed`);
  await expect.poll(() => page.locator('#chart-title').textContent(), { timeout: hangMs }).toBe(key);
  await expect.poll(() => showsPendingQr(page, key), { timeout: hangMs }).toBe(true);
  await page.screenshot({ path: `${artifacts}/inspector-qr-live-1400x900.png` });

  // The pairing-code path is offered from the dialog, for this session; closing it and
  // "Show QR" bring the live dialog back.
  await page.locator('#qr-pairing').click();
  expect(await isOpen(page, '#pairing-dialog')).toBe(true);
  expect(await page.locator('#pairing-for').textContent()).toContain(key);
  expect(await isOpen(page, '#qr-dialog')).toBe(false);
  await page.locator('#pairing-close').click();
  await page.locator('#actions button[data-action="qr"]').click();
  await expect.poll(() => showsPendingQr(page, key), { timeout: hangMs }).toBe(true);

  // Each rotation is on screen within the bound, the operator doing nothing.
  const connection = awaitingScan();
  await recordSwaps(page);
  const latencies: number[] = [];
  for (let i = 0; i < rotations; i++) {
    const before = await shownQr(page);
    const rotatedAt = Date.now();
    const ref = rotate(connection);
    await expect
      .poll(async () => {
        const raw = await rawQr(key);
        const shown = await shownQr(page);
        return raw !== null && raw.includes(ref) && shown === raw;
      }, { timeout: rotationBoundMs, interval: 20 })
      .toBe(true);
    expect(await shownQr(page)).not.toBe(before);
    // Exactly one swap per rotation: the code on screen is replaced once, not flickered.
    const swapped = await swaps(page);
    expect(swapped).toHaveLength(i + 1);
    latencies.push(swapped[i]! - rotatedAt);
  }
  expect(await page.locator('#qr-dialog').getAttribute('data-qr-count')).toBe(String(rotations + 1));
  console.log(`QR rotation → new code on screen: ${latencies.map((ms) => `${ms} ms`).join(', ')} (bound ${rotationBoundMs} ms)`);

  // The phone scans the code on screen: the dialog drops it, says linked, and gets out of the way.
  await page.evaluate(`(() => {
    window.qrTexts = [];
    const text = document.getElementById('qr-text');
    const image = document.getElementById('qr-image');
    new MutationObserver(() => window.qrTexts.push({ text: text.textContent, image: !image.hidden })).observe(text, { childList: true, characterData: true, subtree: true });
  })()`);
  sim.scanQr((await shownQr(page))!);
  const dialog = page.locator('#qr-dialog');
  await expect.poll(() => dialog.getAttribute('data-phase'), { timeout: hangMs }).toBe('linked');
  expect(await page.locator('#qr-text').textContent()).toMatch(new RegExp(`^✓ Linked: ${key} is open as \\d+:\\d+@s\\.whatsapp\\.net`));
  expect(await page.locator('#qr-image').isHidden()).toBe(true);
  await page.screenshot({ path: `${artifacts}/inspector-qr-linked-1400x900.png` });
  // On the way: said scanned, with no code on screen from the moment it was (none to scan twice).
  const said = await page.evaluate<Array<{ text: string; image: boolean }>>('window.qrTexts');
  expect(said.map((s) => s.text)).toContain(`${key}: Scanned: WhatsApp is linking the device…`);
  expect(said.filter((s) => s.image)).toEqual([]);
  await expect.poll(() => isOpen(page, '#qr-dialog'), { timeout: linkedCloseBoundMs }).toBe(false);
  expect(await page.locator('#connection').textContent()).toContain(`${key} linked`);
  await expect.poll(() => page.locator('#state-open').getAttribute('class')).toContain('active');
  expect(await rawQr(key)).toBeNull();

  // The code travelled as a PNG on its own route only: not on either feed, nor off loopback.
  fleetTap.stop();
  sessionTap.stop();
  expect(sessionTap.text()).toContain('event: view');
  for (const ref of sim.issuedRefs) {
    expect(fleetTap.text()).not.toContain(ref);
    expect(sessionTap.text()).not.toContain(ref);
  }
  expect(requests.filter((url) => !url.startsWith(app.service.url) && !url.startsWith('blob:'))).toEqual([]);
  await page.close();
});

it('a QR that expires leaves the dialog: no dead code on screen, the reason said, and "Start it again" brings the next QR; a session that exists is the API’s message', async () => {
  const key = 'phone-2/default';
  const { page } = await openConsole(browser, app.service.url, undefined, `#${encodeURIComponent(key)}`);
  await page.locator('#new-session').click();
  await page.locator('#new-user-id').fill('phone-2');
  await page.locator('#new-session-create').click();
  await expect.poll(() => page.locator('#qr-dialog').getAttribute('data-key')).toBe(key);
  await expect.poll(() => showsPendingQr(page, key), { timeout: hangMs }).toBe(true);
  await page.locator('#qr-dialog button[value="close"]').click();
  // The same again: 409, said as the API says it, no field marked (both are fine, the pair is taken).
  await page.locator('#new-session').click();
  await page.locator('#new-user-id').fill('phone-2');
  await page.locator('#new-session-create').click();
  const exists = String((await app.call('POST', '/sessions', { userId: 'phone-2' })).body.message);
  await expect.poll(() => page.locator('#new-session-error').textContent()).toBe(exists);
  expect(await page.locator('#new-session-form [aria-invalid="true"]').count()).toBe(0);
  await page.locator('#new-session-cancel').click();

  await page.locator('#actions button[data-action="qr"]').click();
  await expect.poll(() => showsPendingQr(page, key), { timeout: hangMs }).toBe(true);
  pairDevice(awaitingScan(), []);
  const dialog = page.locator('#qr-dialog');
  await expect.poll(() => page.locator('#qr-text').textContent(), { timeout: hangMs }).toBe(`${key}: No QR: the session has ended (qrTimeout). Start it again for a new QR.`);
  expect(await dialog.getAttribute('data-phase')).toBe('waiting');
  expect(await page.locator('#qr-image').isHidden()).toBe(true);
  expect(await page.locator('#qr-pairing').isHidden()).toBe(true);
  expect(await isOpen(page, '#qr-dialog')).toBe(true);
  await page.screenshot({ path: `${artifacts}/inspector-qr-expired-1400x900.png` });

  // Started again from the dialog, which shows the new session's QR as it comes.
  await page.locator('#qr-start').click();
  await expect.poll(() => dialog.getAttribute('data-phase'), { timeout: hangMs }).toBe('showing');
  await expect.poll(() => showsPendingQr(page, key), { timeout: hangMs }).toBe(true);
  expect(await page.locator('#qr-start').isHidden()).toBe(true);
  await page.close();
});

it('without word from the service the code is greyed and said to be possibly replaced; back, the dialog shows the current QR', async () => {
  // The scripted connection (no Baileys): a restarted service shows the restored session a new QR at once.
  const scriptedDir = await tempDir();
  let scripted = await startConsoleService({ sessionsDir: scriptedDir, outcome: () => 'qr' });
  try {
    await scripted.create('phone-3');
    const key = 'phone-3/default';
    const rawOf = async () => ((await scripted.call('GET', `/sessions/${key}/qr?format=raw`)).body as { qr: string }).qr;
    const { page } = await openConsole(browser, scripted.service.url, undefined, `#${encodeURIComponent(key)}`);
    await expect.poll(() => page.locator('#actions button[data-action="qr"]').isEnabled()).toBe(true);
    await page.locator('#actions button[data-action="qr"]').click();
    const before = await rawOf();
    await expect.poll(async () => (await shownQr(page)) ?? 'no QR drawn', { timeout: hangMs }).toBe(before);
    expect(await page.locator('#qr-dialog').getAttribute('data-feed')).toBe('live');

    const port = Number(new URL(scripted.service.url).port);
    await scripted.service.stop();
    await expect.poll(() => page.locator('#qr-dialog').getAttribute('data-feed'), { timeout: hangMs }).toBe('lost');
    expect(await page.locator('#qr-text').textContent()).toContain('no word from the service — this QR may have been replaced');
    expect(Number(await page.evaluate<string>(`getComputedStyle(document.getElementById('qr-image')).opacity`))).toBeLessThan(0.5);

    scripted = await startConsoleService({ sessionsDir: scriptedDir, outcome: () => 'qr', port });
    // The restored session's first QR is ref-1 again (a new scripted connection counts from 1): a
    // rotation makes the code differ from the one on screen. Sent before or after the page's feed is
    // back, it is caught either way: as an entry, or by the fetch every reconnect makes.
    await expect.poll(() => rawOf()).toBe(before);
    scripted.inject(key, { type: 'CONNECTION.QR', qr: 'issued-after-the-restart' });
    const after = await rawOf();
    expect(after).toBe('issued-after-the-restart');
    await expect.poll(() => page.locator('#qr-dialog').getAttribute('data-feed'), { timeout: hangMs }).toBe('live');
    await expect.poll(async () => (await shownQr(page)) ?? 'no QR drawn', { timeout: hangMs }).toBe(after);
    expect(await page.locator('#qr-dialog').getAttribute('data-phase')).toBe('showing');
    await page.close();
  } finally {
    await scripted.service.stop();
    await removeDir(scriptedDir);
  }
});
