/**
 * Signals as supervisors send them: during boot, in the middle of restoring
 * sessions, and through `npm start`. Each must end in exit 0 within 10 s,
 * with every session stopped (not logged out) and its lease released, so the
 * next process takes the sessions at once instead of waiting for the TTL.
 */
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { holdersFolderName } from '../../src/store/files/file-ownership.js';
import { writeBaileysAuthFolder } from '../support/baileys-folder.js';
import { testApiKey } from '../support/service-harness.js';
import { processesPerFile } from '../support/process-fixture.js';
import type { ServiceProcess } from '../support/service-process.js';
import { waitUntil } from '../support/wait.js';

const sessionCount = 20;
const f = processesPerFile(async (dir: string) => {
  for (let i = 0; i < sessionCount; i++) await writeBaileysAuthFolder(dir, 'sig', `s${i}`, `15550009${String(i).padStart(3, '0')}`, 1);
});

function boot(env: Record<string, string> = {}): ServiceProcess {
  // A long TTL: a session held after exit would stay unavailable for a minute.
  return f.spawn({ env: { LEASE_TTL_MS: '60000', LEASE_RENEW_MS: '250', ...env } });
}

/** The current lease of each session names nobody (released) — none is left held by a dead process. */
async function everyLeaseReleased(): Promise<void> {
  for (let i = 0; i < sessionCount; i++) {
    const folder = join(f.dir, 'sig', `s${i}`);
    const leases = (await readdir(folder)).filter((f) => f.startsWith('lease.'));
    for (const lease of leases) expect(JSON.parse(await readFile(join(folder, lease), 'utf8')).holder, `${folder}/${lease}`).toBeNull();
  }
  expect(await readdir(join(f.dir, holdersFolderName))).toEqual([]);
}

it('SIGTERM while the service is still loading (handlers in place, nothing served yet) exits 0 at once', async () => {
  const early = boot();
  // The first lines of main install the handlers and say so; everything else (Baileys, the store) loads after.
  await waitUntil(() => early.lines.some((line) => line.includes('"msg":"wa-vigil starting"')), 20_000);
  early.child.kill('SIGTERM');
  expect(await early.exited).toBe(0);
  expect(early.lines.some((line) => line.includes('wa-vigil listening'))).toBe(false);
}, 30_000);

it('SIGTERM in the middle of restoring sessions stops cleanly: exit 0 within 10 s, nothing logged out, every lease released', async () => {
  f.sim.behaviour.loginDelayMs = 200;
  let logouts = 0;
  f.sim.on('logout', () => (logouts += 1));
  const first = boot({ MAX_CONCURRENT_CONNECTS: '1' });
  await first.url;
  await waitUntil(() => f.sim.counters.logins >= 2, 10_000);
  expect(f.sim.counters.logins).toBeLessThan(sessionCount);
  const stoppedAt = Date.now();
  first.child.kill('SIGTERM');
  expect(await first.exited).toBe(0);
  expect(Date.now() - stoppedAt).toBeLessThan(10_000);
  await waitUntil(() => f.sim.loggedIn().length === 0, 5_000);
  expect(logouts).toBe(0);
  await everyLeaseReleased();

  f.sim.behaviour.loginDelayMs = 0;
  const next = boot();
  await next.url;
  await waitUntil(() => f.sim.loggedIn().length === sessionCount, 15_000);
  next.child.kill('SIGTERM');
  expect(await next.exited).toBe(0);
}, 60_000);

it('SIGTERM to `npm start` reaches node: both exit 0 and no node is left serving', async () => {
  const npm = spawn('npm', ['start'], {
    env: { ...process.env, PORT: '0', API_KEY: testApiKey, SESSIONS_DIR: f.dir, WA_WS_URL: f.sim.url, LEASE_TTL_MS: '60000', LEASE_RENEW_MS: '250' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  npm.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const npmExited = new Promise<number | null>((resolve) => npm.once('exit', (code) => resolve(code)));
  await waitUntil(() => /wa-vigil listening on (http:\/\/[^,]+), holder [\w-]+-(\d+)-[0-9a-f]{8}/.test(output), 60_000);
  const [, url, pid] = /wa-vigil listening on (http:\/\/[^,]+), holder [\w-]+-(\d+)-[0-9a-f]{8}/.exec(output)!;
  await waitUntil(() => f.sim.loggedIn().length === sessionCount, 15_000);

  npm.kill('SIGTERM');
  expect(await npmExited).toBe(0);
  await waitUntil(() => {
    try {
      process.kill(Number(pid), 0);
      return false;
    } catch {
      return true;
    }
  }, 10_000);
  await expect(fetch(`${url}/health`)).rejects.toThrow();
  expect(output).toContain('Shutdown complete');
  await everyLeaseReleased();
}, 90_000);
