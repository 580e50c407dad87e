import { afterEach, beforeEach, expect, it } from 'vitest';
import { startControlServer } from '../../src/sim/control-server.js';
import { WaSimulator } from '../../src/sim/wa-simulator.js';
import { memoryAuth, registeredCreds } from '../support/memory-auth.js';
import { startLiveSession } from '../support/live-session.js';

let sim: WaSimulator;
let control: Awaited<ReturnType<typeof startControlServer>>;

beforeEach(async () => {
  sim = await new WaSimulator().start();
  control = await startControlServer(sim);
});
afterEach(async () => {
  control.server.close();
  await sim.stop();
});

const call = (method: string, path: string, body?: unknown) =>
  fetch(control.url + path, { method, body: body === undefined ? undefined : JSON.stringify(body) });

it('drives faults from outside the process: a close over HTTP sends the session to backingOff', async () => {
  const s = startLiveSession({ sim, auth: memoryAuth(registeredCreds()) });
  await s.reach('open');
  const state = (await (await call('GET', '/state')).json()) as { connections: { phase: string }[] };
  expect(state.connections).toMatchObject([{ phase: 'loggedIn' }]);

  const res = await call('POST', '/faults/close');
  expect(await res.json()).toEqual({ affected: 1 });
  await s.reach('backingOff');
  expect(s.context.lastDisconnect?.statusCode).toBe(428);
  s.actor.stop();
});

it('refuses unknown faults, bad bodies and unknown behaviour fields with a message naming them', async () => {
  expect((await call('POST', '/faults/meteor')).status).toBe(404);
  const badCode = await call('POST', '/faults/failure', { code: 'x' });
  expect(badCode.status).toBe(400);
  expect(((await badCode.json()) as { message: string }).message).toContain('code');
  const badJson = await fetch(control.url + '/scan', { method: 'POST', body: '{nope' });
  expect(badJson.status).toBe(400);
  const badField = await call('PUT', '/behaviour', { warpDrive: true });
  expect(((await badField.json()) as { message: string }).message).toContain('warpDrive');
  expect((await call('PUT', '/behaviour', { loginDelayMs: 5 })).status).toBe(200);
  expect(sim.behaviour.loginDelayMs).toBe(5);
});
