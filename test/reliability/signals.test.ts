/**
 * Signals as supervisors send them: during boot, in the middle of restoring
 * sessions, and through `npm start`. Each must end in exit 0 within 10 s,
 * with every session stopped (not logged out) and its lease released, so the
 * next process takes the sessions at once instead of waiting for the TTL.
 */
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { holdersFolderName } from '../../src/store/files/file-ownership.js';
import { writeBaileysAuthFolder } from '../../fixtures/baileys-folder.js';
import { testApiKey } from '../support/service-harness.js';
import { processesPerFile } from '../support/process-fixture.js';
import type { ServiceProcess } from '../../fixtures/service-process.js';
import { waitUntil } from '../../fixtures/wait.js';

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

/** Process groups started here: killed at the end, so a failed test leaves no service behind. */
const groups: number[] = [];
afterAll(() => {
  for (const group of groups) {
    try {
      process.kill(-group, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** `npm start` on this file's simulator and folder; `ownGroup`: as a terminal or systemd runs it, leader of its own process group. */
function npmStart(ownGroup = false) {
  const npm = spawn('npm', ['start'], {
    env: {
      ...process.env,
      PORT: '0',
      API_KEY: testApiKey,
      SESSIONS_DIR: f.dir,
      WA_WS_URL: f.sim.url,
      WA_ROOT_PUBLIC_KEY: f.sim.rootPublicKeyHex,
      LEASE_TTL_MS: '60000',
      LEASE_RENEW_MS: '250',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: ownGroup,
  });
  if (ownGroup) groups.push(npm.pid!);
  let output = '';
  npm.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => npm.once('exit', (code) => resolve(code)));
  const listening = /wa-vigil listening on (http:\/\/[^,]+), holder [\w-]+-(\d+)-[0-9a-f]{8}/;
  return {
    npm,
    exited,
    output: () => output,
    /** The API URL and node's pid, once it listens. */
    started: async () => {
      await waitUntil(() => listening.test(output), 120_000); // `prestart` builds first
      const [, url, pid] = listening.exec(output)!;
      return { url: url!, pid: Number(pid) };
    },
  };
}

async function gone(pid: number): Promise<void> {
  await waitUntil(() => {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  }, 10_000);
}

it('SIGTERM to `npm start` reaches node: both exit 0 and no node is left serving', async () => {
  const run = npmStart();
  const { url, pid } = await run.started();
  await waitUntil(() => f.sim.loggedIn().length === sessionCount, 15_000);

  run.npm.kill('SIGTERM');
  expect(await run.exited).toBe(0);
  await gone(pid);
  await expect(fetch(`${url}/health`)).rejects.toThrow();
  expect(run.output()).toContain('Shutdown complete');
  await everyLeaseReleased();
}, 180_000);

it('Ctrl-C then a stop, to the whole process group of `npm start` (a terminal, then systemd): one graceful shutdown, leases released', async () => {
  await waitUntil(() => f.sim.loggedIn().length === 0, 10_000);
  const run = npmStart(true);
  const { url, pid } = await run.started();
  await waitUntil(() => f.sim.loggedIn().length === sessionCount, 15_000);

  // Each signal reaches npm and node alike, and npm forwards its own copy to node: node hears every
  // signal twice. Whether npm's copy lands before or after node has handled the first is a race;
  // holding npm (SIGSTOP) until node has begun its shutdown makes it land after, every time.
  const group = -run.npm.pid!;
  run.npm.kill('SIGSTOP');
  process.kill(group, 'SIGINT');
  await waitUntil(() => run.output().includes('Shutting down'), 10_000);
  process.kill(group, 'SIGTERM');
  run.npm.kill('SIGCONT'); // npm now forwards the SIGINT and the SIGTERM it was holding
  expect(await run.exited).toBe(0);
  await gone(pid);
  await expect(fetch(`${url}/health`)).rejects.toThrow();
  expect(run.output()).toContain('Shutdown complete');
  expect(run.output().match(/Shutting down: stopping sessions/g)).toHaveLength(1);
  await everyLeaseReleased();

  // Released, not left to expire: the next process takes every session at once, not after the 60 s TTL.
  const takenFrom = Date.now();
  const next = boot();
  await waitUntil(() => f.sim.loggedIn().length === sessionCount, 30_000);
  expect(Date.now() - takenFrom).toBeLessThan(30_000);
  next.child.kill('SIGTERM');
  expect(await next.exited).toBe(0);
}, 240_000);
