/**
 * libsignal prints whole Signal session objects (private and root keys) with
 * console.info whenever a contact's session is replaced. In the real service
 * process, with a contact whose phone was reinstalled writing again, that text
 * must never reach stdout or stderr, and every line stays JSON.
 */
import { expect, it } from 'vitest';
import { writeBaileysAuthFolder } from '../../fixtures/baileys-folder.js';
import { processesPerFile } from '../support/process-fixture.js';
import { waitUntil } from '../../fixtures/wait.js';

const device = '15550001234:3@s.whatsapp.net';
const f = processesPerFile((dir) => writeBaileysAuthFolder(dir, 'team', 'one', '15550001234'));

it("a contact's reinstalled phone replaces its Signal session: no key material in the output, every line JSON", async () => {
  const service = f.spawn({ env: { LOG_FORMAT: 'json', LOG_LEVEL: 'debug' } });
  await service.url;
  await waitUntil(() => f.sim.loggedIn(device).length === 1 && f.sim.messaging.contacts.keysOf(device) !== undefined, 15_000);
  const receipts: string[] = [];
  f.sim.messaging.on('clientReceipt', (receipt: { id: string }) => receipts.push(receipt.id));
  const contact = f.sim.addContact({ phone: '15551111111' });

  const first = await f.sim.sendText(device, { from: contact.phone, text: 'before the reinstall' });
  await waitUntil(() => receipts.includes(first), 10_000);
  contact.reinstall();
  const second = await f.sim.sendText(device, { from: contact.phone, text: 'after the reinstall' });
  await waitUntil(() => receipts.includes(second), 10_000);
  await waitUntil(() => service.lines.some((line) => line.includes('Closing session')), 10_000);
  service.child.kill('SIGTERM');
  expect(await service.exited).toBe(0);

  const secretShapes = /privKey|rootKey|<Buffer|ephemeralKeyPair|chainKey/;
  expect(service.lines.filter((line) => secretShapes.test(line))).toEqual([]);
  const notJson = service.lines.filter((line) => {
    try {
      JSON.parse(line);
      return false;
    } catch {
      return true;
    }
  });
  expect(notJson).toEqual([]);
  const closing = service.lines.map((line) => JSON.parse(line) as { level: number; msg: string }).find((entry) => entry.msg.startsWith('Closing session'));
  expect(closing).toMatchObject({ level: 20, msg: 'Closing session: [1 object left out]' });
});
