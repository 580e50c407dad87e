/**
 * Messages through the real service, with the simulator playing WhatsApp and the
 * contacts' phones (real Signal crypto): a text reaches the phone under the id
 * the API returned, its status follows the server's ack and the phone's
 * receipts, an id sent twice is sent once, a number not on WhatsApp fails
 * clearly, a contact's text becomes one message.received event, and a retry
 * receipt is answered from the store after a restart.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { routeConsoleToLogger } from '../../src/logging/console-guard.js';
import { writeBaileysAuthFolder } from '../../fixtures/baileys-folder.js';
import { startTestService } from '../support/service-harness.js';
import { simulatorPerTest } from '../support/simulator-fixture.js';
import { waitUntil } from '../../fixtures/wait.js';
import { Receiver } from '../webhooks/support/receiver.js';

const device = '15550001234:3@s.whatsapp.net';
const t = simulatorPerTest();
// The contacts' phones run libsignal in this process, and it prints whole sessions on every replacement.
let restoreConsole: () => void;
beforeAll(() => {
  restoreConsole = routeConsoleToLogger(pino({ level: 'silent' }));
});
afterAll(() => restoreConsole());

async function pairedService(env: Record<string, string> = {}) {
  await writeBaileysAuthFolder(t.dir, 'shop', 'main', '15550001234');
  const api = await startTestService({ sim: t.sim, sessionsDir: t.dir, env });
  t.stopAfter(() => api.service.stop());
  await api.waitForState('shop', 'main', 'open', 10_000);
  await waitUntil(() => t.sim.messaging.contacts.keysOf(device) !== undefined, 10_000);
  return api;
}

it('a text reaches the phone under the returned id; sent, delivered and read follow; the same id again sends nothing', async () => {
  const api = await pairedService();
  const contact = t.sim.addContact({ phone: '15551111111', receipts: 'read' });
  const accepted = await api.call('POST', '/sessions/shop/main/messages', { to: '+15551111111', text: 'your order shipped', id: '3EB0AAAABBBBCCCC0001' });
  expect(accepted.status).toBe(202);
  expect(accepted.body).toMatchObject({ id: '3EB0AAAABBBBCCCC0001', to: '15551111111@s.whatsapp.net', status: 'queued' });

  await waitUntil(() => contact.inbox.length === 1, 10_000);
  expect(contact.inbox[0]).toMatchObject({ id: '3EB0AAAABBBBCCCC0001', text: 'your order shipped' });
  let message = accepted.body;
  await waitUntil(async () => (message = (await api.call('GET', '/sessions/shop/main/messages/3EB0AAAABBBBCCCC0001')).body).status === 'read', 10_000);
  expect(message).toMatchObject({ status: 'read', attempts: 1 });
  expect(typeof message.sentAt).toBe('string');
  expect(typeof message.readAt).toBe('string');

  const again = await api.call('POST', '/sessions/shop/main/messages', { to: '+15551111111', text: 'your order shipped', id: '3EB0AAAABBBBCCCC0001' });
  expect(again.status).toBe(200);
  expect(again.body).toMatchObject({ id: '3EB0AAAABBBBCCCC0001', status: 'read' });
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(contact.inbox).toHaveLength(1);

  const made = await api.call('POST', '/sessions/shop/main/messages', { to: '15551111111', text: 'no id given' });
  expect(made.status).toBe(202);
  expect(made.body.id).toMatch(/^[0-9A-F]{16,32}$/);
  await waitUntil(() => contact.shownIds().includes(made.body.id as string), 10_000);
  const queue = await api.call('GET', '/sessions/shop/main/messages?status=queued');
  expect(queue.status).toBe(200);
});

it('a number not on WhatsApp fails with not_on_whatsapp; bad input is named; a stopped session refuses', async () => {
  const api = await pairedService();
  const accepted = await api.call('POST', '/sessions/shop/main/messages', { to: '15559999999', text: 'hello?' });
  expect(accepted.status).toBe(202);
  let status = accepted.body;
  await waitUntil(async () => (status = (await api.call('GET', `/sessions/shop/main/messages/${accepted.body.id}`)).body).status === 'failed', 10_000);
  expect(status).toMatchObject({ status: 'failed', error: 'not_on_whatsapp' });

  const badTo = await api.call('POST', '/sessions/shop/main/messages', { to: 'bob', text: 'x' });
  expect(badTo.status).toBe(400);
  expect(badTo.body.message).toContain('body.to');
  const badId = await api.call('POST', '/sessions/shop/main/messages', { to: '15551111111', text: 'x', id: 'lower-case-id' });
  expect(badId.status).toBe(400);
  expect(badId.body.message).toContain('id');
  expect((await api.call('GET', '/sessions/shop/main/messages/3EB0FFFFFFFFFFFFFFFF')).status).toBe(404);

  const checked = await api.call('POST', '/sessions/shop/main/contacts/check', { numbers: ['15559999999', '+15551111111'] });
  expect(checked.status).toBe(200);
  expect(checked.body).toEqual([
    { number: '15559999999', onWhatsApp: false, jid: null, lid: null },
    { number: '+15551111111', onWhatsApp: false, jid: null, lid: null },
  ]);
  t.sim.addContact({ phone: '15552222222' });
  const known = await api.call('POST', '/sessions/shop/main/contacts/check', { numbers: ['15552222222'] });
  expect(known.body).toEqual([{ number: '15552222222', onWhatsApp: true, jid: '15552222222@s.whatsapp.net', lid: t.sim.contact('15552222222')!.lid }]);

  await api.call('POST', '/sessions/shop/main/stop');
  const refused = await api.call('POST', '/sessions/shop/main/messages', { to: '15551111111', text: 'x' });
  expect(refused.status).toBe(409);
  expect(refused.body.error).toBe('session_not_running');
});

it("a contact's text is one message.received event: not the undecryptable first copy, not a second delivery of the same id", async () => {
  const receiver = await new Receiver().start();
  t.stopAfter(() => receiver.stop());
  const api = await pairedService();
  const added = await api.call('POST', '/webhooks', { url: receiver.url, secret: 'a-secret-of-16-chars', events: ['message.received'] });
  expect(added.status).toBe(201);
  const contact = t.sim.addContact({ phone: '15553333333', pushName: 'Carol' });
  const retries: string[] = [];
  t.sim.messaging.on('clientReceipt', (receipt: { id: string; type: string }) => receipt.type === 'retry' && retries.push(receipt.id));
  const id = await t.sim.sendText(device, { from: contact.phone, text: 'is it in stock?', corrupt: true });
  await waitUntil(() => retries.includes(id), 10_000);
  await t.sim.sendText(device, { from: contact.phone, text: 'is it in stock?', id });
  await t.sim.sendText(device, { from: contact.phone, text: 'is it in stock?', id });
  await waitUntil(() => receiver.received.length >= 1, 10_000);
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(receiver.received.map((r) => r.event.type)).toEqual(['message.received']);
  expect(receiver.received[0]!.event.payload).toMatchObject({
    id,
    chat: contact.jid,
    from: contact.jid,
    pushName: 'Carol',
    type: 'text',
    text: 'is it in stock?',
  });
});

it('a retry receipt after a restart is answered from the store: the phone gets the same message again', async () => {
  const api = await pairedService();
  const contact = t.sim.addContact({ phone: '15551111111', receipts: 'none' });
  const accepted = await api.call('POST', '/sessions/shop/main/messages', { to: '15551111111', text: 'keep this safe' });
  await waitUntil(() => contact.inbox.length === 1, 10_000);
  await api.service.stop();

  const again = await startTestService({ sim: t.sim, sessionsDir: t.dir });
  t.stopAfter(() => again.service.stop());
  await again.waitForState('shop', 'main', 'open', 10_000);
  t.sim.retryReceipt(device, { from: contact.phone, id: accepted.body.id as string });
  await waitUntil(() => contact.inbox.length === 2, 10_000);
  expect(contact.inbox.map((m) => [m.id, m.text])).toEqual([
    [accepted.body.id, 'keep this safe'],
    [accepted.body.id, 'keep this safe'],
  ]);
  expect(contact.shownIds()).toEqual([accepted.body.id]);
});

it('a send the server never acknowledges makes the session probe its link at once; once acks flow again it is sent, shown once', async () => {
  const api = await pairedService({ MESSAGE_ACK_TIMEOUT_MS: '400' });
  const contact = t.sim.addContact({ phone: '15554444444', receipts: 'none' });
  const pingsBefore = t.sim.loggedIn(device)[0]!.counters.pingsAnswered;
  t.sim.messaging.ackMessages = false;
  const accepted = await api.call('POST', '/sessions/shop/main/messages', { to: '15554444444', text: 'anyone there?' });
  await waitUntil(() => contact.inbox.length >= 1, 10_000);
  await waitUntil(() => api.logs.text.includes('was not acknowledged'), 10_000);
  // The probe is sent as the line is logged; the simulator answers it a moment later.
  await waitUntil(() => t.sim.loggedIn(device)[0]!.counters.pingsAnswered > pingsBefore, 5_000);
  expect((await api.call('GET', `/sessions/shop/main/messages/${accepted.body.id}`)).body.status).toBe('queued');

  t.sim.messaging.ackMessages = true;
  await waitUntil(async () => (await api.call('GET', `/sessions/shop/main/messages/${accepted.body.id}`)).body.status === 'sent', 10_000);
  expect(contact.shownIds()).toEqual([accepted.body.id]);
  expect(contact.inbox.every((m) => m.id === accepted.body.id && m.text === 'anyone there?')).toBe(true);
});
