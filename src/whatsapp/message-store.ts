/**
 * The recent messages of one session, so Baileys' `getMessage` can answer a
 * retry receipt (a recipient that failed to decrypt asks for the message again;
 * answering `undefined` leaves it undelivered). Bounded: the oldest go first.
 */
import type { proto, WAMessage, WAMessageKey } from '@whiskeysockets/baileys';

/** Retry receipts arrive within minutes; this many messages cover a busy session's minutes. */
export const defaultMessageCapacity = 1_000;

export class RecentMessageStore {
  private readonly messages = new Map<string, proto.IMessage>();

  constructor(private readonly capacity = defaultMessageCapacity) {}

  get size(): number {
    return this.messages.size;
  }

  remember(message: WAMessage): void {
    if (!message.message || !message.key.id) return;
    const key = keyOf(message.key);
    this.messages.delete(key);
    this.messages.set(key, message.message);
    while (this.messages.size > this.capacity) {
      const oldest = this.messages.keys().next().value as string;
      this.messages.delete(oldest);
    }
  }

  /** Baileys' getMessage. */
  get = async (key: WAMessageKey): Promise<proto.IMessage | undefined> => this.messages.get(keyOf(key));
}

function keyOf(key: WAMessageKey): string {
  return `${key.remoteJid ?? ''}|${key.id ?? ''}`;
}
