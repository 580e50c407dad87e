/**
 * One session on real Baileys against the simulator, watched from the page:
 * the console works with the real connection actor, not only the scripted one.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { WaSimulator } from '../../src/sim/wa-simulator.js';
import { writeBaileysAuthFolder } from '../../fixtures/baileys-folder.js';
import { removeDir, startTestService } from '../support/service-harness.js';
import { launchChromium, openConsole } from './console-harness.js';

let sim: WaSimulator;
let dir: string;
let browser: Browser;
let app: Awaited<ReturnType<typeof startTestService>>;

beforeAll(async () => {
  sim = await new WaSimulator().start();
  dir = await mkdtemp(join(tmpdir(), 'wa-vigil-browser-'));
  await writeBaileysAuthFolder(dir, 'ops', 'main', '15550003333', 2);
  // A slow first retry, so backingOff and its countdown can be seen.
  app = await startTestService({ sim, sessionsDir: dir, env: { RECONNECT_DELAYS_MS: '2500' } });
  await app.waitForState('ops', 'main', 'open');
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await app?.service.stop();
  await sim?.stop();
  await removeDir(dir);
});

it('follows a real session from open through a dropped link (with its countdown) back to open', async () => {
  const { page, requests } = await openConsole(browser, app.service.url);
  await expect.poll(() => page.locator('#chart-title').textContent()).toBe('ops/main');
  await expect.poll(() => page.locator('#state-open').getAttribute('class')).toContain('active');

  sim.closeAll();
  await expect.poll(() => page.locator('#state-backingOff').getAttribute('class'), { timeout: 5_000 }).toContain('active');
  expect(await page.locator('#state-open').getAttribute('class')).not.toContain('active');
  await expect.poll(() => page.locator('#detail-backingOff').textContent()).toMatch(/^retry in \d+\.\d s · attempt 1$/);
  await expect.poll(() => page.locator('#log').textContent()).toContain('connection closed 428');
  await expect.poll(() => page.locator('.row[data-key="ops/main"] .badge').textContent()).toBe('backingOff · attempt 1');

  await expect.poll(() => page.locator('#state-open').getAttribute('class'), { timeout: 8_000 }).toContain('active');
  await expect.poll(() => page.locator('#log').textContent()).toMatch(/after 2\.\d s backoff/);
  await expect.poll(() => page.locator('.row[data-key="ops/main"] .badge').textContent()).toBe('open');
  expect(requests.filter((url) => !url.startsWith(app.service.url))).toEqual([]);
  await page.close();
});
