/**
 * The console on a cluster (#23 item 7), in headless Chromium at 1400×900: two nodes on
 * one PostgreSQL database, the console opened on node A. It lists both nodes with the
 * sessions each owns as GET /cluster counts them, marks the node it is on, and "owned
 * by node B" lists exactly B's sessions. Needs TEST_DATABASE_URL (no embedded server
 * under the browser config).
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { waitUntil } from '../../fixtures/wait.js';
import { testDatabase, type TestDatabase } from '../support/postgres.js';
import { removeDir } from '../support/service-harness.js';
import { launchChromium, openConsole, startConsoleService, tempDir, type ConsoleService } from './console-harness.js';

let db: TestDatabase;
const dirs: string[] = [];
const nodes: ConsoleService[] = [];
let browser: Browser;

/** Enough sessions that rendezvous hashing gives each node some (all on one node: about 1 in 500,000). */
const sessionCount = 20;
/** Leases of production length, renewed every second: a loaded machine must not fence mid-test. */
const env = { LEASE_TTL_MS: '15000', LEASE_RENEW_MS: '1000' };
/** Ownership unchanged over this many renews is taken as settled (placement hands sessions over per renew tick). */
const settledReads = 3;

interface ClusterAnswer {
  self: string;
  nodes: Array<{ holder: string; url: string | null; sessions: number; renewedAt: string }>;
}
interface View {
  userId: string;
  sessionId: string;
  state: string;
  owner: string | null;
  openSince: string | null;
}

beforeAll(async () => {
  db = await testDatabase();
  for (let i = 0; i < 2; i++) {
    const dir = await tempDir();
    dirs.push(dir);
    nodes.push(await startConsoleService({ sessionsDir: dir, env: { ...env, DATABASE_URL: db.url } }));
  }
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  for (const node of nodes) await node.service.stop();
  await db?.drop();
  for (const dir of dirs) await removeDir(dir);
});

const cluster = async (node: ConsoleService) => (await node.call('GET', '/cluster')).body as ClusterAnswer;
const owners = async (node: ConsoleService) => {
  const views = (await node.call('GET', '/sessions')).body as View[];
  return new Map(views.map((v) => [`${v.userId}/${v.sessionId}`, v]));
};
/** "holder=count,…" from GET /cluster, sorted: what the page must show. */
const countsOf = (answer: ClusterAnswer) =>
  answer.nodes
    .map((n) => `${n.holder}=${n.sessions}`)
    .sort()
    .join(',');

it('on node A the console shows both nodes with the sessions each owns, "owned by B" lists exactly B’s sessions, and B’s backing-off sessions restart from A', async () => {
  const [a, b] = nodes as [ConsoleService, ConsoleService];
  await waitUntil(async () => (await cluster(a)).nodes.length === 2 && (await cluster(b)).nodes.length === 2, 20_000);
  const holderA = (await cluster(a)).self;
  const holderB = (await cluster(b)).self;
  // Created on either node: every node serves the whole API.
  for (let i = 0; i < sessionCount; i++) await (i % 2 ? a : b).create(`c-${String(i).padStart(2, '0')}`);

  // Settled: every session open, owned by a live node, and the same owners over several renews.
  let last = '';
  let same = 0;
  // Read once per renew (1 s): placement hands sessions over on renew ticks.
  await expect.poll(async () => {
    const views = await owners(a);
    const picture = [...views.values()].map((v) => `${v.userId}:${v.state}:${v.owner}`).join(',');
    const settled = views.size === sessionCount && [...views.values()].every((v) => v.state === 'open' && (v.owner === holderA || v.owner === holderB));
    same = settled && picture === last ? same + 1 : 0;
    last = picture;
    return same >= settledReads;
  }, { timeout: 45_000, interval: 1_000 }).toBe(true);
  const bSessions = [...(await owners(a)).values()].filter((v) => v.owner === holderB).map((v) => `${v.userId}/${v.sessionId}`);
  expect(bSessions.length).toBeGreaterThan(0);
  expect(bSessions.length).toBeLessThan(sessionCount);

  const { page } = await openConsole(browser, a.service.url);
  const view = page.locator('#cluster');
  await view.waitFor({ state: 'visible' });
  await expect.poll(() => page.locator('#cluster-title').textContent()).toBe('Cluster · 2 nodes');
  // The counts drawn are GET /cluster's (read again each time: the page refreshes on its own clock).
  const drawn = (p: Page) =>
    p
      .locator('#cluster-nodes li')
      .evaluateAll((lis) => lis.map((li) => `${li.getAttribute('data-holder')}=${li.querySelector('.sessions')?.getAttribute('data-count')}`).sort().join(','));
  await expect.poll(async () => (await drawn(page)) === countsOf(await cluster(a)), { timeout: 12_000 }).toBe(true);
  expect(countsOf(await cluster(a))).toBe([`${holderA}=${sessionCount - bSessions.length}`, `${holderB}=${bSessions.length}`].sort().join(','));
  // This console's node is marked, and listed first.
  const self = page.locator('#cluster-nodes li.self');
  expect(await self.count()).toBe(1);
  expect(await self.getAttribute('data-holder')).toBe(holderA);
  expect(await self.locator('.holder').textContent()).toBe(`${holderA} (this console)`);
  expect(await page.locator('#cluster-nodes li').first().getAttribute('data-holder')).toBe(holderA);
  expect(await page.locator(`#cluster-nodes li[data-holder="${holderB}"] .renew`).textContent()).toMatch(/^renewed (now|\d+ s ago)$/);

  // B's sessions are never "terminated" here nor a person's problem: A's feed shows them as B announced them.
  const chip = (filter: string) => page.locator(`#counts .count[data-filter="${filter}"] b`).textContent();
  await expect.poll(() => chip('open'), { timeout: 12_000 }).toBe(String(sessionCount));
  expect(await chip('attention')).toBe('0');
  expect(await chip('terminated')).toBe('0');
  expect(await page.locator('#counts .count[data-filter="elsewhere"]').count()).toBe(0);
  const bRow = page.locator(`#fleet-list .row[data-key="${bSessions[0]}"]`);
  expect(await bRow.locator('.badge').textContent()).toBe('open');
  expect(await bRow.getAttribute('title')).toContain(`owner ${holderB}`);

  // Owned by B: exactly B's sessions, by clicking the node …
  await page.locator(`#cluster-nodes li[data-holder="${holderB}"] button`).click();
  const listed = () => page.locator('#fleet-list .row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-key')).sort());
  await expect.poll(() => page.locator('#fleet-summary').textContent()).toBe(`${bSessions.length} of ${sessionCount} sessions`);
  expect(await listed()).toEqual([...bSessions].sort());
  expect(await page.locator('#owner-filter').inputValue()).toBe(holderB);
  await page.screenshot({ path: 'test-artifacts/inspector-cluster-1400x900.png' });
  // … and by the filter: every node, then B again.
  await page.locator('#owner-filter').selectOption('');
  await expect.poll(() => page.locator('#fleet-summary').textContent()).toBe(`${sessionCount} sessions`);
  await page.locator('#owner-filter').selectOption(holderB);
  await expect.poll(() => page.locator('#fleet-summary').textContent()).toBe(`${bSessions.length} of ${sessionCount} sessions`);
  expect(await listed()).toEqual([...bSessions].sort());
  await page.close();

  // An incident on B, restarted from A: B's backing-off sessions are in A's shortcut, one confirmation, each
  // forwarded to B, and B's other sessions and A's untouched.
  const failing = bSessions.slice(0, Math.min(3, bSessions.length));
  for (const key of failing) b.inject(key, { type: 'CONNECTION.CLOSED', statusCode: 428, message: 'Connection Terminated' });
  const onA = (await openConsole(browser, a.service.url)).page;
  const shortcut = onA.locator('#restart-backing-off');
  await expect.poll(() => shortcut.textContent(), { timeout: 12_000 }).toBe(`Restart every session backing off (${failing.length})`);
  const before = await owners(a);
  const clickedAt = Date.now();
  await shortcut.click();
  expect(await onA.locator('#confirm-text').textContent()).toMatch(new RegExp(`^Restart ${failing.length} sessions? backing off\\?`));
  await onA.locator('#confirm-ok').click();
  await expect.poll(() => onA.locator('#bulk-result').textContent(), { timeout: 20_000 }).toBe(`Restart: ${failing.length} done`);
  await expect.poll(async () => [...(await owners(a)).values()].filter((v) => v.state === 'backingOff').length, { timeout: 20_000 }).toBe(0);
  const after = await owners(a);
  for (const key of failing) expect(after.get(key)?.state, key).toBe('open');
  for (const key of failing) expect(Date.parse(after.get(key)!.openSince!), key).toBeGreaterThanOrEqual(clickedAt - 1_000);
  for (const [key, view] of before) if (!failing.includes(key)) expect(after.get(key)?.openSince, key).toBe(view.openSince);
  await expect.poll(() => shortcut.isHidden(), { timeout: 12_000 }).toBe(true);
  await onA.close();

  // Opened on B, the console says it is on B.
  const onB = (await openConsole(browser, b.service.url)).page;
  await expect.poll(() => onB.locator('#cluster-nodes li.self').getAttribute('data-holder')).toBe(holderB);
  await onB.close();
}, 120_000);
