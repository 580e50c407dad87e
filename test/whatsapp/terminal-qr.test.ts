import { expect, it } from 'vitest';
import { createTerminalQrPrinter } from '../../src/whatsapp/terminal-qr.js';

function fakeStderr(isTTY: boolean) {
  const writes: string[] = [];
  return { isTTY, writes, write: (text: string) => writes.push(text) };
}

it('draws each QR once, on a terminal', async () => {
  const stderr = fakeStderr(true);
  const draw = createTerminalQrPrinter('ann/work', stderr);
  expect(await draw('2@first-ref,key,key,key')).toBe(true);
  expect(await draw('2@first-ref,key,key,key')).toBe(false);
  expect(await draw('2@second-ref,key,key,key')).toBe(true);
  expect(stderr.writes).toHaveLength(2);
  expect(stderr.writes[0]).toContain('Scan with WhatsApp (Linked devices) for ann/work');
  expect(stderr.writes[0]).toMatch(/[▀▄█]/);
});

it('draws nothing when stderr is a pipe or a file: nobody could scan it there', async () => {
  const stderr = fakeStderr(false);
  expect(await createTerminalQrPrinter('ann/work', stderr)('2@ref,key,key,key')).toBe(false);
  expect(stderr.writes).toEqual([]);
});
