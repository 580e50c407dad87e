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
 * | WEBHOOK_MAX_CONCURRENT | 8 | deliveries starting at once across subscriptions (one that waits on its receiver gives its place up, see dispatcher.ts) |
 * | MAX_WEBHOOKS | 100 | subscriptions in all (WEBHOOK_URL's included); POST /webhooks beyond it is 409 |
 * | WEBHOOK_ALLOW_SELF | false | allow subscriptions to this service's own addresses (self-address.ts) |
 * | EVENTS_RETENTION_MS | 3600000 | delivered events kept this long for GET /events resume |
 * | OUTBOX_MAX_BYTES | 134217728 | stored events past this: delivered ones pruned early, then the slowest subscription paused (backlog) |
 */
import { ConfigError, boolean, durationMs, integer, type Env } from '../config/config-values.js';
import { defaultOutboxMaxBytes, defaultRetentionMs } from '../outbox/outbox.js';
import { isEventType, type EventType } from '../outbox/fleet-event.js';
import { defaultDeliveryOptions, type DeliveryOptions } from './delivery-options.js';
import { pointsAtSelfLiterally, type SelfAddresses } from './self-address.js';
import { parseWebhookUrl, redactUrl } from './webhook-url.js';

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
  outboxMaxBytes: number;
  /** Subscriptions in all; creating one more is refused. Default 100. */
  maxSubscriptions: number;
  /** Subscriptions to the service's own addresses are allowed. Default false. */
  allowSelf: boolean;
  /** What is known of those addresses before listening (PORT unless 0, ADVERTISE_URL). */
  self: SelfAddresses;
}

export const defaultMaxSubscriptions = 100;

export const minSecretLength = 16;

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
  const allowSelf = boolean(env, 'WEBHOOK_ALLOW_SELF', false);
  const self = selfAddresses(env);
  return {
    subscription: envSubscription(env, allowSelf ? null : self),
    delivery,
    retentionMs: durationMs(env, 'EVENTS_RETENTION_MS', defaultRetentionMs),
    outboxMaxBytes: integer(env, 'OUTBOX_MAX_BYTES', defaultOutboxMaxBytes, 1024 * 1024, Number.MAX_SAFE_INTEGER),
    maxSubscriptions: integer(env, 'MAX_WEBHOOKS', defaultMaxSubscriptions, 1, 100_000),
    allowSelf,
    self,
  };
}

/** PORT and ADVERTISE_URL as config.ts reads them; config.ts reports them when they are wrong. */
function selfAddresses(env: Env): SelfAddresses {
  const port = Number(env.PORT ?? 3000);
  return { ports: Number.isInteger(port) && port > 0 ? [port] : [], origins: env.ADVERTISE_URL ? [env.ADVERTISE_URL] : [] };
}

function envSubscription(env: Env, self: SelfAddresses | null): EnvSubscription | null {
  const url = env.WEBHOOK_URL;
  if (!url) {
    if (env.WEBHOOK_SECRET) throw new ConfigError('WEBHOOK_SECRET', 'is set but WEBHOOK_URL is not');
    return null;
  }
  const parsed = parseWebhookUrl(url);
  if ('problem' in parsed) throw new ConfigError('WEBHOOK_URL', `${parsed.problem}, got "${redactUrl(url)}"`);
  if (self && pointsAtSelfLiterally(parsed.url, self)) {
    throw new ConfigError('WEBHOOK_URL', `points at this service itself (its events would loop back into it); set WEBHOOK_ALLOW_SELF=true if that is meant`);
  }
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
