import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { WaSimulator } from '../../src/sim/wa-simulator.js';
import { writeBaileysAuthFolder } from '../support/baileys-folder.js';
import { removeDir, startTestService, tempSessionsDir } from '../support/service-harness.js';

let sim: WaSimulator;
let dir: string;
const services: Awaited<ReturnType<typeof startTestService>>[] = [];

beforeEach(async () => {
  sim = await new WaSimulator().start();
  dir = await tempSessionsDir();
});
afterEach(async () => {
  for (const s of services.splice(0)) await s.service.stop();
  await sim.stop();
  await removeDir(dir);
});

const registeredFolder = (userId: string, sessionId: string) => writeBaileysAuthFolder(dir, userId, sessionId, '15550001212', 4);

it('a second service on the same sessions/ never opens a second socket for a locked session', async () => {
  await registeredFolder('lee', 'main');
  const first = await startTestService({ sim, sessionsDir: dir });
  services.push(first);
  await first.waitForState('lee', 'main', 'open');

  const second = await startTestService({ sim, sessionsDir: dir });
  services.push(second);
  await new Promise((resolve) => setTimeout(resolve, 500));
  const started = await second.call('POST', '/sessions/lee/main/start');
  expect(started.status).toBe(409);
  expect(started.body.message).toContain('held by process');

  expect(sim.counters.logins).toBe(1);
  expect(sim.counters.maxConcurrentLoginsPerDevice).toBe(1);
  expect((await first.call('GET', '/sessions/lee/main')).body.state).toBe('open');
});

it('a lock left by a dead process is taken over', async () => {
  const folder = await registeredFolder('max', 'main');
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  await writeFile(join(folder, '.lock'), JSON.stringify({ pid: Number(dead.stdout.toString()), since: new Date().toISOString() }));
  const service = await startTestService({ sim, sessionsDir: dir });
  services.push(service);
  await service.waitForState('max', 'main', 'open');
});

it('five concurrent start requests make one actor and one socket', async () => {
  await registeredFolder('ned', 'main');
  const service = await startTestService({ sim, sessionsDir: dir });
  services.push(service);
  await service.waitForState('ned', 'main', 'open');
  await service.call('POST', '/sessions/ned/main/stop');
  await service.waitForState('ned', 'main', 'terminated');
  const answers = await Promise.all(Array.from({ length: 5 }, () => service.call('POST', '/sessions/ned/main/start')));
  expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 202, 202]);
  await service.waitForState('ned', 'main', 'open');
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(sim.loggedIn()).toHaveLength(1);
  expect(sim.counters.maxConcurrentLoginsPerDevice).toBe(1);
  expect(sim.counters.logins).toBe(2);
});

it('five concurrent creates of one id: one 201, four 409, one socket', async () => {
  const service = await startTestService({ sim, sessionsDir: dir });
  services.push(service);
  const answers = await Promise.all(Array.from({ length: 5 }, () => service.call('POST', '/sessions', { userId: 'olga' })));
  expect(answers.map((a) => a.status).sort()).toEqual([201, 409, 409, 409, 409]);
  await service.waitForState('olga', 'default', 'connecting.awaitingQr');
  expect(sim.openConnections).toHaveLength(1);
});
