/**
 * A session folder exactly as Baileys' own useMultiFileAuthState writes it,
 * for a device the simulator will log in: what a user drops into sessions/.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { useMultiFileAuthState } from '@whiskeysockets/baileys';
import { registeredCreds } from './memory-auth.js';

export async function writeBaileysAuthFolder(sessionsDir: string, userId: string, sessionId: string, phone: string, device = 3): Promise<string> {
  const folder = join(sessionsDir, userId, sessionId);
  await mkdir(folder, { recursive: true });
  const { state, saveCreds } = await useMultiFileAuthState(folder);
  state.creds.me = registeredCreds(phone, device).me;
  await saveCreds();
  return folder;
}
