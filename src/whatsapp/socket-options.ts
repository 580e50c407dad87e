/**
 * How wa-vigil configures each Baileys socket. The defaults are the original
 * long-session design's, corrected where Baileys differs from what it assumed.
 */
import { DEFAULT_CONNECTION_CONFIG, proto, type UserFacingSocketConfig, type WABrowserDescription } from '@whiskeysockets/baileys';
import { whatsAppRootPublicKey } from './noise-root.js';

/**
 * How much old history Baileys downloads after linking:
 *   minimal  the bootstrap (contacts, LID ↔ phone number mappings), push names and
 *            non-blocking data, but no backlog of old messages. Baileys needs the
 *            mappings: refusing every sync makes it warn of instability.
 *   recent   Baileys' own default: everything but the full history.
 *   full     everything, the full history included.
 */
export type HistorySyncMode = 'minimal' | 'recent' | 'full';
export const historySyncModes: readonly HistorySyncMode[] = ['minimal', 'recent', 'full'];

const { HistorySyncType } = proto.HistorySync;
const minimalHistory = new Set<number>([HistorySyncType.INITIAL_BOOTSTRAP, HistorySyncType.PUSH_NAME, HistorySyncType.NON_BLOCKING_DATA]);

/** Baileys' shouldSyncHistoryMessage for a mode. */
export function historySyncFilter(mode: HistorySyncMode): (message: { syncType?: number | null }) => boolean {
  if (mode === 'full') return () => true;
  if (mode === 'recent') return ({ syncType }) => syncType !== HistorySyncType.FULL;
  return ({ syncType }) => syncType !== undefined && syncType !== null && minimalHistory.has(syncType);
}

export interface WhatsAppSocketOptions {
  /** WhatsApp's WebSocket endpoint; the simulator's URL in tests. Default: Baileys' own. */
  waWebSocketUrl: string;
  /**
   * The root public key the server's Noise certificate chain must be signed by (see
   * noise-certificate.ts). Default WhatsApp's; a simulator's in tests and the demo.
   */
  waRootPublicKey: Uint8Array;
  /** Give up a connect/handshake/send after this long. Default 60 000. */
  connectTimeoutMs: number;
  /**
   * A `w:p` keep-alive ping this often; a link silent this long gets a probe (see
   * link-watch.ts). Sent by the connection actor, not by Baileys. Default 30 000.
   */
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
  /** Show the account as online while connected. WhatsApp then holds back notifications on the phone. Default true. */
  markOnlineOnConnect: boolean;
  /** See HistorySyncMode. Default 'minimal'. */
  syncHistory: HistorySyncMode;
  generateHighQualityLinkPreview: boolean;
  /** Each QR's lifetime; undefined = Baileys' 60 s for the first, 20 s after. */
  qrTimeoutMs: number | undefined;
  /** Draw each QR in the terminal (Baileys 7's printQRInTerminal only logs a deprecation). Default false. */
  printQrInTerminal: boolean;
}

export const defaultSocketOptions: Readonly<WhatsAppSocketOptions> = Object.freeze({
  waWebSocketUrl: String(DEFAULT_CONNECTION_CONFIG.waWebSocketUrl),
  waRootPublicKey: whatsAppRootPublicKey,
  connectTimeoutMs: 60_000,
  keepAliveIntervalMs: 30_000,
  retryRequestDelayMs: 2_000,
  maxMsgRetryCount: 5,
  defaultQueryTimeoutMs: 120_000,
  browser: ['WhatsApp Long Session', 'Chrome', '1.0.0'] as WABrowserDescription,
  emitOwnEvents: false,
  markOnlineOnConnect: true,
  syncHistory: 'minimal' as HistorySyncMode,
  generateHighQualityLinkPreview: true,
  qrTimeoutMs: undefined,
  printQrInTerminal: false,
});

export function resolveSocketOptions(overrides: Partial<WhatsAppSocketOptions> = {}): WhatsAppSocketOptions {
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return { ...defaultSocketOptions, ...defined };
}

/**
 * Baileys' keep-alive interval, set so long that its check never runs in a
 * session's life: the largest delay setInterval accepts (about 24.8 days; a
 * longer one would fire every millisecond).
 */
export const baileysKeepAliveOffMs = 2_147_483_647;

/** The part of Baileys' config that comes from our options (auth, logger and getMessage are added per socket). */
export function toBaileysConfig(options: WhatsAppSocketOptions): Partial<UserFacingSocketConfig> {
  return {
    waWebSocketUrl: options.waWebSocketUrl,
    connectTimeoutMs: options.connectTimeoutMs,
    // Baileys' keep-alive cuts the link after interval + 5 s of Date.now() silence,
    // with no probe; the connection actor's LinkWatch does this job instead.
    keepAliveIntervalMs: baileysKeepAliveOffMs,
    retryRequestDelayMs: options.retryRequestDelayMs,
    maxMsgRetryCount: options.maxMsgRetryCount,
    defaultQueryTimeoutMs: options.defaultQueryTimeoutMs,
    browser: options.browser,
    emitOwnEvents: options.emitOwnEvents,
    markOnlineOnConnect: options.markOnlineOnConnect,
    generateHighQualityLinkPreview: options.generateHighQualityLinkPreview,
    // Long sessions do not replay old chats by default; new messages still arrive.
    shouldSyncHistoryMessage: historySyncFilter(options.syncHistory),
    shouldIgnoreJid: () => false,
    ...(options.qrTimeoutMs === undefined ? {} : { qrTimeout: options.qrTimeoutMs }),
  };
}
