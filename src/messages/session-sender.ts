/**
 * One session's outgoing messages on their way to WhatsApp: while the session
 * is open, the queued ones are written to its socket in the order they were
 * accepted; the server's ack makes one `sent`, the contact's receipts make it
 * `delivered` and `read`.
 *
 * What is not acknowledged stays queued. A message written but never acked (the
 * link died, the process crashed) is written again, under the same id and with
 * the same content, once the session is open again: the phone shows it once.
 * An ack that does not come within ackTimeoutMs makes the session probe its link
 * at once — "accepted" must not quietly mean "lost on a dead link".
 *
 * Statuses come from the wire, not from Baileys' events: rc14 resolves a send
 * when the frame is written and never marks the server's ack, and it folds early
 * receipts into the upsert of our own message. The raw `<ack class=message>`
 * and `<receipt>` nodes say it directly.
 */
import { generateWAMessage, proto, type BinaryNode, type WASocket } from '@whiskeysockets/baileys';
import type { Logger } from '../logging/logger.js';
import type { MessageChange, MessageQueue, MessageStatus, OutgoingMessage } from '../store/message-queue.js';
import type { Lease } from '../store/ownership.js';
import type { SessionKey } from '../store/session-key.js';
import type { MessageSettings } from './message-settings.js';
import { isPhoneJid } from './recipient.js';

/** What the sender uses of a Baileys socket. */
export type MessagingSocket = Pick<WASocket, 'relayMessage' | 'onWhatsApp' | 'ws' | 'user'>;

/** How long an answer to "is this number on WhatsApp" is reused. */
export const onWhatsAppCacheMs = 10 * 60 * 1000;

export interface SenderEnvironment {
  key: SessionKey;
  queue: MessageQueue;
  settings: MessageSettings;
  logger: Logger;
  /** The session's lease, while this process holds it. */
  lease(): Lease | null;
  /** A written message went unacknowledged: probe the link now. */
  suspectLink(): void;
  /** A message's status changed (events, metrics). */
  onStatus(message: OutgoingMessage, previous: MessageStatus): void;
  /** The queue was just counted (metrics). */
  onCounted(queued: number): void;
  now(): number;
}

/** Receipt types that mean the contact's phone has it, and those that mean it was read. */
const deliveredReceipts = new Set([undefined, '', 'delivery']);
const readReceipts = new Set(['read', 'read-self', 'played', 'played-self']);

export class SessionSender {
  private socket: MessagingSocket | null = null;
  private open = false;
  private pumping: Promise<void> | null = null;
  private pumpAgain = false;
  /**
   * Written on this socket and not yet recorded as acknowledged: never written again
   * meanwhile. The timer is the ack deadline; null once the ack came and its status is
   * being stored (until then the queue still says `queued`).
   */
  private readonly awaitingAck = new Map<string, NodeJS.Timeout | null>();
  private readonly onWhatsAppAnswers = new Map<string, { exists: boolean; at: number }>();
  /** Status changes one at a time: each reads the status the one before it left. */
  private changes: Promise<void> = Promise.resolve();

  constructor(private readonly env: SenderEnvironment) {}

  /** The session's socket for this connection attempt (null: it went). */
  attach(socket: MessagingSocket | null): void {
    if (this.socket === socket) return;
    if (this.socket) {
      this.socket.ws.off('CB:ack,class:message', this.onAck);
      this.socket.ws.off('CB:receipt', this.onReceipt);
    }
    // What waited for an ack on the old socket is written again on the next open.
    for (const timer of this.awaitingAck.values()) if (timer) clearTimeout(timer);
    this.awaitingAck.clear();
    this.socket = socket;
    if (socket) {
      socket.ws.on('CB:ack,class:message', this.onAck);
      socket.ws.on('CB:receipt', this.onReceipt);
    }
    this.kick();
  }

  /** Whether the session is open (only then are messages written). */
  setOpen(open: boolean): void {
    this.open = open;
    this.kick();
  }

  /** Something may be waiting: write it if the session is open. */
  kick(): void {
    if (!this.open || !this.socket) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = this.pump()
      .catch((error: unknown) => this.env.logger.warn({ ...this.env.key, err: errorText(error) }, 'Sending queued messages stopped; they stay queued'))
      .finally(() => {
        this.pumping = null;
        if (this.pumpAgain) {
          this.pumpAgain = false;
          this.kick();
        }
      });
  }

  /** Settles once the current round of writes is over. */
  idle(): Promise<void> {
    return this.pumping ?? Promise.resolve();
  }

  /** Writes nothing more; settles once the round under way and the status changes in flight are done. */
  async dispose(): Promise<void> {
    this.open = false;
    this.attach(null);
    await this.idle();
    await this.changes;
  }

  /** Writes the queue, oldest first, until nothing new is waiting or the session is no longer open. */
  private async pump(): Promise<void> {
    for (;;) {
      const queued = await this.env.queue.list(this.env.key, 'queued');
      this.env.onCounted(queued.length);
      const waiting = queued.filter((m) => !this.awaitingAck.has(m.id));
      if (waiting.length === 0) return;
      for (const message of waiting) {
        const socket = this.socket;
        const lease = this.env.lease();
        if (!this.open || !socket || !lease) return;
        if (!(await this.write(socket, lease, message))) return;
      }
    }
  }

  /** Writes one message; false when the socket can take no more now (the rest waits). */
  private async write(socket: MessagingSocket, lease: Lease, message: OutgoingMessage): Promise<boolean> {
    if (this.env.now() - Date.parse(message.createdAt) > this.env.settings.ttlMs) {
      await this.change(lease, message.id, { status: 'failed', error: 'expired' });
      return true;
    }
    if (isPhoneJid(message.to) && !(await this.onWhatsApp(socket, message.to))) {
      // Baileys would "send" to such a number: an empty stanza, and a message that never arrives.
      await this.change(lease, message.id, { status: 'failed', error: 'not_on_whatsapp' });
      return true;
    }
    const content = message.content ? proto.Message.decode(Buffer.from(message.content, 'base64')) : await this.compose(socket, message);
    const encoded = Buffer.from(proto.Message.encode(content).finish()).toString('base64');
    // Recorded before the write: after a crash, a message with attempts > 0 is written again with this very content.
    await this.change(lease, message.id, { attempts: message.attempts + 1, content: encoded });
    this.armAckTimer(message.id);
    try {
      await socket.relayMessage(message.to, content, { messageId: message.id });
      return true;
    } catch (error) {
      this.clearAckTimer(message.id);
      const text = errorText(error);
      if (/All encryptions failed/i.test(text)) {
        // Baileys drops a phone number with no known LID: WhatsApp gave no way to reach this contact.
        await this.change(lease, message.id, { status: 'failed', error: 'no_lid' });
        return true;
      }
      this.env.logger.warn({ ...this.env.key, id: message.id, err: text }, 'Writing a message failed; it stays queued');
      return false;
    }
  }

  private async compose(socket: MessagingSocket, message: OutgoingMessage): Promise<proto.IMessage> {
    const userJid = socket.user?.id;
    if (!userJid) throw new Error('the socket has no logged-in user');
    const full = await generateWAMessage(message.to, { text: message.text }, { userJid, messageId: message.id, upload: refuseUpload });
    return full.message!;
  }

  /** Whether `jid` is on WhatsApp, asked once per onWhatsAppCacheMs. */
  private async onWhatsApp(socket: MessagingSocket, jid: string): Promise<boolean> {
    const known = this.onWhatsAppAnswers.get(jid);
    if (known && this.env.now() - known.at < onWhatsAppCacheMs) return known.exists;
    const answer = await socket.onWhatsApp(jid);
    const exists = Boolean(answer?.some((entry) => entry.exists && entry.jid === jid));
    this.onWhatsAppAnswers.set(jid, { exists, at: this.env.now() });
    return exists;
  }

  private armAckTimer(id: string): void {
    this.clearAckTimer(id);
    const timer = setTimeout(() => {
      this.awaitingAck.delete(id);
      this.env.logger.warn({ ...this.env.key, id, ackTimeoutMs: this.env.settings.ackTimeoutMs }, 'No server ack for a written message: probing the link');
      this.env.suspectLink();
      // If the link is fine after all, the next round writes it again (same id: the phone shows it once).
      this.kick();
    }, this.env.settings.ackTimeoutMs);
    timer.unref();
    this.awaitingAck.set(id, timer);
  }

  private clearAckTimer(id: string): void {
    const timer = this.awaitingAck.get(id);
    if (timer) clearTimeout(timer);
    this.awaitingAck.delete(id);
  }

  private readonly onAck = (node: BinaryNode): void => {
    const { id, error } = node.attrs;
    if (!id) return;
    const at = new Date(this.env.now()).toISOString();
    this.changeById(id, error ? { status: 'failed', error: `server_error_${error}` } : { status: 'sent', sentAt: at });
  };

  private readonly onReceipt = (node: BinaryNode): void => {
    const type = node.attrs.type;
    const at = new Date(this.env.now()).toISOString();
    const change: MessageChange | null = readReceipts.has(type ?? '')
      ? { status: 'read', readAt: at }
      : deliveredReceipts.has(type)
        ? { status: 'delivered', deliveredAt: at }
        : null;
    if (!change) return;
    for (const id of receiptIds(node)) this.changeById(id, change);
  };

  /** A status from the wire for a message that may be ours (receipts name ids only). */
  private changeById(id: string, change: MessageChange): void {
    const lease = this.env.lease();
    if (!lease) return;
    const waiting = this.awaitingAck.get(id);
    if (waiting) clearTimeout(waiting);
    if (waiting !== undefined) this.awaitingAck.set(id, null);
    this.change(lease, id, change)
      .catch((error: unknown) => this.env.logger.warn({ ...this.env.key, id, err: errorText(error) }, 'Recording a message status failed'))
      .finally(() => {
        // Stored (or failed to be): a message still queued now is written again by the next round.
        if (this.awaitingAck.get(id) === null) this.awaitingAck.delete(id);
      });
  }

  /** Applies `change` after every change before it, and reports a new status once. */
  private change(lease: Lease, id: string, change: MessageChange): Promise<void> {
    const run = async () => {
      const before = await this.env.queue.get(this.env.key, id);
      if (!before) return;
      const after = await this.env.queue.update(lease, id, change);
      if (after && after.status !== before.status) this.env.onStatus(after, before.status);
    };
    const next = this.changes.then(run, run);
    this.changes = next.catch(() => undefined);
    return next;
  }
}

/** The ids a receipt is about: its own, and those listed under it. */
function receiptIds(node: BinaryNode): string[] {
  const ids = node.attrs.id ? [node.attrs.id] : [];
  const list = Array.isArray(node.content) ? node.content.find((child) => child.tag === 'list') : undefined;
  if (list && Array.isArray(list.content)) {
    for (const item of list.content) if (item.tag === 'item' && item.attrs.id) ids.push(item.attrs.id);
  }
  return ids;
}

/** Text messages upload nothing; a call here means a message kind this sender does not carry. */
const refuseUpload = (): never => {
  throw new Error('media messages are not supported');
};

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
