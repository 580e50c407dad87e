/**
 * What the inspector shows of a session's outgoing messages: how many wait in
 * its queue, and the last few with their id, status and when that status was
 * reached. Never the text, never the recipient: an operator watching the fleet
 * needs to see that messages move, not what they say or to whom.
 */
import type { MessageStatus, OutgoingMessage } from '../store/message-queue.js';

/** Messages listed per session: enough to see a pattern (all failing, all stuck), short enough to read. */
export const lastMessagesShown = 10;

export interface MessageLine {
  id: string;
  status: MessageStatus;
  /** Why it failed (`expired`, `not_on_whatsapp`…): a code of ours, no personal data. */
  error?: string;
  /** When it reached its status (ISO); its acceptance for `queued` and `failed`. */
  at: string;
}

export interface MessageSummary {
  /** Messages with status `queued`: waiting for the session to be open, or written and not acknowledged. */
  queued: number;
  /** The last messages accepted, newest first. */
  last: MessageLine[];
}

function lineOf(message: OutgoingMessage): MessageLine {
  return {
    id: message.id,
    status: message.status,
    ...(message.error ? { error: message.error } : {}),
    at: message.readAt ?? message.deliveredAt ?? message.sentAt ?? message.createdAt,
  };
}

/** `messages`: the session's messages, oldest first (as the queue lists them). */
export function summarizeMessages(messages: readonly OutgoingMessage[], shown = lastMessagesShown): MessageSummary {
  return {
    queued: messages.filter((message) => message.status === 'queued').length,
    last: messages.slice(-shown).reverse().map(lineOf),
  };
}
