/**
 * Every environment variable the service reads, with its default and meaning:
 * the one list that `.env.example` is generated from (`npm run env-example`).
 * A test reads the configuration through a recording environment and fails
 * when a variable is read that is not listed here (or listed and never read),
 * and another sets each listed default explicitly and expects nothing to change
 * — so this table, the parser and `.env.example` cannot drift apart.
 */
export interface ConfigVariable {
  name: string;
  /** The default as a value the variable accepts; null when there is none to write (unset means something). */
  default: string | null;
  /** What unset means, when it is not a plain value. */
  unset?: string;
  meaning: string;
  /** A value to show commented out in .env.example when there is no default. */
  example?: string;
}

export const configVariables: readonly ConfigVariable[] = [
  { name: 'PORT', default: '3000', meaning: 'HTTP port' },
  { name: 'HOST', default: '127.0.0.1', meaning: 'HTTP address; a non-loopback one is refused unless API_KEY is set' },
  { name: 'API_KEY', default: null, unset: 'none', meaning: 'required on every route but /health when set; at least 16 characters, no whitespace', example: 'change-me-to-16-or-more-characters' },
  { name: 'SESSIONS_DIR', default: './sessions', meaning: 'credentials, one folder per session; a writable directory (created if missing)' },
  { name: 'WA_WS_URL', default: null, unset: "Baileys' default (WhatsApp)", meaning: "WhatsApp's WebSocket URL; the simulator's for demos", example: 'ws://127.0.0.1:3900/ws/chat' },
  { name: 'LOG_LEVEL', default: 'info', meaning: 'pino level: fatal, error, warn, info, debug, trace or silent' },
  { name: 'LOG_FORMAT', default: null, unset: 'pretty when stdout is a terminal, else json', meaning: 'json (one object per line, for shippers) or pretty', example: 'json' },
  { name: 'RECONNECT_DELAYS_MS', default: '3000,10000,30000,60000,120000', meaning: 'backoff schedule; the last repeats' },
  { name: 'RECONNECT_JITTER', default: '0', meaning: 'stretch each backoff delay by a random part of up to this fraction (0-1)' },
  { name: 'MAX_RECONNECT_ATTEMPTS', default: '10', meaning: 'consecutive attempts that reached WhatsApp but never opened, then terminated: maxAttempts; 0 = never give up' },
  { name: 'KEEPALIVE_INTERVAL_MS', default: '300000', meaning: 'our end-to-end probe while connected' },
  { name: 'HEALTH_CHECK_INTERVAL_MS', default: '300000', meaning: '"Session health check" log lines' },
  { name: 'WA_KEEPALIVE_INTERVAL_MS', default: '30000', meaning: 'w:p keep-alive ping to WhatsApp' },
  { name: 'CONNECT_TIMEOUT_MS', default: '60000', meaning: "Baileys' connect timeout" },
  { name: 'MAX_CONCURRENT_CONNECTS', default: '8', meaning: 'handshakes at once (spreads a reconnect storm)' },
  { name: 'PRINT_QR', default: 'false', meaning: 'also draw each QR once on stderr, when stderr is a terminal' },
  { name: 'BAILEYS_LOG_LEVEL', default: 'error', meaning: "Baileys' own log level" },
  { name: 'INSPECT_WS_URL', default: null, unset: 'none', meaning: 'also report every actor to a Stately inspector server (ws:// or wss://)', example: 'ws://127.0.0.1:4242' },
  { name: 'MARK_ONLINE_ON_CONNECT', default: 'true', meaning: 'show the account as online while connected (the phone then holds back notifications)' },
  { name: 'SYNC_HISTORY', default: 'minimal', meaning: 'minimal, recent or full: how much old history Baileys downloads' },
  { name: 'BROWSER_NAME', default: 'WhatsApp Long Session', meaning: 'the name the phone shows under Linked devices' },
  { name: 'MAX_HTTP_CONNECTIONS', default: '1024', meaning: 'open HTTP connections at once; more get 503' },
  { name: 'MAX_EVENT_STREAMS', default: '256', meaning: 'open event streams (API and inspector) at once; more get 503' },
  { name: 'LEASE_TTL_MS', default: null, unset: '10000 (15000 with DATABASE_URL)', meaning: 'a process silent this long is dead: its sessions are taken over', example: '10000' },
  { name: 'LEASE_RENEW_MS', default: null, unset: '2000 (TTL/3 with DATABASE_URL; at most TTL/2)', meaning: 'how often a process proves it is alive and looks for dead owners\' sessions', example: '2000' },
  { name: 'ALLOWED_HOSTS', default: null, unset: 'none', meaning: 'comma-separated Host names served without API_KEY besides loopback ones', example: 'wa.internal' },
  { name: 'ALLOWED_ORIGINS', default: null, unset: 'none', meaning: 'comma-separated browser origins allowed to change state', example: 'https://crm.example.com' },
  { name: 'DATABASE_URL', default: null, unset: 'none: files under SESSIONS_DIR', meaning: 'sessions, credentials and leases in PostgreSQL; several nodes form a cluster', example: 'postgres://wa:secret@127.0.0.1:5432/wa' },
  { name: 'ADVERTISE_URL', default: null, unset: 'where the node listens', meaning: "how other nodes reach this node's API (forwarded operations)", example: 'http://node-1.internal:3000' },
  { name: 'WEBHOOK_URL', default: null, unset: 'none', meaning: 'an http(s) URL that receives every event, signed', example: 'https://crm.example.com/hooks/whatsapp' },
  { name: 'WEBHOOK_SECRET', default: null, unset: 'none (required with WEBHOOK_URL)', meaning: 'its HMAC-SHA512 key, at least 16 characters', example: 'change-me-to-16-or-more-characters' },
  { name: 'WEBHOOK_EVENTS', default: null, unset: 'every type', meaning: 'comma-separated event types it receives', example: 'session.qr,session.terminated' },
  { name: 'WEBHOOK_INCLUDE_QR', default: 'false', meaning: 'send the QR text in session.qr to it' },
  { name: 'WEBHOOK_RETRY_FIRST_MS', default: '2000', meaning: 'first retry delay of a failed delivery (doubling, with jitter)' },
  { name: 'WEBHOOK_RETRY_MAX_MS', default: '300000', meaning: 'longest retry delay' },
  { name: 'WEBHOOK_RETRY_FOR_MS', default: '86400000', meaning: 'an event still failing after this long pauses its subscription' },
  { name: 'WEBHOOK_TIMEOUT_MS', default: '10000', meaning: 'a receiver that has not answered in this long has failed this attempt' },
  { name: 'WEBHOOK_MAX_CONCURRENT', default: '8', meaning: 'deliveries in flight at once across all subscriptions' },
  { name: 'EVENTS_RETENTION_MS', default: '3600000', meaning: 'delivered events are kept this long so GET /events can resume' },
  { name: 'MAX_WEBHOOKS', default: '100', meaning: 'subscriptions in all (the WEBHOOK_URL one included); one more is 409 too_many_webhooks' },
  { name: 'WEBHOOK_ALLOW_SELF', default: 'false', meaning: "allow subscriptions to this service's own addresses (refused otherwise: they loop)" },
  { name: 'OUTBOX_MAX_BYTES', default: '134217728', meaning: 'stored events past this: delivered ones pruned early, then the slowest subscription paused (backlog); at least 1 MiB' },
  { name: 'WA_ROOT_PUBLIC_KEY', default: null, unset: "WhatsApp's published root", meaning: "the root key the server's Noise certificate chain must lead to (hex or base64); only for a simulator", example: '<the simulator prints its root at start>' },
  { name: 'MESSAGE_TTL_MS', default: '86400000', meaning: 'a message still queued this long after it was accepted fails with expired' },
  { name: 'MAX_QUEUED_MESSAGES', default: '1000', meaning: 'queued messages per session; more are refused with 429' },
  { name: 'MESSAGE_RETENTION_MS', default: '604800000', meaning: "sent messages kept this long to answer a contact's retry receipt" },
  { name: 'MESSAGE_ACK_TIMEOUT_MS', default: '20000', meaning: 'a written message with no server ack this long makes the session probe its link' },
];

/** The text of `.env.example`: every variable commented out, at its default or with an example. */
export function renderEnvExample(variables: readonly ConfigVariable[] = configVariables): string {
  const lines = [
    '# wa-vigil configuration. Copy to .env (read at start from the folder the service starts in)',
    '# and uncomment what you change. A variable set in the environment wins over .env.',
    '# Generated from src/app/config-table.ts by `npm run env-example`: do not edit by hand.',
  ];
  for (const variable of variables) {
    lines.push('', `# ${variable.meaning}`);
    if (variable.default !== null) {
      lines.push(`# ${variable.name}=${quoted(variable.default)}`);
    } else {
      lines.push(`# unset: ${variable.unset ?? 'none'}`, `# ${variable.name}=${quoted(variable.example ?? '')}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Quotes a value with spaces or a # so .env parsers read it whole. */
function quoted(value: string): string {
  return /[\s#"']/.test(value) ? `"${value}"` : value;
}
