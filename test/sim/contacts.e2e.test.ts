/**
 * The simulator as the contacts' phones, against unmodified Baileys: messages are
 * really encrypted and decrypted with Signal, both ways, and the server and the
 * phones answer as WhatsApp does (ack, receipts, retry receipts, "not on WhatsApp").
 */
import makeWASocket, { type proto, type WAMessage, type WASocket } from '@whiskeysockets/baileys';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { routeConsoleToLogger } from '../../src/logging/console-guard.js';
import { WaSimulator } from '../../src/sim/wa-simulator.js';
import { resolveSocketOptions, toBaileysConfig } from '../../src/whatsapp/socket-options.js';
import { memoryAuth, registeredCreds } from '../../fixtures/memory-auth.js';
import { waitUntil } from '../../fixtures/wait.js';

const device = '15550004444:7@s.whatsapp.net';
let sim: WaSimulator;
let sock: WASocket;
/** What the client's getMessage answers: our own sent messages, by id alone. */
const sent = new Map<string, proto.IMessage>();
const upserts: WAMessage[] = [];
const statuses: Array<{ id: string; status: number }> = [];
const serverAcks: string[] = [];

// Both ends run libsignal in this process, and it prints whole sessions on every replacement.
let restoreConsole: () => void;
beforeAll(() => {
  restoreConsole = routeConsoleToLogger(pino({ level: 'silent' }));
});
afterAll(() => restoreConsole());

beforeEach(async () => {
  sim = await new WaSimulator().start();
  sent.clear();
  upserts.length = 0;
  statuses.length = 0;
  serverAcks.length = 0;
  sock = makeWASocket({
    ...toBaileysConfig(resolveSocketOptions({ waWebSocketUrl: sim.url, connectTimeoutMs: 5_000 })),
    auth: memoryAuth(registeredCreds('15550004444', 7)).state,
    logger: pino({ level: 'silent' }),
    getMessage: async (key) => (key.id ? sent.get(key.id) : undefined),
  });
  sock.ev.on('messages.upsert', ({ messages }) => {
    upserts.push(...messages);
    for (const m of messages) if (m.key.fromMe && m.status !== undefined && m.status !== null) statuses.push({ id: m.key.id!, status: m.status });
  });
  sock.ev.on('messages.update', (updates) => {
    for (const u of updates) if (typeof u.update.status === 'number') statuses.push({ id: u.key.id!, status: u.update.status });
  });
  sock.ws.on('CB:ack,class:message', (node: { attrs: { id: string } }) => serverAcks.push(node.attrs.id));
  await new Promise<void>((resolve, reject) => {
    sock.ev.on('connection.update', (update) => {
      if (update.connection === 'open') resolve();
      if (update.connection === 'close') reject(new Error('closed before open'));
    });
  });
});
afterEach(async () => {
  sock.end(undefined);
  await sim.stop();
});

async function send(to: string, text: string): Promise<string> {
  const message = await sock.sendMessage(to, { text }, { linkPreview: null } as never);
  sent.set(message!.key.id!, message!.message!);
  return message!.key.id!;
}

it('a device uploads pre-keys on login when the server holds none of its keys', async () => {
  await waitUntil(() => sim.messaging.contacts.keysOf(device) !== undefined);
  expect(sim.messaging.contacts.keysOf(device)!.preKeys).toHaveLength(5);
});

it('onWhatsApp: a contact is on WhatsApp, a number never added is not', async () => {
  sim.addContact({ phone: '15551111111' });
  const answer = await sock.onWhatsApp('15551111111', '15559999999');
  expect(answer).toEqual([{ jid: '15551111111@s.whatsapp.net', exists: true }]);
});

it('a text reaches the phone decrypted under the id Baileys returned; the server acks it; the phone says delivered, then read', async () => {
  const contact = sim.addContact({ phone: '15551111111', receipts: 'read' });
  const id = await send('15551111111@s.whatsapp.net', 'hello from wa-vigil');
  await waitUntil(() => contact.inbox.length === 1);
  expect(contact.inbox[0]).toMatchObject({ id, text: 'hello from wa-vigil', fromDevice: device, encType: 'pkmsg' });
  await waitUntil(() => serverAcks.includes(id));
  await waitUntil(() => statuses.some((s) => s.id === id && s.status === 4)); // READ
});

it('contacts write back: a reply on the open session, a cold pkmsg from the uploaded pre-keys, LID-addressed too', async () => {
  const alice = sim.addContact({ phone: '15551111111', pushName: 'Alice' });
  const bob = sim.addContact({ phone: '15552222222', pushName: 'Bob' });
  await send(alice.jid, 'hi alice');
  await waitUntil(() => alice.inbox.length === 1);
  await waitUntil(() => sim.messaging.contacts.keysOf(device) !== undefined);

  const reply = await sim.sendText(device, { from: alice.phone, text: 'hi back' });
  const cold = await sim.sendText(device, { from: bob.phone, text: 'first words from bob', addressing: 'lid' });
  await waitUntil(() => upserts.some((m) => m.key.id === reply) && upserts.some((m) => m.key.id === cold));
  const fromAlice = upserts.find((m) => m.key.id === reply)!;
  const fromBob = upserts.find((m) => m.key.id === cold)!;
  expect(fromAlice.message?.conversation).toBe('hi back');
  expect(fromAlice.pushName).toBe('Alice');
  expect(fromBob.message?.conversation).toBe('first words from bob');
  expect(fromBob.key.remoteJid).toBe(bob.lid);
  expect(fromBob.messageStubType ?? null).toBeNull();
});

it('a retry receipt is answered from getMessage: the phone gets a second copy of the same id and shows it once', async () => {
  const contact = sim.addContact({ phone: '15551111111', receipts: 'none' });
  const id = await send(contact.jid, 'say it again');
  await waitUntil(() => contact.inbox.length === 1);
  sim.retryReceipt(device, { from: contact.phone, id });
  await waitUntil(() => contact.inbox.length === 2, 10_000);
  expect(contact.inbox.map((m) => [m.id, m.text])).toEqual([
    [id, 'say it again'],
    [id, 'say it again'],
  ]);
  expect(contact.shownIds()).toEqual([id]);
});
