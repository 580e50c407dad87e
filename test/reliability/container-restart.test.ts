/**
 * A container restart: the service runs as pid 1 of its own pid namespace (as
 * every container runtime starts it), is SIGKILLed, and starts again — as pid 1
 * again. Ownership must not hang on the pid: the new process is a new holder,
 * the dead one's heartbeat goes stale, and every session comes back within the
 * lease TTL, each logged in once.
 */
import { spawnSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { writeBaileysAuthFolder } from '../../fixtures/baileys-folder.js';
import { processesPerFile } from '../support/process-fixture.js';
import { serviceCommand, type ServiceProcess } from '../../fixtures/service-process.js';
import { waitUntil } from '../../fixtures/wait.js';

const namespace = ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child'];
const inNamespace = spawnSync(namespace[0]!, [...namespace.slice(1), 'true']).status === 0;
if (!inNamespace) console.warn('container-restart: unshare --pid is not available here; running without a pid namespace');

const f = processesPerFile(async (dir: string) => {
  for (const name of ['a', 'b', 'c']) await writeBaileysAuthFolder(dir, 'box', name, `1555000880${name.charCodeAt(0) - 97}`, 2);
});

function boot(): ServiceProcess {
  return f.spawn(inNamespace ? { command: [...namespace, ...serviceCommand] } : {});
}

it('SIGKILL as pid 1, start again as pid 1: every session is restored within the lease TTL, logged in once each', async () => {
  const first = boot();
  const firstHolder = await first.holder;
  if (inNamespace) expect(firstHolder).toMatch(/-1-[0-9a-f]{8}$/);
  await waitUntil(() => f.sim.loggedIn().length === 3, 10_000);

  first.child.kill('SIGKILL');
  await first.exited;
  await waitUntil(() => f.sim.loggedIn().length === 0, 5_000);

  const second = boot();
  const secondHolder = await second.holder;
  if (inNamespace) expect(secondHolder).toMatch(/-1-[0-9a-f]{8}$/);
  expect(secondHolder).not.toBe(firstHolder);
  const restartedAt = Date.now();
  const allOpen = async () => {
    for (const name of ['a', 'b', 'c']) if ((await second.call(`/sessions/box/${name}`)).body.state !== 'open') return false;
    return true;
  };
  await waitUntil(allOpen, 10_000);
  // TTL 1.5 s + renew 0.25 s + a reconnect; generous for a loaded machine.
  expect(Date.now() - restartedAt).toBeLessThan(8_000);
  for (const name of ['a', 'b', 'c']) expect((await second.call(`/sessions/box/${name}`)).body).toMatchObject({ state: 'open', owner: secondHolder });
  expect(f.sim.loggedIn()).toHaveLength(3);
  expect(f.sim.counters.logins).toBe(6);
  expect(f.sim.counters.maxConcurrentLoginsPerDevice).toBe(1);
}, 40_000);
