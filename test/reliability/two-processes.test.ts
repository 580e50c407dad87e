/**
 * R5: two service processes on one sessions/ folder never hold two sockets
 * for one session — counted at the simulator. When the first dies (SIGKILL),
 * the second can take the session over.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { useMultiFileAuthState } from '@whiskeysockets/baileys';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { WaSimulator } from '../../src/sim/wa-simulator.js';
import { registeredCreds } from '../support/memory-auth.js';
import { removeDir, tempSessionsDir, testApiKey } from '../support/service-harness.js';

let sim: WaSimulator;
let dir: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  sim = await new WaSimulator().start();
  dir = await tempSessionsDir();
  for (const name of ['one', 'two', 'three']) {
    const folder = join(dir, 'team', name);
    await mkdir(folder, { recursive: true });
    const { state, saveCreds } = await useMultiFileAuthState(folder);
    state.creds.me = registeredCreds(`1555000${name.length}${name.charCodeAt(0)}`, 1).me;
    await saveCreds();
  }
});
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await sim.stop();
  await removeDir(dir);
});

/** Starts `src/main.ts` as its own process; resolves with its API URL. */
function startProcess(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, PORT: '0', API_KEY: testApiKey, SESSIONS_DIR: dir, WA_WS_URL: sim.url, LOG_LEVEL: 'info', RECONNECT_DELAYS_MS: '100' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const match = /wa-vigil listening on (http:\/\/[^,]+),/.exec(line);
      if (match) resolve({ child, url: match[1]! });
    });
    child.once('exit', (code) => reject(new Error(`service exited with ${code}`)));
  });
}

async function state(url: string, session: string): Promise<{ status: number; state?: string }> {
  const res = await fetch(`${url}/sessions/team/${session}`, { headers: { 'x-api-key': testApiKey } });
  return { status: res.status, ...((await res.json()) as { state?: string }) };
}

async function until(check: () => Promise<boolean>, timeoutMs = 8_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

it('a second process on the same sessions/ opens no second socket; it takes over after the first dies', async () => {
  const first = await startProcess();
  await until(async () => sim.loggedIn().length === 3);
  const second = await startProcess();
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  for (const session of ['one', 'two', 'three']) {
    const res = await fetch(`${second.url}/sessions/team/${session}/start`, { method: 'POST', headers: { 'x-api-key': testApiKey } });
    expect(res.status).toBe(409);
  }
  expect(sim.counters.maxConcurrentLoginsPerDevice).toBe(1);
  expect(sim.counters.logins).toBe(3);

  first.child.kill('SIGKILL');
  await until(async () => sim.loggedIn().length === 0);
  for (const session of ['one', 'two', 'three']) {
    const res = await fetch(`${second.url}/sessions/team/${session}/start`, { method: 'POST', headers: { 'x-api-key': testApiKey } });
    expect(res.status).toBe(202);
  }
  await until(async () => (await state(second.url, 'three')).state === 'open');
  expect(sim.loggedIn()).toHaveLength(3);
  expect(sim.counters.maxConcurrentLoginsPerDevice).toBe(1);
}, 60_000);

it('SIGTERM stops every session without logging out and exits 0 within 10 s; the next start restores them', async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  await until(async () => sim.loggedIn().length === 0);
  const service = await startProcess();
  await until(async () => sim.loggedIn().length === 3);
  let logouts = 0;
  sim.on('logout', () => (logouts += 1));
  const startedAt = Date.now();
  const exited = new Promise<number | null>((resolve) => service.child.once('exit', (code) => resolve(code)));
  service.child.kill('SIGTERM');
  expect(await exited).toBe(0);
  expect(Date.now() - startedAt).toBeLessThan(10_000);
  await until(async () => sim.loggedIn().length === 0);
  expect(logouts).toBe(0);

  const again = await startProcess();
  await until(async () => sim.loggedIn().length === 3);
  expect((await state(again.url, 'one')).state).toBe('open');
}, 60_000);
