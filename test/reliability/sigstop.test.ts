/**
 * A process frozen longer than the lease TTL (SIGSTOP, a paused VM, a hung
 * disk) is replaced by another; when it wakes it must not fight: it stops the
 * sockets it can no longer prove before reading their frames, logs in nowhere
 * again, and leaves the sessions with their new owner.
 */
import { expect, it } from 'vitest';
import { writeBaileysAuthFolder } from '../../fixtures/baileys-folder.js';
import { processesPerFile } from '../support/process-fixture.js';
import { waitUntil } from '../../fixtures/wait.js';

const names = ['z0', 'z1', 'z2', 'z3'];
const f = processesPerFile(async (dir: string) => {
  for (const [i, name] of names.entries()) await writeBaileysAuthFolder(dir, 'frozen', name, `155500066${i}`, 1);
});

it('SIGSTOP past the TTL, then SIGCONT: the frozen process stops its sockets and the new owner keeps every session', async () => {
  const a = f.spawn();
  await waitUntil(() => f.sim.loggedIn().length === names.length, 10_000);
  const b = f.spawn();
  const holderB = await b.holder;

  a.child.kill('SIGSTOP');
  // B takes every session over once A's heartbeat is 1.5 s stale; WhatsApp replaces A's frozen sockets.
  await waitUntil(async () => {
    const { body } = await b.call('/sessions');
    return (body as unknown as { owner: string; state: string }[]).every((s) => s.owner === holderB && s.state === 'open');
  }, 15_000);
  const loginsBeforeWake = f.sim.counters.logins;

  a.child.kill('SIGCONT');
  // Its first act on waking: stop every socket it cannot prove (said in its log).
  await waitUntil(() => a.lines.some((line) => line.includes('Ownership not renewed')), 5_000);
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  // A logged in nowhere again, and B still has every session, logged in once each.
  expect(f.sim.counters.logins).toBe(loginsBeforeWake);
  expect(f.sim.loggedIn()).toHaveLength(names.length);
  const { body } = await b.call('/sessions');
  for (const session of body as unknown as { owner: string; state: string }[]) expect(session).toMatchObject({ owner: holderB, state: 'open' });
  const { body: seenByA } = await a.call('/sessions');
  for (const session of seenByA as unknown as { owner: string; state: string }[]) expect(session).toMatchObject({ owner: holderB, state: 'terminated' });
}, 60_000);
