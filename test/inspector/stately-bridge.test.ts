import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { pino } from 'pino';
import { WebSocketServer } from 'ws';
import { createActor } from 'xstate';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { sessionMachine } from '../../machines/session.machine.js';
import { createStatelyBridge } from '../../src/inspector/stately-bridge.js';
import { WaSimulator } from '../../src/sim/wa-simulator.js';
import { createFakeConnection } from '../support/fake-connection.js';
import { removeDir, startTestService, tempSessionsDir } from '../support/service-harness.js';

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

it('with INSPECT_WS_URL set, a Stately receiver sees every session actor, without QR text', async () => {
  const receiver = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(receiver, 'listening');
  const messages: string[] = [];
  receiver.on('connection', (socket) => socket.on('message', (data) => messages.push(String(data))));
  const url = `ws://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

  const app = await startTestService({ sim, sessionsDir: dir, env: { INSPECT_WS_URL: url } });
  await app.call('POST', '/sessions', { userId: 'zoe' });
  await app.waitForState('zoe', 'default', 'connecting.awaitingQr');
  const qr = (await app.call('GET', '/sessions/zoe/default/qr?format=raw')).body.qr as unknown as string;
  await expect.poll(() => messages.some((m) => m.includes('"@xstate.snapshot"') && m.includes('awaitingQr')), { timeout: 5_000 }).toBe(true);
  expect(messages.some((m) => m.includes('"@xstate.event"') && m.includes('CONNECTION.QR'))).toBe(true);
  for (const message of messages) expect(message).not.toContain(qr.split('#')[1]!.split(',')[0]);
  // The session actor is listed under its session's name, not XState's `x:0`.
  const actorNames = messages.map((m) => JSON.parse(m) as { type: string; name?: string }).filter((m) => m.type === '@xstate.actor').map((m) => m.name);
  expect(actorNames).toContain('zoe/default');
  expect(actorNames.filter((name) => name?.startsWith('x:'))).toEqual([]);

  await app.service.stop();
  receiver.close();
});

it('a missing receiver costs a bounded number of attempts and never breaks the session', async () => {
  let connections = 0;
  const refusing = createServer((socket) => {
    connections += 1;
    socket.destroy();
  });
  refusing.listen(0, '127.0.0.1');
  await once(refusing, 'listening');
  const bridge = createStatelyBridge({
    url: `ws://127.0.0.1:${(refusing.address() as AddressInfo).port}`,
    logger: pino({ level: 'silent' }),
    maxConnectAttempts: 3,
    retryDelayMs: 20,
    maxBufferedEvents: 5,
  });
  const connection = createFakeConnection();
  const actor = createActor(sessionMachine.provide({ actors: { connection: connection.logic } }), {
    input: { userId: 'u', sessionId: 's' },
    inspect: (event) => bridge.inspect(event),
  });
  actor.start();
  for (let i = 0; i < 50; i++) {
    connection.current.emit({ type: 'CONNECTION.OPEN' });
    connection.current.emit({ type: 'CONNECTION.CLOSED', statusCode: 515 });
    connection.current.emit({ type: 'CONNECTION.OPEN' });
  }
  await new Promise((resolve) => setTimeout(resolve, 400));
  expect(connections).toBe(3);
  expect(bridge.connectAttempts).toBe(3);
  expect(actor.getSnapshot().value).toEqual({ open: 'settling' });
  bridge.stop();
  actor.stop();
  refusing.close();
});
