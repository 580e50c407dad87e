/**
 * Two real service processes on one sessions/ folder: booted at the same
 * moment, each session is owned by exactly one of them and logged in once; the
 * other refuses to change what it does not own; when an owner dies (SIGKILL)
 * the survivor takes its sessions over within the lease TTL; a SIGTERM exits 0
 * within 10 s and hands its sessions over at once.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { writeBaileysAuthFolder } from '../../fixtures/baileys-folder.js';
import { processesPerFile } from '../support/process-fixture.js';
import type { ServiceProcess } from '../../fixtures/service-process.js';
import { waitUntil } from '../../fixtures/wait.js';

const names = ['s0', 's1', 's2', 's3', 's4', 's5'];
const f = processesPerFile(async (dir: string) => {
  for (const [i, name] of names.entries()) await writeBaileysAuthFolder(dir, 'team', name, `155500077${i}`, 1);
});

function start(env: Record<string, string> = {}): ServiceProcess {
  return f.spawn({ env });
}

async function owners(service: ServiceProcess): Promise<Map<string, string | null>> {
  const { body } = await service.call('/sessions');
  return new Map((body as unknown as { sessionId: string; owner: string | null }[]).map((s) => [s.sessionId, s.owner]));
}

let a: ServiceProcess;
let b: ServiceProcess;

it('two processes booted at once own each session exactly once: one login per account, never two', async () => {
  [a, b] = [start(), start()];
  const [holderA, holderB] = await Promise.all([a.holder, b.holder]);
  await waitUntil(() => f.sim.loggedIn().length === names.length, 10_000);
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(f.sim.counters.logins).toBe(names.length);
  expect(f.sim.counters.maxConcurrentLoginsPerDevice).toBe(1);
  await waitUntil(async () => [...(await owners(b)).values()].every((o) => o !== null), 3_000);
  const [seenByA, seenByB] = [await owners(a), await owners(b)];
  for (const name of names) {
    expect([holderA, holderB]).toContain(seenByA.get(name));
    expect(seenByB.get(name)).toBe(seenByA.get(name));
  }
}, 30_000);

it('the process that does not own a session refuses to stop, log out, restart or delete it (409 naming the owner), and nothing changes', async () => {
  const holderA = await a.holder;
  const ownersNow = await owners(a);
  const foreign = names.find((n) => ownersNow.get(n) !== holderA);
  const [caller, owner] = foreign ? [a, ownersNow.get(foreign)!] : [b, holderA];
  const target = foreign ?? names[0]!;
  const credsBefore = await readFile(join(f.dir, 'team', target, 'creds.json'), 'utf8');
  for (const [path, method] of [
    [`/sessions/team/${target}/logout`, 'POST'],
    [`/sessions/team/${target}`, 'DELETE'],
    [`/sessions/team/${target}/stop`, 'POST'],
    [`/sessions/team/${target}/restart`, 'POST'],
  ] as const) {
    const answer = await caller.call(path, method);
    expect(answer.status, `${method} ${path}`).toBe(409);
    expect(answer.body).toMatchObject({ error: 'owned_elsewhere', owner });
  }
  expect(await readFile(join(f.dir, 'team', target, 'creds.json'), 'utf8')).toBe(credsBefore);
  expect(f.sim.loggedIn()).toHaveLength(names.length);
  expect(f.sim.counters.logins).toBe(names.length);
}, 30_000);

it('when one process is SIGKILLed, the other takes every one of its sessions over within the lease TTL', async () => {
  a.child.kill('SIGKILL');
  await a.exited;
  const holderB = await b.holder;
  const killedAt = Date.now();
  await waitUntil(async () => [...(await owners(b)).values()].every((o) => o === holderB), 10_000);
  await waitUntil(() => f.sim.loggedIn().length === names.length, 10_000);
  // TTL 1.5 s + renew 0.25 s + a reconnect, with a wide margin for a busy machine.
  expect(Date.now() - killedAt).toBeLessThan(8_000);
  expect(f.sim.counters.maxConcurrentLoginsPerDevice).toBe(1);
}, 30_000);

it('SIGTERM exits 0 within 10 s without logging out, and hands every session over at once, not after the TTL', async () => {
  let logouts = 0;
  f.sim.on('logout', () => (logouts += 1));
  // A long TTL: only a clean release can explain a fast handover.
  const c = start({ LEASE_TTL_MS: '60000', LEASE_RENEW_MS: '250' });
  await c.url;
  const stoppedAt = Date.now();
  b.child.kill('SIGTERM');
  expect(await b.exited).toBe(0);
  expect(Date.now() - stoppedAt).toBeLessThan(10_000);
  const holderC = await c.holder;
  await waitUntil(async () => [...(await owners(c)).values()].every((o) => o === holderC), 5_000);
  await waitUntil(() => f.sim.loggedIn().length === names.length, 8_000);
  expect(logouts).toBe(0);
  expect(f.sim.counters.maxConcurrentLoginsPerDevice).toBe(1);
}, 30_000);
