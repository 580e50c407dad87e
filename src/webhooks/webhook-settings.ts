/**
 * Webhook and event settings from the environment, checked at start like
 * every other variable (one ConfigError naming it):
 *
 * | variable | default | meaning |
 * | WEBHOOK_URL | (none) | an http(s) URL that receives every event (a subscription kept across restarts) |
 * | WEBHOOK_SECRET | (required with WEBHOOK_URL) | HMAC-SHA512 key for its signatures; at least 16 characters |
 * | WEBHOOK_EVENTS | every type | comma-separated event types it receives |
 * | WEBHOOK_INCLUDE_QR | false | send the QR text in session.qr to it |
 * | WEBHOOK_RETRY_FIRST_MS | 2000 | first retry delay; doubles (with jitter) each failure |
 * | WEBHOOK_RETRY_MAX_MS | 300000 | longest retry delay |
 * | WEBHOOK_RETRY_FOR_MS | 86400000 | an event failing this long pauses its subscription |
 * | WEBHOOK_TIMEOUT_MS | 10000 | a receiver silent this long is a failed delivery |
 * | WEBHOOK_MAX_CONCURRENT | 8 | deliveries in flight at once across subscriptions |
 * | EVENTS_RETENTION_MS | 3600000 | delivered events kept this long for GET /events resume |
 */
import { ConfigError, boolean, durationMs, integer, type Env } from '../config-values.js';
import { defaultRetentionMs } from '../events/files/file-outbox.js';
import { isEventType, type EventType } from '../events/fleet-event.js';
import { defaultDeliveryOptions, type DeliveryOptions } from './delivery-options.js';

export interface EnvSubscription {
  url: string;
  secret: string;
  events: EventType[] | null;
  includeQr: boolean;
}

export interface WebhookSettings {
  subscription: EnvSubscription | null;
  delivery: DeliveryOptions;
  retentionMs: number;
}

export const minSecretLength = 16;

/** Null when `text` is an http(s) URL; otherwise what is wrong with it. */
export function httpUrlProblem(text: string): string | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'must be an http:// or https:// URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be an http:// or https:// URL';
  return null;
}

/** Null when the list names only known event types; otherwise the first unknown one. */
export function unknownEventType(types: readonly string[]): string | null {
  return types.find((type) => !isEventType(type)) ?? null;
}

export function webhookSettings(env: Env): WebhookSettings {
  const delivery: DeliveryOptions = {
    retryFirstMs: durationMs(env, 'WEBHOOK_RETRY_FIRST_MS', defaultDeliveryOptions.retryFirstMs),
    retryMaxMs: durationMs(env, 'WEBHOOK_RETRY_MAX_MS', defaultDeliveryOptions.retryMaxMs),
    retryForMs: durationMs(env, 'WEBHOOK_RETRY_FOR_MS', defaultDeliveryOptions.retryForMs),
    timeoutMs: durationMs(env, 'WEBHOOK_TIMEOUT_MS', defaultDeliveryOptions.timeoutMs),
    maxConcurrent: integer(env, 'WEBHOOK_MAX_CONCURRENT', defaultDeliveryOptions.maxConcurrent, 1, 1000),
  };
  if (delivery.retryMaxMs < delivery.retryFirstMs) throw new ConfigError('WEBHOOK_RETRY_MAX_MS', `must be at least WEBHOOK_RETRY_FIRST_MS (${delivery.retryFirstMs})`);
  return { subscription: envSubscription(env), delivery, retentionMs: durationMs(env, 'EVENTS_RETENTION_MS', defaultRetentionMs) };
}

function envSubscription(env: Env): EnvSubscription | null {
  const url = env.WEBHOOK_URL;
  if (!url) {
    if (env.WEBHOOK_SECRET) throw new ConfigError('WEBHOOK_SECRET', 'is set but WEBHOOK_URL is not');
    return null;
  }
  const problem = httpUrlProblem(url);
  if (problem) throw new ConfigError('WEBHOOK_URL', `${problem}, got "${url}"`);
  const secret = env.WEBHOOK_SECRET ?? '';
  if (secret.length < minSecretLength) throw new ConfigError('WEBHOOK_SECRET', `must be at least ${minSecretLength} characters when WEBHOOK_URL is set`);
  const listed = (env.WEBHOOK_EVENTS ?? '')
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);
  const unknown = unknownEventType(listed);
  if (unknown) throw new ConfigError('WEBHOOK_EVENTS', `unknown event type "${unknown}"`);
  return { url, secret, events: listed.length > 0 ? (listed as EventType[]) : null, includeQr: boolean(env, 'WEBHOOK_INCLUDE_QR', false) };
}
