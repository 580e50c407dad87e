/**
 * The service's configuration, from the environment. Every value is checked
 * at start: a bad one stops the service with one line naming the variable.
 *
 * | variable | default | meaning |
 * | PORT | 3000 | HTTP port |
 * | HOST | 127.0.0.1 | HTTP address; a non-loopback one requires API_KEY |
 * | API_KEY | (none) | required on every route but /health when set |
 * | SESSIONS_DIR | ./sessions | where credentials live |
 * | WA_WS_URL | Baileys' default | WhatsApp's WebSocket URL (the simulator's in the demo) |
 * | LOG_LEVEL | info | pino level |
 * | RECONNECT_DELAYS_MS | 3000,10000,30000,60000,120000 | backoff schedule |
 * | MAX_RECONNECT_ATTEMPTS | 10 | attempts that reached WhatsApp without opening, then terminated: maxAttempts; 0 = never |
 * | KEEPALIVE_INTERVAL_MS | 300000 | our probe |
 * | HEALTH_CHECK_INTERVAL_MS | 300000 | "Session health check" lines |
 * | WA_KEEPALIVE_INTERVAL_MS | 30000 | Baileys' own keep-alive |
 * | CONNECT_TIMEOUT_MS | 60000 | Baileys' connect timeout |
 * | MAX_CONCURRENT_CONNECTS | 8 | handshakes at once (reconnect storms) |
 * | PRINT_QR | false | draw QR codes in the terminal |
 * | BAILEYS_LOG_LEVEL | error | Baileys' own log level |
 * | LEASE_TTL_MS | 10000 | a process silent this long is dead: its sessions are taken over |
 * | LEASE_RENEW_MS | 2000 | how often a process renews its leases and looks for dead owners' sessions |
 * | ALLOWED_HOSTS | (none) | extra Host names accepted without API_KEY (comma-separated) |
 * | ALLOWED_ORIGINS | (none) | browser origins allowed to change state (comma-separated) |
 */
import type { LevelWithSilent } from 'pino';
import { PolicyError, resolvePolicy, type SessionPolicy } from '../machines/session.policy.js';
import { defaultRenewIntervalMs } from './service/placement.js';
import { defaultLeaseTtlMs } from './store/files/file-ownership.js';
import { defaultSocketOptions } from './whatsapp/socket-options.js';

export interface ServiceConfig {
  port: number;
  host: string;
  apiKey: string | null;
  sessionsDir: string;
  logLevel: LevelWithSilent;
  baileysLogLevel: LevelWithSilent;
  waWebSocketUrl: string;
  policy: Partial<SessionPolicy>;
  waKeepAliveIntervalMs: number;
  connectTimeoutMs: number;
  maxConcurrentConnects: number;
  printQr: boolean;
  inspectWsUrl: string | null;
  leaseTtlMs: number;
  leaseRenewIntervalMs: number;
  /** Host header names accepted besides loopback ones when no API key is set. */
  allowedHosts: string[];
  /** Origins (scheme://host[:port]) allowed to send state-changing requests. */
  allowedOrigins: string[];
}

export class ConfigError extends Error {
  readonly code = 'ERR_CONFIG';
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

const loopback = new Set(['127.0.0.1', 'localhost', '::1']);
const levels = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

export function loadConfig(env: NodeJS.ProcessEnv = process.env): ServiceConfig {
  const host = env.HOST ?? '127.0.0.1';
  const apiKey = env.API_KEY ? env.API_KEY : null;
  if (!loopback.has(host) && !apiKey) throw new ConfigError('HOST', `${host} is reachable from other machines: set API_KEY too`);
  const logLevel = env.LOG_LEVEL ?? 'info';
  if (!levels.has(logLevel)) throw new ConfigError('LOG_LEVEL', `must be one of ${[...levels].join(', ')}`);
  const baileysLogLevel = env.BAILEYS_LOG_LEVEL ?? 'error';
  if (!levels.has(baileysLogLevel)) throw new ConfigError('BAILEYS_LOG_LEVEL', `must be one of ${[...levels].join(', ')}`);
  const waWebSocketUrl = env.WA_WS_URL ?? defaultSocketOptions.waWebSocketUrl;
  if (!/^wss?:\/\//.test(waWebSocketUrl)) throw new ConfigError('WA_WS_URL', 'must be a ws:// or wss:// URL');

  const policy: Partial<SessionPolicy> = {
    reconnectDelaysMs: list(env, 'RECONNECT_DELAYS_MS'),
    maxReconnectAttempts: integer(env, 'MAX_RECONNECT_ATTEMPTS', undefined, 0),
    keepAliveIntervalMs: integer(env, 'KEEPALIVE_INTERVAL_MS', undefined, 1),
    healthCheckIntervalMs: integer(env, 'HEALTH_CHECK_INTERVAL_MS', undefined, 1),
  };
  try {
    resolvePolicy(policy);
  } catch (error) {
    if (error instanceof PolicyError) throw new ConfigError(error.field, error.message);
    throw error;
  }

  const leaseTtlMs = integer(env, 'LEASE_TTL_MS', defaultLeaseTtlMs, 100, maxTimerMs)!;
  const leaseRenewIntervalMs = integer(env, 'LEASE_RENEW_MS', Math.min(defaultRenewIntervalMs, Math.floor(leaseTtlMs / 5)), 1, maxTimerMs)!;
  if (leaseRenewIntervalMs * 2 > leaseTtlMs) throw new ConfigError('LEASE_RENEW_MS', `must be at most half of LEASE_TTL_MS (${leaseTtlMs})`);
  const allowedOrigins = names(env, 'ALLOWED_ORIGINS');
  for (const origin of allowedOrigins) {
    if (!/^https?:\/\/[^/\s]+$/.test(origin)) throw new ConfigError('ALLOWED_ORIGINS', `"${origin}" is not an origin like https://crm.example.com`);
  }

  return {
    port: integer(env, 'PORT', 3000, 0, 65535)!,
    host,
    apiKey,
    sessionsDir: env.SESSIONS_DIR ?? './sessions',
    logLevel: logLevel as LevelWithSilent,
    baileysLogLevel: baileysLogLevel as LevelWithSilent,
    waWebSocketUrl,
    policy: Object.fromEntries(Object.entries(policy).filter(([, v]) => v !== undefined)),
    waKeepAliveIntervalMs: integer(env, 'WA_KEEPALIVE_INTERVAL_MS', defaultSocketOptions.keepAliveIntervalMs, 1)!,
    connectTimeoutMs: integer(env, 'CONNECT_TIMEOUT_MS', defaultSocketOptions.connectTimeoutMs, 1)!,
    maxConcurrentConnects: integer(env, 'MAX_CONCURRENT_CONNECTS', 8, 1)!,
    printQr: env.PRINT_QR === 'true' || env.PRINT_QR === '1',
    inspectWsUrl: env.INSPECT_WS_URL ? env.INSPECT_WS_URL : null,
    leaseTtlMs,
    leaseRenewIntervalMs,
    allowedHosts: names(env, 'ALLOWED_HOSTS').map((h) => h.toLowerCase()),
    allowedOrigins,
  };
}

/** Node's timers hold at most 2^31 - 1 ms; a longer delay fires at once. */
const maxTimerMs = 2 ** 31 - 1;

function names(env: NodeJS.ProcessEnv, name: string): string[] {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return [];
  return raw
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || value < min || value > max) throw new ConfigError(name, `must be a whole number from ${min} to ${max}, got "${raw}"`);
  return value;
}

function list(env: NodeJS.ProcessEnv, name: string): number[] | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const parts = raw.split(',').map((p) => p.trim());
  if (parts.some((p) => !/^\d+$/.test(p))) throw new ConfigError(name, `must be a comma-separated list of milliseconds, got "${raw}"`);
  return parts.map(Number);
}
