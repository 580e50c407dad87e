/**
 * Messages in and out of the sessions this process runs.
 *
 * Out: `send` stores the message in the session's queue (durably, behind the
 * session's lease) before it answers; the session's SessionSender writes it
 * while the session is open. In: every message a contact sends becomes one
 * `message.received` event (stubs — a message that could not be decrypted yet —
 * are not events; its resend, under the same id, is the one event).
 *
 * It learns the sessions' states from the registry's changes and their
 * sockets from the connection (service.ts wires both); it changes no session.
 */
import { EventEmitter } from 'node:events';
import type { BaileysEventMap, proto, WAMessage, WAMessageKey, WASocket } from '@whiskeysockets/baileys';
import { generateMessageIDV2, proto as protoValues } from '@whiskeysockets/baileys';
import type { Logger } from '../logging/logger.js';
import { SessionError } from '../service/session-error.js';
import type { SessionFeed } from '../session/session-feed.js';
import type { SessionView } from '../session/session-view.js';
import { messageIdPattern, QueueFullError, type MessageQueue, type MessageStatus, type OutgoingMessage } from '../store/message-queue.js';
import type { Lease } from '../store/ownership.js';
import { keyString, type SessionKey } from '../store/session-key.js';
import type { MessageSettings } from './message-settings.js';
import { recipientJid } from './recipient.js';
import { SessionSender } from './session-sender.js';

/** What messaging needs of the registry: each session's lease and view, and its changes. */
export interface MessagingRegistry extends SessionFeed {
  owner(key: SessionKey):
    | {
        readonly heldLease: Lease | null;
        view(): SessionView;
        suspectLink(): void;
        /** Runs `work` with the lease proven, after the session's earlier operations (a restore included). */
        withLease<T>(work: (lease: Lease, view: SessionView) => Promise<T>): Promise<T>;
      }
    | undefined;
}

export interface MessageRequest {
  to: string;
  text: string;
  /** The caller's idempotency key, and the WhatsApp message id (16–32 upper-case hex). */
  id?: string;
}

export interface ReceivedMessage {
  id: string;
  chat: string;
  from: string;
  fromLid?: string;
  pushName?: string;
  timestamp: number;
  type: string;
  text?: string;
  caption?: string;
  quotedId?: string;
  participant?: string;
}

export interface MessagingOptions {
  queue: MessageQueue;
  registry: MessagingRegistry;
  settings: MessageSettings;
  logger: Logger;
  /** Events for the outbox (message.received, message.status). */
  publish(type: 'message.received' | 'message.status', key: SessionKey, payload: Record<string, unknown>): void;
  now?(): number;
}

/** Inbound ids remembered per session, so one message never makes two events. */
const receivedIdsRemembered = 2_000;

/**
 * Emits, for metrics: 'sent' (result 'sent' | 'failed', accept → server ack in ms or null),
 * 'received' (a contact's message became an event); for the inspector: 'changed' (the
 * session's key) once a message is accepted or its new status is stored.
 */
export class Messaging extends EventEmitter {
  private readonly senders = new Map<string, SessionSender>();
  /** Each session's socket of its current connection attempt. */
  private readonly sockets = new Map<string, WASocket>();
  private readonly seen = new Map<string, Set<string>>();
  /** Each session's queued messages, as last counted and kept up since (metrics). */
  private readonly depths = new Map<string, number>();
  private housekeeping: NodeJS.Timeout | null = null;
  private readonly now: () => number;

  constructor(private readonly options: MessagingOptions) {
    super();
    this.now = options.now ?? Date.now;
    options.registry.on('change', ({ after }) => this.senderFor(after).setOpen(after.state === 'open' && this.leaseOf(after) !== null));
    options.registry.on('removed', (key) => {
      void this.senders.get(keyString(key))?.dispose();
      this.senders.delete(keyString(key));
      this.depths.delete(keyString(key));
      this.sockets.delete(keyString(key));
      this.seen.delete(keyString(key));
    });
  }

  /** Accepts a message for `key`; queued durably before it resolves. `created: false`: that id was accepted before. */
  async send(key: SessionKey, request: MessageRequest): Promise<{ created: boolean; message: OutgoingMessage }> {
    const to = recipientJid(request.to);
    // Baileys' own generator: the shape WhatsApp's ids have (3EB0 and 18 upper-case hex characters).
    const id = request.id ?? generateMessageIDV2();
    const accepted = await this.existing(key).withLease(async (lease, view) => {
      if (view.state === 'terminated') {
        throw new SessionError('ERR_SESSION_NOT_RUNNING', `session ${keyString(key)} is not running (${view.terminatedReason ?? view.status}); start it first`);
      }
      try {
        return await this.options.queue.accept(lease, { id, to, text: request.text, createdAt: new Date(this.now()).toISOString() }, this.options.settings.maxQueued);
      } catch (error) {
        if (error instanceof QueueFullError) throw new SessionError('ERR_QUEUE_FULL', error.message);
        throw error;
      }
    });
    if (accepted.created) {
      this.depths.set(keyString(key), (this.depths.get(keyString(key)) ?? 0) + 1);
      this.senders.get(keyString(key))?.kick();
      this.emit('changed', key);
    }
    return accepted;
  }

  async get(key: SessionKey, id: string): Promise<OutgoingMessage> {
    this.existing(key);
    const message = messageIdPattern.test(id) ? await this.options.queue.get(key, id) : null;
    if (!message) throw new SessionError('ERR_NOT_FOUND', `no message ${id} in ${keyString(key)}`);
    return message;
  }

  list(key: SessionKey, status?: MessageStatus): Promise<OutgoingMessage[]> {
    this.existing(key);
    return this.options.queue.list(key, status);
  }

  /** Baileys' getMessage: what we sent under this id, whatever jid the retry receipt named. */
  async getMessage(key: SessionKey, messageKey: WAMessageKey): Promise<proto.IMessage | undefined> {
    if (!messageKey.id || !messageIdPattern.test(messageKey.id)) return undefined;
    const message = await this.options.queue.get(key, messageKey.id);
    return message?.content ? protoValues.Message.decode(Buffer.from(message.content, 'base64')) : undefined;
  }

  /** The socket of the session's current connection attempt (null: it went). */
  onSocket(key: SessionKey, socket: WASocket | null): void {
    const owner = this.options.registry.owner(key);
    if (!owner || (this.sockets.get(keyString(key)) ?? null) === socket) return;
    const sender = this.senderFor(owner.view());
    sender.attach(socket);
    if (socket) {
      this.sockets.set(keyString(key), socket);
      socket.ev.on('messages.upsert', (upsert) => this.onUpsert(key, upsert));
    } else {
      this.sockets.delete(keyString(key));
    }
  }

  /** For each number: whether it is on WhatsApp, its JID, and its LID when WhatsApp told it. Needs the session open. */
  async checkContacts(key: SessionKey, numbers: readonly string[]): Promise<Array<{ number: string; onWhatsApp: boolean; jid: string | null; lid: string | null }>> {
    const owner = this.existing(key);
    const socket = this.sockets.get(keyString(key));
    if (!socket || owner.view().state !== 'open' || !owner.heldLease) {
      if (!owner.heldLease && owner.view().owner) throw new SessionError('ERR_OWNED_ELSEWHERE', `session ${keyString(key)} is owned by ${owner.view().owner}`, owner.view().owner!);
      throw new SessionError('ERR_NOT_CONNECTED', `session ${keyString(key)} is not open (${owner.view().status}): WhatsApp cannot be asked`);
    }
    const jids = numbers.map((number) => recipientJid(number));
    const answer = (await socket.onWhatsApp(...jids)) ?? [];
    return Promise.all(
      numbers.map(async (number, i) => {
        const jid = jids[i]!;
        const onWhatsApp = answer.some((entry) => entry.jid === jid && entry.exists);
        const lid = onWhatsApp ? await socket.signalRepository.lidMapping.getLIDForPN(jid).catch(() => null) : null;
        return { number, onWhatsApp, jid: onWhatsApp ? jid : null, lid };
      }),
    );
  }

  /** Waits for every session's current round of writes (tests, shutdown). */
  async idle(): Promise<void> {
    await Promise.all([...this.senders.values()].map((sender) => sender.idle()));
  }

  /** Queued messages of every session this process runs, as last counted. */
  queueDepth(): number {
    let depth = 0;
    for (const count of this.depths.values()) depth += count;
    return depth;
  }

  /**
   * Every `intervalMs`: messages queued past MESSAGE_TTL_MS fail with `expired` (also in
   * sessions that never open again), and sent ones past MESSAGE_RETENTION_MS are forgotten.
   */
  startHousekeeping(intervalMs: number, leases: () => readonly Lease[]): void {
    this.housekeeping = setInterval(() => void this.housekeep(leases()), intervalMs);
    this.housekeeping.unref();
  }

  async housekeep(leases: readonly Lease[]): Promise<void> {
    const now = this.now();
    for (const lease of leases) {
      try {
        for (const message of await this.options.queue.list(lease.key, 'queued')) {
          if (now - Date.parse(message.createdAt) <= this.options.settings.ttlMs) break; // oldest first
          const failed = await this.options.queue.update(lease, message.id, { status: 'failed', error: 'expired' });
          if (failed?.status === 'failed') this.onStatus(lease.key, failed, 'queued');
        }
        await this.options.queue.prune(lease, new Date(now - this.options.settings.retentionMs));
      } catch (error) {
        this.options.logger.warn({ ...lease.key, err: error instanceof Error ? error.message : String(error) }, 'Message housekeeping failed; tried again next round');
      }
    }
  }

  /** Writes nothing more; settles once every status change in flight is stored (and announced). */
  async stop(): Promise<void> {
    if (this.housekeeping) clearInterval(this.housekeeping);
    const senders = [...this.senders.values()];
    this.senders.clear();
    await Promise.all(senders.map((sender) => sender.dispose()));
  }

  private onUpsert(key: SessionKey, { messages, type }: BaileysEventMap['messages.upsert']): void {
    if (type !== 'notify' && type !== 'append') return;
    for (const message of messages) {
      const received = toReceived(message);
      if (!received || !this.firstSight(key, received.id)) continue;
      this.emit('received');
      this.options.publish('message.received', key, { ...received });
    }
  }

  private firstSight(key: SessionKey, id: string): boolean {
    const name = keyString(key);
    let ids = this.seen.get(name);
    if (!ids) this.seen.set(name, (ids = new Set()));
    if (ids.has(id)) return false;
    ids.add(id);
    if (ids.size > receivedIdsRemembered) ids.delete(ids.values().next().value!);
    return true;
  }

  private senderFor(view: SessionView): SessionSender {
    const key = { userId: view.userId, sessionId: view.sessionId };
    const name = keyString(key);
    let sender = this.senders.get(name);
    if (!sender) {
      sender = new SessionSender({
        key,
        queue: this.options.queue,
        settings: this.options.settings,
        logger: this.options.logger,
        lease: () => this.options.registry.owner(key)?.heldLease ?? null,
        suspectLink: () => this.options.registry.owner(key)?.suspectLink(),
        onStatus: (message, previous) => this.onStatus(key, message, previous),
        onCounted: (queued) => this.depths.set(name, queued),
        now: this.now,
      });
      this.senders.set(name, sender);
    }
    return sender;
  }

  private onStatus(key: SessionKey, message: OutgoingMessage, previous: MessageStatus): void {
    if (previous === 'queued') this.depths.set(keyString(key), Math.max(0, (this.depths.get(keyString(key)) ?? 1) - 1));
    if (previous === 'queued' && (message.status === 'sent' || message.status === 'failed' || message.sentAt)) {
      const acked = message.sentAt ? Date.parse(message.sentAt) - Date.parse(message.createdAt) : null;
      this.emit('sent', message.status === 'failed' ? 'failed' : 'sent', acked);
    }
    this.options.publish('message.status', key, { id: message.id, to: message.to, status: message.status, ...(message.error ? { error: message.error } : {}) });
    this.emit('changed', key);
  }

  private existing(key: SessionKey): NonNullable<ReturnType<MessagingRegistry['owner']>> {
    const owner = this.options.registry.owner(key);
    if (!owner) throw new SessionError('ERR_NOT_FOUND', `no session ${keyString(key)}`);
    return owner;
  }

  private leaseOf(view: SessionView): Lease | null {
    return this.options.registry.owner({ userId: view.userId, sessionId: view.sessionId })?.heldLease ?? null;
  }
}

/** What a contact sent, as the event carries it; null for our own messages, stubs and protocol messages. */
export function toReceived(message: WAMessage): ReceivedMessage | null {
  const { key } = message;
  if (key.fromMe || !key.id || !key.remoteJid || message.messageStubType || !message.message) return null;
  const content = message.message;
  if (content.protocolMessage || content.senderKeyDistributionMessage && Object.keys(content).length === 1) return null;
  const field = Object.keys(content).find((name) => name !== 'messageContextInfo' && name !== 'senderKeyDistributionMessage') ?? 'unknown';
  const kind = field.replace(/Message$/, '');
  const text = content.conversation ?? content.extendedTextMessage?.text ?? undefined;
  const caption = content.imageMessage?.caption ?? content.videoMessage?.caption ?? content.documentMessage?.caption ?? undefined;
  const quotedId = content.extendedTextMessage?.contextInfo?.stanzaId ?? undefined;
  const alt = (key as { remoteJidAlt?: string }).remoteJidAlt;
  const isLid = key.remoteJid.endsWith('@lid');
  return {
    id: key.id,
    chat: key.remoteJid,
    from: key.participant || (isLid && alt ? alt : key.remoteJid),
    ...(isLid ? { fromLid: key.remoteJid } : {}),
    ...(message.pushName ? { pushName: message.pushName } : {}),
    timestamp: Number(message.messageTimestamp ?? 0),
    type: kind === 'conversation' || kind === 'extendedText' ? 'text' : kind,
    ...(text !== undefined && text !== null ? { text } : {}),
    ...(caption ? { caption } : {}),
    ...(quotedId ? { quotedId } : {}),
    ...(key.participant ? { participant: key.participant } : {}),
  };
}
