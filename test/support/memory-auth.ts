/** Credentials kept in memory, for tests of the connection alone. */
import { initAuthCreds, type AuthenticationCreds, type SignalDataTypeMap } from '@whiskeysockets/baileys';
import type { AuthStateHandle } from '../../src/whatsapp/connection.actor.js';

/** Credentials of a device the simulator will log in (it accepts unknown devices by default). */
export function registeredCreds(phone = '15550004444', device = 7): AuthenticationCreds {
  const creds = initAuthCreds();
  creds.me = { id: `${phone}:${device}@s.whatsapp.net`, name: 'Test' };
  return creds;
}

export function memoryAuth(creds: AuthenticationCreds = initAuthCreds()): AuthStateHandle & { saves: number } {
  const keys = new Map<string, unknown>();
  const handle = {
    saves: 0,
    state: {
      creds,
      keys: {
        get: async <T extends keyof SignalDataTypeMap>(type: T, ids: string[]) =>
          Object.fromEntries(ids.map((id) => [id, keys.get(`${type}-${id}`)])) as { [id: string]: SignalDataTypeMap[T] },
        set: async (data: Record<string, Record<string, unknown>>) => {
          for (const [type, entries] of Object.entries(data)) {
            for (const [id, value] of Object.entries(entries)) {
              if (value) keys.set(`${type}-${id}`, value);
              else keys.delete(`${type}-${id}`);
            }
          }
        },
      },
    },
    saveCreds: async () => {
      handle.saves += 1;
    },
  };
  return handle as AuthStateHandle & { saves: number };
}
