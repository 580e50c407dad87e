/**
 * The contacts' phones: accounts on the simulated WhatsApp that a linked device
 * can message, each with real Signal keys (libsignal, the library Baileys itself
 * uses), so a client's messages are really decrypted and a contact's replies are
 * really encrypted — `pkmsg` from the device's uploaded pre-keys when cold, `msg`
 * on an open session.
 *
 * A number that was never added is not on WhatsApp. What each phone received is
 * kept in its inbox with every copy, so a test can tell "shown once" (one id)
 * from "sent twice" (two copies of one id).
 */
import { createRequire } from 'node:module';
import { encodeBigEndian, encodeWAMessage, proto, unpadRandomMax16 } from '@whiskeysockets/baileys';

interface KeyPair {
  pubKey: Buffer;
  privKey: Buffer;
}
interface SignedPreKey {
  keyId: number;
  keyPair: KeyPair;
  signature: Buffer;
}
interface ProtocolAddress {
  toString(): string;
}
interface Libsignal {
  keyhelper: {
    generateIdentityKeyPair(): KeyPair;
    generateRegistrationId(): number;
    generateSignedPreKey(identity: KeyPair, keyId: number): SignedPreKey;
    generatePreKey(keyId: number): { keyId: number; keyPair: KeyPair };
  };
  ProtocolAddress: new (name: string, deviceId: number) => ProtocolAddress;
  SessionBuilder: new (storage: unknown, address: ProtocolAddress) => { initOutgoing(device: unknown): Promise<void> };
  SessionCipher: new (
    storage: unknown,
    address: ProtocolAddress,
  ) => {
    decryptPreKeyWhisperMessage(data: Uint8Array): Promise<Buffer>;
    decryptWhisperMessage(data: Uint8Array): Promise<Buffer>;
    encrypt(data: Uint8Array): Promise<{ type: number; body: Buffer }>;
  };
}

// libsignal is CommonJS and ships no types for its key helper.
const libsignal = createRequire(import.meta.url)('libsignal') as Libsignal;

/** The one-byte key type WhatsApp strips from public keys on the wire (and Signal wants back). */
const djbKeyType = Buffer.from([5]);
/** libsignal's type of a cold message, which carries the pre-key it used. */
const preKeyWhisperType = 3;

/** Signal public keys travel as 32 bytes; libsignal works on 33 (type byte first). */
export function withKeyType(key: Uint8Array): Buffer {
  return key.length === 33 ? Buffer.from(key) : Buffer.concat([djbKeyType, key]);
}
export function withoutKeyType(key: Uint8Array): Buffer {
  return key.length === 33 ? Buffer.from(key.subarray(1)) : Buffer.from(key);
}

/** What a linked device uploaded (`<iq xmlns=encrypt type=set>`): enough for a contact to open a session with it. */
export interface DeviceKeys {
  registrationId: number;
  identityKey: Buffer;
  signedPreKey: { keyId: number; publicKey: Buffer; signature: Buffer };
  preKeys: Array<{ keyId: number; publicKey: Buffer }>;
}

export type ReceiptMode = 'none' | 'delivered' | 'read';

export interface ContactOptions {
  /** Digits only, e.g. 15551111111. */
  phone: string;
  /** Its LID user (digits); default: made up from the phone. */
  lid?: string;
  pushName?: string;
  /** Which receipts the phone sends for what it receives; default 'read'. */
  receipts?: ReceiptMode;
  /** Delay before the delivery receipt, ms; default 0. */
  deliveryDelayMs?: number;
  /** Delay (after delivery) before the read receipt, ms; default 0. */
  readDelayMs?: number;
}

/** One copy of a message that reached a contact's phone. */
export interface ReceivedMessage {
  id: string;
  /** The device that sent it (e.g. 15550001000:1@s.whatsapp.net). */
  fromDevice: string;
  /** How it was addressed: the contact's PN or LID jid. */
  to: string;
  text: string | null;
  encType: 'pkmsg' | 'msg';
  at: number;
}

export class ContactPhone {
  readonly phone: string;
  readonly lidUser: string;
  readonly pushName: string;
  receipts: ReceiptMode;
  deliveryDelayMs: number;
  readDelayMs: number;
  /** Every copy received, in arrival order. */
  readonly inbox: ReceivedMessage[] = [];
  readonly registrationId = libsignal.keyhelper.generateRegistrationId();

  private readonly identity = libsignal.keyhelper.generateIdentityKeyPair();
  private readonly signedPreKey = libsignal.keyhelper.generateSignedPreKey(this.identity, 1);
  private readonly preKeys = new Map<number, KeyPair>();
  private nextPreKeyId = 1;
  private readonly sessions = new Map<string, unknown>();
  /** Signal operations on one session must not interleave (libsignal's own queue is per address string). */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(options: ContactOptions) {
    this.phone = options.phone;
    this.lidUser = options.lid ?? `9${options.phone}`;
    this.pushName = options.pushName ?? `Contact ${options.phone.slice(-4)}`;
    this.receipts = options.receipts ?? 'read';
    this.deliveryDelayMs = options.deliveryDelayMs ?? 0;
    this.readDelayMs = options.readDelayMs ?? 0;
  }

  get jid(): string {
    return `${this.phone}@s.whatsapp.net`;
  }

  get lid(): string {
    return `${this.lidUser}@lid`;
  }

  /** Ids shown on the phone: each id once, however many copies arrived. */
  shownIds(): string[] {
    return [...new Set(this.inbox.map((m) => m.id))];
  }

  /** The `<user>` children of a pre-key fetch answer, with a fresh one-time pre-key (libsignal deletes a used one). */
  bundleNodes(): Array<{ tag: string; attrs: Record<string, string>; content?: unknown }> {
    const preKeyId = this.nextPreKeyId++;
    const preKey = libsignal.keyhelper.generatePreKey(preKeyId);
    this.preKeys.set(preKeyId, preKey.keyPair);
    return [
      { tag: 'registration', attrs: {}, content: encodeBigEndian(this.registrationId, 4) },
      { tag: 'type', attrs: {}, content: djbKeyType },
      { tag: 'identity', attrs: {}, content: withoutKeyType(this.identity.pubKey) },
      {
        tag: 'skey',
        attrs: {},
        content: [
          { tag: 'id', attrs: {}, content: encodeBigEndian(this.signedPreKey.keyId, 3) },
          { tag: 'value', attrs: {}, content: withoutKeyType(this.signedPreKey.keyPair.pubKey) },
          { tag: 'signature', attrs: {}, content: this.signedPreKey.signature },
        ],
      },
      {
        tag: 'key',
        attrs: {},
        content: [
          { tag: 'id', attrs: {}, content: encodeBigEndian(preKeyId, 3) },
          { tag: 'value', attrs: {}, content: withoutKeyType(preKey.keyPair.pubKey) },
        ],
      },
    ];
  }

  /** Decrypts what `fromDevice` sent this phone; the message as the phone reads it. */
  decrypt(fromDevice: string, type: 'pkmsg' | 'msg', ciphertext: Uint8Array): Promise<proto.IMessage> {
    return this.serially(async () => {
      const cipher = new libsignal.SessionCipher(this.store(), deviceAddress(fromDevice));
      const padded = type === 'pkmsg' ? await cipher.decryptPreKeyWhisperMessage(ciphertext) : await cipher.decryptWhisperMessage(ciphertext);
      return proto.Message.decode(unpadRandomMax16(padded));
    });
  }

  /** Encrypts `message` for `device`, opening a session from its uploaded keys when none is open. */
  encryptFor(device: string, keys: DeviceKeys | undefined, message: proto.IMessage): Promise<{ type: 'pkmsg' | 'msg'; ciphertext: Buffer }> {
    return this.serially(async () => {
      const address = deviceAddress(device);
      if (!this.sessions.has(address.toString())) {
        if (!keys) throw new Error(`${device} has uploaded no pre-keys: the contact cannot open a session with it`);
        const preKey = keys.preKeys.shift();
        await new libsignal.SessionBuilder(this.store(), address).initOutgoing({
          registrationId: keys.registrationId,
          identityKey: withKeyType(keys.identityKey),
          signedPreKey: { ...keys.signedPreKey, publicKey: withKeyType(keys.signedPreKey.publicKey) },
          ...(preKey ? { preKey: { keyId: preKey.keyId, publicKey: withKeyType(preKey.publicKey) } } : {}),
        });
      }
      const sealed = await new libsignal.SessionCipher(this.store(), address).encrypt(encodeWAMessage(message));
      return { type: sealed.type === preKeyWhisperType ? 'pkmsg' : 'msg', ciphertext: sealed.body };
    });
  }

  /** Forgets every session (a reinstalled phone): the next message each way starts cold. */
  reinstall(): void {
    this.sessions.clear();
  }

  private serially<T>(work: () => Promise<T>): Promise<T> {
    const next = this.chain.then(work, work);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private store() {
    return {
      isTrustedIdentity: () => true,
      getOurIdentity: () => this.identity,
      getOurRegistrationId: () => this.registrationId,
      loadSession: async (id: string) => this.sessions.get(id),
      storeSession: async (id: string, record: unknown) => void this.sessions.set(id, record),
      loadPreKey: async (id: number | string) => this.preKeys.get(Number(id)),
      removePreKey: (id: number) => void this.preKeys.delete(Number(id)),
      loadSignedPreKey: () => this.signedPreKey.keyPair,
    };
  }
}

/** Every contact of the simulated WhatsApp, and the pre-keys its linked devices uploaded. */
export class SimulatedContacts {
  private readonly byUser = new Map<string, ContactPhone>();
  private readonly deviceKeys = new Map<string, DeviceKeys>();

  add(options: ContactOptions): ContactPhone {
    if (!/^\d{6,15}$/.test(options.phone)) throw new Error('phone: 6 to 15 digits');
    const existing = this.byUser.get(options.phone);
    if (existing) return existing;
    const contact = new ContactPhone(options);
    this.byUser.set(contact.phone, contact);
    this.byUser.set(contact.lidUser, contact);
    return contact;
  }

  /** The contact a jid (PN or LID, any device, or a bare phone, `+` allowed) belongs to; undefined: not on WhatsApp. */
  find(jidOrPhone: string): ContactPhone | undefined {
    return this.byUser.get(userOf(jidOrPhone));
  }

  all(): ContactPhone[] {
    return [...new Set(this.byUser.values())];
  }

  /** A device uploaded pre-keys: kept for contacts that open sessions with it later. */
  recordUpload(device: string, keys: DeviceKeys): void {
    const known = this.deviceKeys.get(device);
    if (known && known.identityKey.equals(keys.identityKey)) known.preKeys.push(...keys.preKeys);
    else this.deviceKeys.set(device, keys);
    Object.assign(this.deviceKeys.get(device)!, { registrationId: keys.registrationId, signedPreKey: keys.signedPreKey });
  }

  keysOf(device: string): DeviceKeys | undefined {
    return this.deviceKeys.get(device);
  }

  /**
   * The pre-key count the server claims for a device. A device whose keys the
   * simulator does not hold is told 3 — at or under Baileys' minimum of 5, so it
   * uploads a batch of 5 (0 would make it upload 812 and cost every first login).
   */
  preKeyCount(device: string): number {
    const held = this.deviceKeys.get(device)?.preKeys.length ?? 0;
    return held === 0 ? 3 : held;
  }
}

/** The user part of a jid or phone: `+1555…`, `1555…:3@s.whatsapp.net`, `9155…@lid` → digits. */
export function userOf(jidOrPhone: string): string {
  return jidOrPhone.replace(/^\+/, '').split('@')[0]!.split(':')[0]!;
}

/** The Signal address a device jid is stored under on a contact's phone. */
function deviceAddress(device: string): ProtocolAddress {
  const [user, rest] = device.split(':');
  const deviceId = rest ? Number(rest.split('@')[0]) : 0;
  return new libsignal.ProtocolAddress(userOf(user!), deviceId);
}
