/**
 * How wa-vigil configures each Baileys socket. The defaults are the original
 * long-session design's, corrected where Baileys differs from what it assumed.
 */
import { DEFAULT_CONNECTION_CONFIG, type UserFacingSocketConfig, type WABrowserDescription } from '@whiskeysockets/baileys';

export interface WhatsAppSocketOptions {
  /** WhatsApp's WebSocket endpoint; the simulator's URL in tests. Default: Baileys' own. */
  waWebSocketUrl: string;
  /** Give up a connect/handshake/send after this long. Default 60 000. */
  connectTimeoutMs: number;
  /** Baileys' own `w:p` keep-alive and dead-link check (it gives up after this + 5 s of silence). Default 30 000. */
  keepAliveIntervalMs: number;
  /** Wait between message retry requests. Default 2 000. */
  retryRequestDelayMs: number;
  /** Retries of a message that failed to decrypt (the design's "maxRetries"; Baileys has no such option). Default 5. */
  maxMsgRetryCount: number;
  /** Timeout of a query (iq). Default 120 000. */
  defaultQueryTimeoutMs: number;
  /** How the linked device names itself on the phone. */
  browser: WABrowserDescription;
  emitOwnEvents: boolean;
  markOnlineOnConnect: boolean;
  generateHighQualityLinkPreview: boolean;
  /** Each QR's lifetime; undefined = Baileys' 60 s for the first, 20 s after. */
  qrTimeoutMs: number | undefined;
  /** Draw each QR in the terminal (Baileys 7's printQRInTerminal only logs a deprecation). Default false. */
  printQrInTerminal: boolean;
}

export const defaultSocketOptions: Readonly<WhatsAppSocketOptions> = Object.freeze({
  waWebSocketUrl: String(DEFAULT_CONNECTION_CONFIG.waWebSocketUrl),
  connectTimeoutMs: 60_000,
  keepAliveIntervalMs: 30_000,
  retryRequestDelayMs: 2_000,
  maxMsgRetryCount: 5,
  defaultQueryTimeoutMs: 120_000,
  browser: ['WhatsApp Long Session', 'Chrome', '1.0.0'] as WABrowserDescription,
  emitOwnEvents: false,
  markOnlineOnConnect: true,
  generateHighQualityLinkPreview: true,
  qrTimeoutMs: undefined,
  printQrInTerminal: false,
});

export function resolveSocketOptions(overrides: Partial<WhatsAppSocketOptions> = {}): WhatsAppSocketOptions {
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return { ...defaultSocketOptions, ...defined };
}

/** The part of Baileys' config that comes from our options (auth, logger and getMessage are added per socket). */
export function toBaileysConfig(options: WhatsAppSocketOptions): Partial<UserFacingSocketConfig> {
  return {
    waWebSocketUrl: options.waWebSocketUrl,
    connectTimeoutMs: options.connectTimeoutMs,
    keepAliveIntervalMs: options.keepAliveIntervalMs,
    retryRequestDelayMs: options.retryRequestDelayMs,
    maxMsgRetryCount: options.maxMsgRetryCount,
    defaultQueryTimeoutMs: options.defaultQueryTimeoutMs,
    browser: options.browser,
    emitOwnEvents: options.emitOwnEvents,
    markOnlineOnConnect: options.markOnlineOnConnect,
    generateHighQualityLinkPreview: options.generateHighQualityLinkPreview,
    // Long sessions do not replay old chats; new messages still arrive.
    shouldSyncHistoryMessage: () => false,
    shouldIgnoreJid: () => false,
    ...(options.qrTimeoutMs === undefined ? {} : { qrTimeout: options.qrTimeoutMs }),
  };
}
