/**
 * The setup the process tests share: one simulator and one sessions/ folder per
 * test file (seeded once), service processes spawned on them, and every one of
 * those processes killed at the end — frozen ones included.
 *
 *   const f = processesPerFile((dir) => writeBaileysAuthFolder(dir, 'team', 'one', '15550001234'));
 *   it('…', async () => { const node = f.spawn(); … f.sim.loggedIn() … });
 */
import { afterAll, beforeAll } from 'vitest';
import { WaSimulator } from '../../src/sim/wa-simulator.js';
import { removeDir, tempSessionsDir } from './service-harness.js';
import { spawnService, type ServiceProcess } from '../../fixtures/service-process.js';

export interface ProcessFixture {
  readonly sim: WaSimulator;
  readonly dir: string;
  /** A service process on this file's simulator and folder (see spawnService for the defaults). */
  spawn(options?: { env?: Record<string, string>; command?: string[] }): ServiceProcess;
}

export function processesPerFile(seed: (dir: string) => Promise<unknown>): ProcessFixture {
  let sim: WaSimulator | null = null;
  let dir: string | null = null;
  const running: ServiceProcess[] = [];
  beforeAll(async () => {
    sim = await new WaSimulator().start();
    dir = await tempSessionsDir();
    await seed(dir);
  });
  afterAll(async () => {
    for (const node of running) {
      node.child.kill('SIGCONT');
      node.child.kill('SIGKILL');
    }
    await Promise.all(running.map((node) => node.exited));
    await sim?.stop();
    if (dir) await removeDir(dir);
  });
  const fixture: ProcessFixture = {
    get sim() {
      if (!sim) throw new Error('the simulator starts in beforeAll');
      return sim;
    },
    get dir() {
      if (!dir) throw new Error('the folder is made in beforeAll');
      return dir;
    },
    spawn: (options = {}) => {
      const node = spawnService({ sessionsDir: fixture.dir, waUrl: fixture.sim.url, waRootPublicKey: fixture.sim.rootPublicKeyHex, ...options });
      running.push(node);
      return node;
    },
  };
  return fixture;
}
