/**
 * The message side of the simulated server: what a linked device asks about its
 * contacts (usync: devices, LIDs, "is this number on WhatsApp"), the pre-key
 * bundles it fetches and the ones it uploads, the messages it sends (decrypted on
 * the contact's phone, acknowledged by the server, then receipted by the phone),
 * and the messages and retry receipts contacts send it.
 *
 * Shapes follow what Baileys 7.0.0-rc14 reads (shared/design/messaging-facts.md):
 * devices other than 0 carry `key-index`; `<lid>` is answered only for users asked
 * by phone number; a user not on WhatsApp is left out of device answers.
 */
import { EventEmitter } from 'node:events';
import {
  encodeBigEndian,
  generateMessageIDV2,
  getBinaryNodeChild,
  getBinaryNodeChildBuffer,
  getBinaryNodeChildren,
  getBinaryNodeChildUInt,
  type BinaryNode,
} from '@whiskeysockets/baileys';
import { userOf, type ContactPhone, type DeviceKeys, type SimulatedContacts } from './contacts.js';

/** What the messaging side needs of one client connection. */
export interface MessagingPort {
  /** The logged-in device (null before login). */
  readonly jid: string | null;
  deliver(node: BinaryNode): void;
  later(delayMs: number, fn: () => void): void;
}

export interface SendTextOptions {
  /** The contact's phone number (digits). */
  from: string;
  text: string;
  /** Address the client by LID (`from=<lid>@lid addressing_mode=lid`) instead of phone number. */
  addressing?: 'pn' | 'lid';
  /** The message id; default a new one. */
  id?: string;
  /** Damage the ciphertext, as a broken session would: the device cannot decrypt it and asks for it again. */
  corrupt?: boolean;
}

const server = 's.whatsapp.net';
const unixSeconds = () => String(Math.floor(Date.now() / 1000));

export class SimulatedMessaging extends EventEmitter {
  /** The server acknowledges what devices send (`<ack class=message>`); false: it stays silent, as a half-dead link. */
  ackMessages = true;
  readonly counters = { messagesIn: 0, decrypted: 0, decryptFailures: 0, messagesOut: 0, receiptsSent: 0, retryReceiptsSent: 0, uploads: 0 };

  constructor(readonly contacts: SimulatedContacts) {
    super();
  }

  /** Handles a messaging node from a client; false when the node is not about messages. */
  onNode(port: MessagingPort, node: BinaryNode): boolean {
    if (node.tag === 'message') {
      this.onClientMessage(port, node).catch((error: unknown) => this.emit('messagingError', error));
      return true;
    }
    if (node.tag === 'receipt') {
      this.emit('clientReceipt', { device: port.jid, id: node.attrs.id, to: node.attrs.to, type: node.attrs.type ?? 'delivery' });
      return true;
    }
    if (node.tag !== 'iq' || node.attrs.type === 'result' || node.attrs.type === 'error') return false;
    const { xmlns, type, id } = node.attrs;
    const reply: BinaryNode = { tag: 'iq', attrs: { id: id ?? '', type: 'result', from: server } };
    if (xmlns === 'usync') {
      reply.content = [this.usync(port, node)];
    } else if (xmlns === 'encrypt' && type === 'get' && getBinaryNodeChild(node, 'key')) {
      reply.content = [{ tag: 'list', attrs: {}, content: this.bundles(node) }];
    } else if (xmlns === 'encrypt' && type === 'set' && getBinaryNodeChild(node, 'registration')) {
      if (port.jid) this.contacts.recordUpload(port.jid, uploadedKeys(node));
      this.counters.uploads += 1;
    } else if (xmlns === 'encrypt' && getBinaryNodeChild(node, 'count')) {
      reply.content = [{ tag: 'count', attrs: { value: String(port.jid ? this.contacts.preKeyCount(port.jid) : 50) } }];
    } else {
      return false;
    }
    port.deliver(reply);
    return true;
  }

  /** A contact sends the device on `port` a text; resolves with its id. */
  async sendText(port: MessagingPort, options: SendTextOptions): Promise<string> {
    const contact = this.contact(options.from);
    const device = requireJid(port);
    const id = options.id ?? generateMessageIDV2();
    const sealed = await contact.encryptFor(device, this.contacts.keysOf(device), { conversation: options.text });
    const lid = options.addressing === 'lid';
    port.deliver({
      tag: 'message',
      attrs: {
        id,
        t: unixSeconds(),
        type: 'text',
        notify: contact.pushName,
        ...(lid ? { from: contact.lid, addressing_mode: 'lid', sender_pn: contact.jid } : { from: contact.jid, sender_lid: contact.lid }),
      },
      content: [{ tag: 'enc', attrs: { v: '2', type: sealed.type }, content: options.corrupt ? damaged(sealed.ciphertext) : sealed.ciphertext }],
    });
    this.counters.messagesOut += 1;
    return id;
  }

  /** The contact's phone asks the device on `port` to send message `id` again (it could not decrypt it). */
  retryReceipt(port: MessagingPort, options: { from: string; id: string; count?: number }): void {
    const contact = this.contact(options.from);
    const count = String(options.count ?? 1);
    port.deliver({
      tag: 'receipt',
      attrs: { id: options.id, from: contact.jid, type: 'retry', t: unixSeconds() },
      content: [
        { tag: 'retry', attrs: { count, id: options.id, t: unixSeconds(), v: '1' } },
        { tag: 'registration', attrs: {}, content: encodeBigEndian(contact.registrationId, 4) },
      ],
    });
    this.counters.retryReceiptsSent += 1;
  }

  private contact(phone: string): ContactPhone {
    const contact = this.contacts.find(phone);
    if (!contact) throw new Error(`${phone} is not a contact of the simulator`);
    return contact;
  }

  private usync(port: MessagingPort, node: BinaryNode): BinaryNode {
    const usync = getBinaryNodeChild(node, 'usync')!;
    const query = getBinaryNodeChild(usync, 'query');
    const protocols = Array.isArray(query?.content) ? (query.content as BinaryNode[]).map((child) => child.tag) : [];
    const own = port.jid ? userOf(port.jid) : null;
    const users: BinaryNode[] = [];
    for (const user of getBinaryNodeChildren(getBinaryNodeChild(usync, 'list'), 'user')) {
      // Asked by jid (devices, LID), or by phone number in a <contact> child (onWhatsApp).
      const jid = user.attrs.jid ?? `${userOf(phoneText(getBinaryNodeChild(user, 'contact')?.content))}@s.whatsapp.net`;
      const contact = this.contacts.find(jid);
      const isOwn = own !== null && userOf(jid) === own;
      const onWhatsApp = Boolean(contact) || isOwn;
      // Users not on WhatsApp are left out of device answers; a contact query says "out".
      if (!onWhatsApp && !protocols.includes('contact')) continue;
      const answers: BinaryNode[] = [];
      for (const protocol of protocols) {
        if (protocol === 'contact') answers.push({ tag: 'contact', attrs: { type: onWhatsApp ? 'in' : 'out' } });
        if (protocol === 'devices' && onWhatsApp) answers.push({ tag: 'devices', attrs: {}, content: [{ tag: 'device-list', attrs: {}, content: devicesOf(port, isOwn) }] });
        // Only for users asked by phone number: for a LID, Baileys would store a LID→LID mapping.
        if (protocol === 'lid' && contact && !jid.endsWith('@lid')) answers.push({ tag: 'lid', attrs: { val: contact.lid } });
      }
      users.push({ tag: 'user', attrs: { jid }, content: answers });
    }
    return { tag: 'usync', attrs: { ...usync.attrs }, content: [{ tag: 'list', attrs: {}, content: users }] };
  }

  private bundles(node: BinaryNode): BinaryNode[] {
    const users: BinaryNode[] = [];
    for (const user of getBinaryNodeChildren(getBinaryNodeChild(node, 'key'), 'user')) {
      const contact = this.contacts.find(user.attrs.jid!);
      // A user with an <error> child makes Baileys reject the whole answer: unknown users are left out.
      if (contact) users.push({ tag: 'user', attrs: { jid: user.attrs.jid! }, content: contact.bundleNodes() as BinaryNode[] });
    }
    return users;
  }

  private async onClientMessage(port: MessagingPort, node: BinaryNode): Promise<void> {
    const device = requireJid(port);
    const id = node.attrs.id!;
    const to = node.attrs.to!;
    this.counters.messagesIn += 1;
    const own = userOf(device);
    const copies: Array<{ jid: string; enc: BinaryNode }> = [];
    for (const target of getBinaryNodeChildren(getBinaryNodeChild(node, 'participants'), 'to')) {
      const enc = getBinaryNodeChild(target, 'enc');
      if (enc) copies.push({ jid: target.attrs.jid!, enc });
    }
    const direct = getBinaryNodeChild(node, 'enc');
    if (direct) copies.push({ jid: to, enc: direct });
    // The server acknowledges the stanza once it holds it, before any phone has seen it.
    if (this.ackMessages) port.deliver({ tag: 'ack', attrs: { class: 'message', id, from: to, t: unixSeconds() } });
    const contact = this.contacts.find(to);
    let shown = false;
    for (const copy of copies) {
      if (userOf(copy.jid) === own) continue; // our own other devices: not played
      const recipient = this.contacts.find(copy.jid);
      if (!recipient) continue;
      const type = copy.enc.attrs.type === 'pkmsg' ? 'pkmsg' : 'msg';
      try {
        const message = await recipient.decrypt(device, type, copy.enc.content as Uint8Array);
        const text = message.conversation ?? message.extendedTextMessage?.text ?? null;
        recipient.inbox.push({ id, fromDevice: device, to, text, encType: type, at: Date.now() });
        this.counters.decrypted += 1;
        shown = true;
        this.emit('delivered', { contact: recipient.phone, id, text });
      } catch (error) {
        this.counters.decryptFailures += 1;
        this.emit('decryptFailure', { contact: recipient.phone, id, error });
        this.retryReceipt(port, { from: recipient.phone, id });
      }
    }
    if (shown && contact) this.receipts(port, contact, id, to);
  }

  /** The phone's receipts for a message it showed: delivered, then read (as the contact is set up). */
  private receipts(port: MessagingPort, contact: ContactPhone, id: string, addressedTo: string): void {
    if (contact.receipts === 'none') return;
    const from = addressedTo.endsWith('@lid') ? contact.lid : contact.jid;
    port.later(contact.deliveryDelayMs, () => {
      port.deliver({ tag: 'receipt', attrs: { id, from, t: unixSeconds() } });
      this.counters.receiptsSent += 1;
      if (contact.receipts !== 'read') return;
      port.later(contact.readDelayMs, () => {
        port.deliver({ tag: 'receipt', attrs: { id, from, t: unixSeconds(), type: 'read' } });
        this.counters.receiptsSent += 1;
      });
    });
  }
}

/**
 * A contact has its phone (device 0). Our own user lists only the device asking,
 * which Baileys filters out: no copy goes to a phone the simulator does not play.
 */
function devicesOf(port: MessagingPort, isOwn: boolean): BinaryNode[] {
  if (!isOwn) return [{ tag: 'device', attrs: { id: '0' } }];
  const device = port.jid!.split(':')[1]?.split('@')[0] ?? '0';
  return [{ tag: 'device', attrs: { id: device, 'key-index': '1' } }];
}

/** The ciphertext with its last bytes (the MAC) flipped. */
function damaged(ciphertext: Buffer): Buffer {
  const copy = Buffer.from(ciphertext);
  for (let i = Math.max(0, copy.length - 4); i < copy.length; i++) copy[i] = copy[i]! ^ 0xff;
  return copy;
}

function requireJid(port: MessagingPort): string {
  if (!port.jid) throw new Error('the connection has not logged in');
  return port.jid;
}

function phoneText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (content instanceof Uint8Array) return Buffer.from(content).toString('utf8');
  return '';
}

/** The keys in a device's `<iq xmlns=encrypt type=set>` upload. */
function uploadedKeys(node: BinaryNode): DeviceKeys {
  const skey = getBinaryNodeChild(node, 'skey')!;
  return {
    registrationId: getBinaryNodeChildUInt(node, 'registration', 4)!,
    identityKey: Buffer.from(getBinaryNodeChildBuffer(node, 'identity')!),
    signedPreKey: {
      keyId: getBinaryNodeChildUInt(skey, 'id', 3)!,
      publicKey: Buffer.from(getBinaryNodeChildBuffer(skey, 'value')!),
      signature: Buffer.from(getBinaryNodeChildBuffer(skey, 'signature')!),
    },
    preKeys: getBinaryNodeChildren(getBinaryNodeChild(node, 'list'), 'key').map((key) => ({
      keyId: getBinaryNodeChildUInt(key, 'id', 3)!,
      publicKey: Buffer.from(getBinaryNodeChildBuffer(key, 'value')!),
    })),
  };
}
