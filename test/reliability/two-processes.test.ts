/**
 * R5: two service processes on one sessions/ folder never hold two sockets
 * for one session — counted at the simulator. When the first dies (SIGKILL),
 * the second can take the session over.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { WaSimulator } from '../../src/sim/wa-simulator.js';
import { writeBaileysAuthFolder } from '../support/baileys-folder.js';
import { waitUntil } from '../support/wait.js';
import { removeDir, tempSessionsDir, testApiKey } from '../support/service-harness.js';

let sim: WaSimulator;
let dir: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  sim = await new WaSimulator().start();
  dir = await tempSessionsDir();
  for (const [i, name] of ['one', 'two', 'three'].entries()) await writeBaileysAuthFolder(dir, 'team', name, `1555000770${i}`, 1);
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


it('a second process on the same sessions/ opens no second socket; it takes over after the first dies', async () => {
  const first = await startProcess();
  await waitUntil(async () => sim.loggedIn().length === 3, 8_000);
  const second = await startProcess();
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  for (const session of ['one', 'two', 'three']) {
    const res = await fetch(`${second.url}/sessions/team/${session}/start`, { method: 'POST', headers: { 'x-api-key': testApiKey } });
    expect(res.status).toBe(409);
  }
  expect(sim.counters.maxConcurrentLoginsPerDevice).toBe(1);
  expect(sim.counters.logins).toBe(3);

  first.child.kill('SIGKILL');
  await waitUntil(async () => sim.loggedIn().length === 0, 8_000);
  for (const session of ['one', 'two', 'three']) {
    const res = await fetch(`${second.url}/sessions/team/${session}/start`, { method: 'POST', headers: { 'x-api-key': testApiKey } });
    expect(res.status).toBe(202);
  }
  await waitUntil(async () => (await state(second.url, 'three')).state === 'open', 8_000);
  expect(sim.loggedIn()).toHaveLength(3);
  expect(sim.counters.maxConcurrentLoginsPerDevice).toBe(1);
}, 60_000);

it('SIGTERM stops every session without logging out and exits 0 within 10 s; the next start restores them', async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  await waitUntil(async () => sim.loggedIn().length === 0, 8_000);
  const service = await startProcess();
  await waitUntil(async () => sim.loggedIn().length === 3, 8_000);
  let logouts = 0;
  sim.on('logout', () => (logouts += 1));
  // An open event stream (an inspector tab, a curl -N) must not hold the shutdown up.
  const stream = await fetch(`${service.url}/sessions/team/one/events`, { headers: { 'x-api-key': testApiKey } });
  expect(stream.status).toBe(200);
  const startedAt = Date.now();
  const exited = new Promise<number | null>((resolve) => service.child.once('exit', (code) => resolve(code)));
  service.child.kill('SIGTERM');
  expect(await exited).toBe(0);
  expect(Date.now() - startedAt).toBeLessThan(10_000);
  await waitUntil(async () => sim.loggedIn().length === 0, 8_000);
  expect(logouts).toBe(0);

  const again = await startProcess();
  await waitUntil(async () => sim.loggedIn().length === 3, 8_000);
  expect((await state(again.url, 'one')).state).toBe('open');
}, 60_000);
