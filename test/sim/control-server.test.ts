import { afterEach, beforeEach, expect, it } from 'vitest';
import { startControlServer } from '../../src/sim/control-server.js';
import { WaSimulator } from '../../src/sim/wa-simulator.js';
import { memoryAuth, registeredCreds } from '../../fixtures/memory-auth.js';
import { startLiveSession } from '../support/live-session.js';
import { waitUntil } from '../../fixtures/wait.js';

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

it('scripts the contacts: one joins, sends a text the device decrypts (its receipt comes back), bad input is named', async () => {
  const device = '15550004444:7@s.whatsapp.net';
  const s = startLiveSession({ sim, auth: memoryAuth(registeredCreds('15550004444', 7)) });
  await s.reach('open');
  const joined = await call('POST', '/contacts', { phone: '15551111111', pushName: 'Alice', receipts: 'delivered' });
  expect(await joined.json()).toMatchObject({ phone: '15551111111', jid: '15551111111@s.whatsapp.net', receipts: 'delivered', shown: 0 });

  const receipts: string[] = [];
  sim.messaging.on('clientReceipt', (receipt: { id: string }) => receipts.push(receipt.id));
  await waitUntil(() => sim.messaging.contacts.keysOf(device) !== undefined);
  const sent = await call('POST', '/contacts/15551111111/messages', { to: device, text: 'hello device' });
  expect(sent.status).toBe(200);
  const { id } = (await sent.json()) as { id: string };
  expect(id).toMatch(/^[0-9A-F]{16,32}$/);
  await waitUntil(() => receipts.includes(id));

  const badMode = await call('POST', '/contacts', { phone: '15552222222', receipts: 'sometimes' });
  expect(badMode.status).toBe(400);
  expect(((await badMode.json()) as { message: string }).message).toContain('receipts');
  expect((await call('POST', '/contacts/15553333333/messages', { to: device, text: 'x' })).status).toBe(404);
  expect((await call('POST', '/contacts/15551111111/messages', { to: '15550009999:1@s.whatsapp.net', text: 'x' })).status).toBe(409);
  s.actor.stop();
});
