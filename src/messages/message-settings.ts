/**
 * Message settings from the environment, checked at start like every other
 * variable (one ConfigError naming it):
 *
 * | variable | default | meaning |
 * | MESSAGE_TTL_MS | 86400000 (24 h) | a message still queued this long after it was accepted fails with `expired` |
 * | MAX_QUEUED_MESSAGES | 1000 | queued messages per session; more are refused with 429 |
 * | MESSAGE_RETENTION_MS | 604800000 (7 days) | sent messages kept this long to answer a contact's retry receipt |
 * | MESSAGE_ACK_TIMEOUT_MS | 20000 | a message written with no server ack this long makes the session probe its link |
 */
import { durationMs, integer, type Env } from '../config/config-values.js';

export interface MessageSettings {
  ttlMs: number;
  maxQueued: number;
  retentionMs: number;
  ackTimeoutMs: number;
}

export const defaultMessageSettings: Readonly<MessageSettings> = Object.freeze({
  ttlMs: 24 * 60 * 60 * 1000,
  maxQueued: 1_000,
  retentionMs: 7 * 24 * 60 * 60 * 1000,
  ackTimeoutMs: 20_000,
});

/** Far above any sensible queue, low enough that a typo is caught. */
const maxQueuedLimit = 1_000_000;

export function messageSettings(env: Env): MessageSettings {
  return {
    ttlMs: durationMs(env, 'MESSAGE_TTL_MS', defaultMessageSettings.ttlMs),
    maxQueued: integer(env, 'MAX_QUEUED_MESSAGES', defaultMessageSettings.maxQueued, 1, maxQueuedLimit),
    retentionMs: durationMs(env, 'MESSAGE_RETENTION_MS', defaultMessageSettings.retentionMs),
    ackTimeoutMs: durationMs(env, 'MESSAGE_ACK_TIMEOUT_MS', defaultMessageSettings.ackTimeoutMs),
  };
}
