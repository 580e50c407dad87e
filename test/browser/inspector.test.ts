import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { WaSimulator } from '../../src/sim/wa-simulator.js';
import { writeBaileysAuthFolder } from '../support/baileys-folder.js';
import { removeDir, startTestService, testApiKey } from '../support/service-harness.js';

let sim: WaSimulator;
let dir: string;
let browser: Browser;
let app: Awaited<ReturnType<typeof startTestService>>;

beforeAll(async () => {
  sim = await new WaSimulator().start();
  dir = await mkdtemp(join(tmpdir(), 'wa-vigil-browser-'));
  await writeBaileysAuthFolder(dir, 'ops', 'main', '15550003333', 2);
  // A slow first retry, so the backingOff highlight can be seen.
  app = await startTestService({ sim, sessionsDir: dir, env: { RECONNECT_DELAYS_MS: '2500' } });
  await app.waitForState('ops', 'main', 'open');
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
});

afterAll(async () => {
  await browser?.close();
  await app?.service.stop();
  await sim?.stop();
  await removeDir(dir);
});

async function openInspector(key: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(`${app.service.url}/inspector`);
  await page.locator('#key-input').fill(key);
  await page.locator('#key-form button').click();
  return page;
}

it('refuses a wrong API key and shows nothing', async () => {
  const page = await openInspector('not-the-key');
  await expect.poll(() => page.locator('#key-error').textContent()).toContain('refused');
  expect(await page.locator('#main').isHidden()).toBe(true);
  expect(await page.locator('.state').count()).toBe(0);
  await page.close();
});

it('draws the five states, highlights open, follows a drop to backingOff and back to open', async () => {
  const page = await openInspector(testApiKey);
  for (const state of ['connecting', 'open', 'degraded', 'backingOff', 'terminated']) {
    await expect.poll(() => page.locator(`#state-${state}`).count()).toBe(1);
  }
  await expect.poll(() => page.locator('#state-open').getAttribute('class')).toContain('active');
  expect(await page.locator('#substate-open\\.settling, #substate-open\\.stable').count()).toBe(2);

  sim.closeAll();
  await expect.poll(() => page.locator('#state-backingOff').getAttribute('class'), { timeout: 5_000 }).toContain('active');
  expect(await page.locator('#state-open').getAttribute('class')).not.toContain('active');
  await expect.poll(() => page.locator('#log').textContent()).toContain('CONNECTION.CLOSED 428');
  await expect.poll(() => page.locator('dd[data-field="attempt"]').textContent()).toBe('1');
  await mkdir('test-artifacts', { recursive: true });
  await page.screenshot({ path: 'test-artifacts/inspector-backingOff.png', fullPage: true });

  await expect.poll(() => page.locator('#state-open').getAttribute('class'), { timeout: 8_000 }).toContain('active');
  await expect.poll(() => page.locator('#log').textContent()).toContain('→ open');
  await page.screenshot({ path: 'test-artifacts/inspector-open.png', fullPage: true });
  await page.close();
});
