/**
 * The whole service stopping while its lease renew hangs (a database or disk that
 * stopped answering): the renew is not waited for before the sessions stop, so the
 * sockets close, writes are flushed, the lease is released and the stop ends quickly.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { WaSimulator } from '../../src/sim/wa-simulator.js';
import { writeBaileysAuthFolder } from '../../fixtures/baileys-folder.js';
import { removeDir, startTestService, tempSessionsDir } from '../support/service-harness.js';
import { waitUntil } from '../../fixtures/wait.js';

let sim: WaSimulator;
let dir: string;

beforeEach(async () => {
  sim = await new WaSimulator().start();
  dir = await tempSessionsDir();
});
afterEach(async () => {
  await sim.stop();
  await removeDir(dir);
});

it('stop() while a renew hangs: the socket closes and the lease is released within a few seconds', async () => {
  const folder = await writeBaileysAuthFolder(dir, 'rita', 'main', '15550007101');
  // A long TTL: the self-fence stays out of this test, which is about the stop path alone.
  const api = await startTestService({ sim, sessionsDir: dir, env: { LEASE_TTL_MS: '20000', LEASE_RENEW_MS: '250' } });
  await api.waitForState('rita', 'main', 'open');
  const ownership = api.service.registry.ownership;
  let hung = 0;
  ownership.renew = () => {
    hung += 1;
    return new Promise(() => undefined);
  };
  await waitUntil(() => hung > 0, 3_000);

  const startedAt = performance.now();
  await api.service.stop();
  expect(performance.now() - startedAt).toBeLessThan(5_000);
  await waitUntil(() => sim.openConnections.length === 0, 3_000);
  const leases = (await readdir(folder)).filter((f) => /^lease\.\d+$/.test(f));
  expect(leases).toHaveLength(1);
  expect(JSON.parse(await readFile(join(folder, leases[0]!), 'utf8')).holder).toBeNull();
}, 30_000);
