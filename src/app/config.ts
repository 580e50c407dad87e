/**
 * The service's configuration, from the environment. Every value is checked
 * at start: a bad one stops the service with one line naming the variable.
 *
 * | variable | default | meaning |
 * | PORT | 3000 | HTTP port |
 * | HOST | 127.0.0.1 | HTTP address; a non-loopback one requires API_KEY |
 * | API_KEY | (none) | required on every route but /health when set; ≥ 16 characters, no whitespace |
 * | SESSIONS_DIR | ./sessions | where credentials live; a writable directory (created if missing) |
 * | WA_WS_URL | Baileys' default | WhatsApp's WebSocket URL (the simulator's in the demo) |
 * | WA_ROOT_PUBLIC_KEY | WhatsApp's (whatsmeow's WACertPubKey) | the root key the server's Noise certificate chain must be signed by: 32 bytes, hex or base64 (a simulator's, in tests) |
 * | LOG_LEVEL | info | pino level |
 * | LOG_FORMAT | pretty at a terminal, else json | json or pretty |
 * | RECONNECT_DELAYS_MS | 3000,10000,30000,60000,120000 | backoff schedule |
 * | RECONNECT_JITTER | 0 | each backoff delay is stretched by up to this fraction (0–1) |
 * | MAX_RECONNECT_ATTEMPTS | 10 | reconnection attempts that reach WhatsApp without opening, then terminated: maxAttempts; 0 = never give up |
 * | KEEPALIVE_INTERVAL_MS | 300000 | our probe |
 * | HEALTH_CHECK_INTERVAL_MS | 300000 | "Session health check" lines |
 * | WA_KEEPALIVE_INTERVAL_MS | 30000 | Baileys' own keep-alive |
 * | CONNECT_TIMEOUT_MS | 60000 | Baileys' connect timeout |
 * | MAX_CONCURRENT_CONNECTS | 8 | handshakes at once (reconnect storms) |
 * | PRINT_QR | false | draw QR codes on stderr when it is a terminal |
 * | BAILEYS_LOG_LEVEL | error | Baileys' own log level |
 * | INSPECT_WS_URL | (none) | a Stately inspector server to report to |
 * | MARK_ONLINE_ON_CONNECT | true | show the account online while connected (the phone then holds back notifications) |
 * | SYNC_HISTORY | minimal | minimal, recent or full: how much old history Baileys downloads |
 * | BROWSER_NAME | WhatsApp Long Session | the device name shown under Linked devices |
 * | MAX_HTTP_CONNECTIONS | 1024 | open HTTP connections at once; more get 503 |
 * | MAX_EVENT_STREAMS | 256 | open event streams at once; more get 503 |
 * | LEASE_TTL_MS | 10000 (15000 with DATABASE_URL) | a process silent this long is dead: its sessions are taken over |
 * | LEASE_RENEW_MS | 2000 (TTL/3 with DATABASE_URL; at most TTL/2) | how often a process renews its leases and looks for dead owners' sessions |
 * | ALLOWED_HOSTS | (none) | extra Host names served without API_KEY (comma-separated) |
 * | ALLOWED_ORIGINS | (none) | browser origins allowed to change state (comma-separated) |
 * | DATABASE_URL | (none) | postgres://… : sessions and leases in PostgreSQL (a cluster); unset: files |
 * | ADVERTISE_URL | where it listens | how other nodes reach this node's API (forwarded operations) |
 * | WEBHOOK_* , MAX_WEBHOOKS, EVENTS_RETENTION_MS, OUTBOX_MAX_BYTES | | webhooks and the event outbox: see webhooks/webhook-settings.ts |
 * | MESSAGE_TTL_MS, MAX_QUEUED_MESSAGES, MESSAGE_RETENTION_MS, MESSAGE_ACK_TIMEOUT_MS | | outgoing messages: see messages/message-settings.ts |
 *
 * Every duration is at most 2^31 − 1 ms: Node's timers cannot hold more.
 */
import type { LevelWithSilent } from 'pino';
import { PolicyError, resolvePolicy, type SessionPolicy } from '../../machines/session.policy.js';
import {
  ConfigError,
  boolean,
  durationListMs,
  durationMs,
  integer,
  label,
  oneOf,
  parsedUrl,
  postgresUrl,
  ratio,
  webSocketUrl,
  writableDirectory,
  type Env,
} from '../config/config-values.js';
import { defaultServerLimits } from '../http/server-limits.js';
import { defaultRenewIntervalMs } from '../service/placement.js';
import { defaultLeaseTtlMs } from '../store/files/file-ownership.js';
import { defaultPgLeaseTtlMs } from '../store/postgres/pg-ownership.js';
import { logFormats, type LogFormat } from '../logging/logger.js';
import { webhookSettings, type WebhookSettings } from '../webhooks/webhook-settings.js';
import { messageSettings, type MessageSettings } from '../messages/message-settings.js';
import { parseRootPublicKey } from '../whatsapp/noise-root.js';
import { defaultSocketOptions, historySyncModes, type HistorySyncMode } from '../whatsapp/socket-options.js';

export { ConfigError, maxTimerMs } from '../config/config-values.js';

export interface ServiceConfig {
  port: number;
  host: string;
  apiKey: string | null;
  sessionsDir: string;
  logLevel: LevelWithSilent;
  /** Null: decided by whether stdout is a terminal. */
  logFormat: LogFormat | null;
  baileysLogLevel: LevelWithSilent;
  waWebSocketUrl: string;
  /** The root the server's Noise certificate chain must lead to (WhatsApp's unless a simulator's). */
  waRootPublicKey: Uint8Array;
  policy: Partial<SessionPolicy>;
  waKeepAliveIntervalMs: number;
  connectTimeoutMs: number;
  maxConcurrentConnects: number;
  printQr: boolean;
  inspectWsUrl: string | null;
  markOnlineOnConnect: boolean;
  syncHistory: HistorySyncMode;
  browserName: string;
  maxHttpConnections: number;
  maxEventStreams: number;
  /** PostgreSQL for a cluster of nodes; null: files under sessionsDir (the default). */
  databaseUrl: string | null;
  /** Where other nodes reach this node's API; null: derived from where it listens. */
  advertiseUrl: string | null;
  leaseTtlMs: number;
  leaseRenewIntervalMs: number;
  /** Host header names accepted besides loopback ones when no API key is set. */
  allowedHosts: string[];
  /** Origins (scheme://host[:port]) allowed to send state-changing requests. */
  allowedOrigins: string[];
  /** Webhook subscription from the environment, delivery tuning, event retention. */
  webhooks: WebhookSettings;
  /** Outgoing messages: expiry, queue limit, retention, ack timeout. */
  messages: MessageSettings;
}

const loopback = new Set(['127.0.0.1', 'localhost', '::1']);
const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Shorter keys can be guessed; whitespace cannot be sent reliably in a header. */
export const minApiKeyLength = 16;
const maxBrowserNameLength = 64;
/** Far above any sensible value, low enough that a typo is caught. */
const maxConcurrentConnectsLimit = 10_000;
const maxReconnectAttemptsLimit = 1_000_000;
const maxConnectionsLimit = 1_000_000;

export function loadConfig(env: Env = process.env): ServiceConfig {
  const host = env.HOST ?? '127.0.0.1';
  if (host.trim() === '') throw new ConfigError('HOST', 'must not be empty');
  const apiKey = checkedApiKey(env);
  if (!loopback.has(host) && !apiKey) throw new ConfigError('HOST', `${host} is reachable from other machines: set API_KEY too`);

  const policy: Partial<SessionPolicy> = {
    reconnectDelaysMs: durationListMs(env, 'RECONNECT_DELAYS_MS'),
    jitterRatio: ratio(env, 'RECONNECT_JITTER'),
    maxReconnectAttempts: integer(env, 'MAX_RECONNECT_ATTEMPTS', undefined, 0, maxReconnectAttemptsLimit),
    keepAliveIntervalMs: durationMs(env, 'KEEPALIVE_INTERVAL_MS', undefined),
    healthCheckIntervalMs: durationMs(env, 'HEALTH_CHECK_INTERVAL_MS', undefined),
  };
  const variableOf: Partial<Record<keyof SessionPolicy, string>> = {
    reconnectDelaysMs: 'RECONNECT_DELAYS_MS',
    jitterRatio: 'RECONNECT_JITTER',
    maxReconnectAttempts: 'MAX_RECONNECT_ATTEMPTS',
    keepAliveIntervalMs: 'KEEPALIVE_INTERVAL_MS',
    healthCheckIntervalMs: 'HEALTH_CHECK_INTERVAL_MS',
  };
  try {
    resolvePolicy(policy);
  } catch (error) {
    if (error instanceof PolicyError) throw new ConfigError(variableOf[error.field] ?? error.field, error.message);
    throw error;
  }

  const databaseUrl = postgresUrl(env, 'DATABASE_URL') ?? null;
  const advertiseUrl = parsedUrl(env, 'ADVERTISE_URL', ['http:', 'https:'], 'http:// or https://')?.origin ?? null;
  // A cluster renews over the network: a longer TTL and a third of it between renews (5 s of 15 s).
  const leaseTtlMs = durationMs(env, 'LEASE_TTL_MS', databaseUrl ? defaultPgLeaseTtlMs : defaultLeaseTtlMs);
  const leaseRenewIntervalMs = durationMs(
    env,
    'LEASE_RENEW_MS',
    Math.max(1, databaseUrl ? Math.floor(leaseTtlMs / 3) : Math.min(defaultRenewIntervalMs, Math.floor(leaseTtlMs / 5))),
  );
  if (leaseRenewIntervalMs * 2 > leaseTtlMs) throw new ConfigError('LEASE_RENEW_MS', `must be at most half of LEASE_TTL_MS (${leaseTtlMs})`);
  const allowedOrigins = names(env, 'ALLOWED_ORIGINS');
  for (const origin of allowedOrigins) {
    if (!/^https?:\/\/[^/\s]+$/.test(origin)) throw new ConfigError('ALLOWED_ORIGINS', `"${origin}" is not an origin like https://crm.example.com`);
  }

  return {
    port: integer(env, 'PORT', 3000, 0, 65535),
    host,
    apiKey,
    sessionsDir: writableDirectory(env, 'SESSIONS_DIR', './sessions'),
    logLevel: oneOf(env, 'LOG_LEVEL', levels, 'info'),
    logFormat: env.LOG_FORMAT ? oneOf(env, 'LOG_FORMAT', logFormats, 'json') : null,
    baileysLogLevel: oneOf(env, 'BAILEYS_LOG_LEVEL', levels, 'error'),
    waWebSocketUrl: webSocketUrl(env, 'WA_WS_URL') ?? defaultSocketOptions.waWebSocketUrl,
    waRootPublicKey: rootPublicKey(env, 'WA_ROOT_PUBLIC_KEY'),
    policy: Object.fromEntries(Object.entries(policy).filter(([, v]) => v !== undefined)),
    waKeepAliveIntervalMs: durationMs(env, 'WA_KEEPALIVE_INTERVAL_MS', defaultSocketOptions.keepAliveIntervalMs),
    connectTimeoutMs: durationMs(env, 'CONNECT_TIMEOUT_MS', defaultSocketOptions.connectTimeoutMs),
    maxConcurrentConnects: integer(env, 'MAX_CONCURRENT_CONNECTS', 8, 1, maxConcurrentConnectsLimit),
    printQr: boolean(env, 'PRINT_QR', false),
    inspectWsUrl: webSocketUrl(env, 'INSPECT_WS_URL') ?? null,
    markOnlineOnConnect: boolean(env, 'MARK_ONLINE_ON_CONNECT', defaultSocketOptions.markOnlineOnConnect),
    syncHistory: oneOf(env, 'SYNC_HISTORY', historySyncModes, defaultSocketOptions.syncHistory),
    browserName: label(env, 'BROWSER_NAME', defaultSocketOptions.browser[0], maxBrowserNameLength),
    maxHttpConnections: integer(env, 'MAX_HTTP_CONNECTIONS', defaultServerLimits.maxConnections, 1, maxConnectionsLimit),
    maxEventStreams: integer(env, 'MAX_EVENT_STREAMS', defaultServerLimits.maxEventStreams, 1, maxConnectionsLimit),
    databaseUrl,
    advertiseUrl,
    leaseTtlMs,
    leaseRenewIntervalMs,
    allowedHosts: names(env, 'ALLOWED_HOSTS').map((h) => h.toLowerCase()),
    allowedOrigins,
    webhooks: webhookSettings(env),
    messages: messageSettings(env),
  };
}

/** A Curve25519 public key (hex or base64); WhatsApp's when unset. */
function rootPublicKey(env: Env, name: string): Uint8Array {
  const text = env[name];
  if (text === undefined || text.trim() === '') return defaultSocketOptions.waRootPublicKey;
  const key = parseRootPublicKey(text);
  if (!key) throw new ConfigError(name, 'must be a 32-byte public key, as 64 hex digits or base64');
  return key;
}

/** A comma-separated list; empty when unset. */
function names(env: Env, name: string): string[] {
  return (env[name] ?? '')
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);
}

/** An unset or empty API_KEY means none; any other value must be a key a client can actually send and nobody can guess. */
function checkedApiKey(env: Env): string | null {
  const key = env.API_KEY;
  if (key === undefined || key === '') return null;
  if (/\s/.test(key)) throw new ConfigError('API_KEY', 'must not contain whitespace');
  if (key.length < minApiKeyLength) throw new ConfigError('API_KEY', `must be at least ${minApiKeyLength} characters, got ${key.length}`);
  return key;
}
