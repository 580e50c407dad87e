import { expect, it } from 'vitest';
import type { WAMessage } from '@whiskeysockets/baileys';
import { RecentMessageStore } from '../../src/whatsapp/message-store.js';

const message = (id: string, text: string): WAMessage => ({ key: { remoteJid: '1555@s.whatsapp.net', id, fromMe: true }, message: { conversation: text } });

it('answers getMessage for a recent message, so a retry receipt can be served', async () => {
  const store = new RecentMessageStore();
  store.remember(message('A1', 'hello'));
  expect(await store.get({ remoteJid: '1555@s.whatsapp.net', id: 'A1' })).toEqual({ conversation: 'hello' });
  expect(await store.get({ remoteJid: '1555@s.whatsapp.net', id: 'nope' })).toBeUndefined();
});

it('keeps at most its capacity, dropping the oldest first', async () => {
  const store = new RecentMessageStore(3);
  for (const id of ['1', '2', '3', '4']) store.remember(message(id, `m${id}`));
  expect(store.size).toBe(3);
  expect(await store.get({ remoteJid: '1555@s.whatsapp.net', id: '1' })).toBeUndefined();
  expect(await store.get({ remoteJid: '1555@s.whatsapp.net', id: '4' })).toEqual({ conversation: 'm4' });
});
