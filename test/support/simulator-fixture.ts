/**
 * The setup most service tests share: a fresh simulator and a temp sessions/
 * folder for each test, and whatever the test started stopped after it.
 *
 *   const t = simulatorPerTest();
 *   it('…', async () => { const api = await startTestService({ sim: t.sim, sessionsDir: t.dir }); t.stopAfter(() => api.service.stop()); … });
 */
import { afterEach, beforeEach } from 'vitest';
import { WaSimulator } from '../../src/sim/wa-simulator.js';
import { removeDir, tempSessionsDir } from './service-harness.js';

export interface SimulatorFixture {
  readonly sim: WaSimulator;
  readonly dir: string;
  /** Runs `stop` after the test, before the simulator goes. */
  stopAfter(stop: () => Promise<void>): void;
}

export function simulatorPerTest(): SimulatorFixture {
  let sim: WaSimulator | null = null;
  let dir: string | null = null;
  let stops: Array<() => Promise<void>> = [];
  beforeEach(async () => {
    sim = await new WaSimulator().start();
    dir = await tempSessionsDir();
  });
  afterEach(async () => {
    for (const stop of stops.reverse()) await stop();
    stops = [];
    await sim?.stop();
    if (dir) await removeDir(dir);
  });
  return {
    get sim() {
      if (!sim) throw new Error('the simulator starts in beforeEach');
      return sim;
    },
    get dir() {
      if (!dir) throw new Error('the folder is made in beforeEach');
      return dir;
    },
    stopAfter: (stop) => void stops.push(stop),
  };
}
