/**
 * The `connection` actor the session machine invokes for each attempt: one
 * Baileys socket, translated into machine events, and torn down completely
 * when the attempt ends.
 *
 *   socket events  →  CONNECTION.QR / CONNECTION.OPEN / CONNECTION.CLOSED
 *   PING           →  a real `w:p` ping iq  →  PING.FAILED, or PING.RESTORED after failures
 *   LOGOUT         →  sock.logout()
 *   stop           →  listeners removed, sock.end(), ws terminated if it lingers
 */
import makeWASocket, {
  S_WHATSAPP_NET,
  type AuthenticationState,
  type BaileysEventMap,
  type ConnectionState,
  type WASocket,
} from '@whiskeysockets/baileys';
import type { WebSocket } from 'ws';
import { fromCallback } from 'xstate';
import type { ConnectionCommand, ConnectionEvent, ConnectionInput } from '../../machines/session.events.js';
import type { Logger } from '../logging/logger.js';
import { baileysLogger } from './baileys-logger.js';
import { publishProbeRoundTrip } from './probe-channel.js';
import { RecentMessageStore } from './message-store.js';
import { createTerminalQrPrinter } from './terminal-qr.js';
import { toBaileysConfig, type WhatsAppSocketOptions } from './socket-options.js';

/** After sock.end(), how long the close handshake may take before the socket is cut. */
export const closeGraceMs = 1_000;
/** How often the dead-link watchdog looks at the last inbound frame. */
export const staleCheckIntervalMs = 1_000;

/** Margin over Baileys' keep-alive interval before a silent link counts as dead (Baileys itself waits interval + 5 s). */
const staleLinkMarginMs = 5_000;

/** The default staleLinkAfterMs: one Baileys keep-alive interval plus a margin of silence. */
export function defaultStaleLinkAfterMs(socketOptions: WhatsAppSocketOptions): number {
  return socketOptions.keepAliveIntervalMs + staleLinkMarginMs;
}

/** A session's credentials as Baileys wants them, and how to save a change. */
export interface AuthStateHandle {
  state: AuthenticationState;
  saveCreds(): Promise<void>;
}

export interface ConnectionDependencies {
  /** Opens (creating if needed) the credentials of a session. */
  openAuthState(userId: string, sessionId: string): Promise<AuthStateHandle>;
  socketOptions: WhatsAppSocketOptions;
  /** Baileys' own logs go to this (a quiet child logger). */
  baileysLogger: Logger;
  /**
   * No inbound frame for this long means the link is dead even if TCP has not
   * noticed: report 408 and cut the socket. Baileys pings every
   * keepAliveIntervalMs, so a healthy link is never this quiet. 0 turns it off.
   */
  staleLinkAfterMs: number;
  /** Bounds how many attempts handshake at once; the slot is held until QR, open or close. */
  admission?: { acquire(): Promise<() => void> };
  /** Told about each live socket (for pairing codes); null when it goes. */
  onSocket?(userId: string, sessionId: string, socket: WASocket | null): void;
}

/** Baileys keeps its `ws` WebSocket in a protected field: the only handle that can terminate without waiting 30 s for a close frame. */
function rawWebSocket(sock: WASocket): WebSocket | null {
  return (sock.ws as unknown as { socket: WebSocket | null }).socket;
}

function closeOf(update: Partial<ConnectionState>): { statusCode?: number; message?: string } {
  const error = update.lastDisconnect?.error as (Error & { output?: { statusCode?: number } }) | undefined;
  return { statusCode: error?.output?.statusCode, message: error?.message };
}

export function createConnectionLogic(deps: ConnectionDependencies) {
  return fromCallback<ConnectionCommand, ConnectionInput>(({ input, sendBack, receive }) => {
    const { userId, sessionId } = input;
    let stopped = false;
    let closedReported = false;
    /** The last probe failed: the next answer is news (PING.RESTORED). */
    let probeFailing = false;
    let sock: WASocket | null = null;
    let logoutDone: Promise<void> | null = null;
    let lastFrameAt = Date.now();
    let watchdog: NodeJS.Timeout | null = null;
    const messages = new RecentMessageStore();
    const drawQr = deps.socketOptions.printQrInTerminal ? createTerminalQrPrinter(`${userId}/${sessionId}`) : null;
    let releaseAdmission: (() => void) | null = null;
    const leaveAdmission = () => {
      releaseAdmission?.();
      releaseAdmission = null;
    };

    const report = (event: ConnectionEvent) => {
      if (event.type.startsWith('CONNECTION.')) leaveAdmission();
      if (stopped) return;
      if (event.type === 'PING.RESTORED' && !probeFailing) return; // a healthy link's answer changes nothing
      if (event.type.startsWith('PING.')) probeFailing = event.type === 'PING.FAILED';
      if (event.type === 'CONNECTION.CLOSED') {
        if (closedReported) return;
        closedReported = true;
      }
      sendBack(event);
    };

    const onConnectionUpdate = (update: Partial<ConnectionState>) => {
      if (update.qr) {
        if (drawQr) void drawQr(update.qr);
        report({ type: 'CONNECTION.QR', qr: update.qr });
      }
      if (update.connection === 'open') {
        const me = sock?.user;
        report({ type: 'CONNECTION.OPEN', ...(me ? { me: { id: me.id, ...(me.name ? { name: me.name } : {}) } } : {}) });
      }
      if (update.connection === 'close') report({ type: 'CONNECTION.CLOSED', ...closeOf(update) });
    };
    const onMessages = ({ messages: upserted }: BaileysEventMap['messages.upsert']) => {
      for (const message of upserted) messages.remember(message);
    };
    const onFrame = () => {
      lastFrameAt = Date.now();
    };

    const watchForSilence = () => {
      if (deps.staleLinkAfterMs <= 0) return;
      watchdog = setInterval(() => {
        const silentMs = Date.now() - lastFrameAt;
        if (!sock?.ws.isOpen || silentMs <= deps.staleLinkAfterMs) return;
        report({ type: 'CONNECTION.CLOSED', statusCode: 408, message: `no traffic for ${Math.round(silentMs / 1000)}s: link presumed dead` });
        rawWebSocket(sock)?.terminate();
      }, staleCheckIntervalMs);
    };

    const start = async () => {
      const release = deps.admission ? await deps.admission.acquire() : null;
      if (stopped) return release?.();
      releaseAdmission = release;
      const auth = await deps.openAuthState(userId, sessionId);
      if (stopped) return;
      sock = makeWASocket({
        ...toBaileysConfig(deps.socketOptions),
        auth: auth.state,
        logger: baileysLogger(deps.baileysLogger.child({ userId, sessionId })),
        getMessage: messages.get,
      });
      lastFrameAt = Date.now();
      sock.ev.on('creds.update', () => {
        auth.saveCreds().catch((error: unknown) => deps.baileysLogger.error({ userId, sessionId, err: error }, 'Saving credentials failed'));
      });
      sock.ev.on('connection.update', onConnectionUpdate);
      sock.ev.on('messages.upsert', onMessages);
      sock.ws.on('frame', onFrame);
      deps.onSocket?.(userId, sessionId, sock);
      watchForSilence();
    };

    const probe = async () => {
      if (!sock || !sock.ws.isOpen) {
        report({ type: 'PING.FAILED', error: 'socket not open' });
        return;
      }
      const sentAt = performance.now();
      try {
        const answer = await sock.query(
          { tag: 'iq', attrs: { to: S_WHATSAPP_NET, type: 'get', xmlns: 'w:p' }, content: [{ tag: 'ping', attrs: {} }] },
          input.probeTimeoutMs,
        );
        // Baileys resolves a timed-out query with undefined rather than rejecting.
        if (answer) publishProbeRoundTrip({ userId, sessionId, roundTripMs: performance.now() - sentAt });
        report(answer ? { type: 'PING.RESTORED' } : { type: 'PING.FAILED', error: `no answer within ${input.probeTimeoutMs} ms` });
      } catch (error) {
        report({ type: 'PING.FAILED', error: error instanceof Error ? error.message : String(error) });
      }
    };

    receive((command) => {
      if (command.type === 'PING') void probe();
      if (command.type === 'LOGOUT' && sock) {
        // The unlink request is written to the socket synchronously, before the stop that follows.
        logoutDone = sock.logout().catch(() => undefined);
      }
    });

    start().catch((error: unknown) => {
      report({ type: 'CONNECTION.CLOSED', message: `could not start the socket: ${error instanceof Error ? error.message : String(error)}` });
    });

    return () => {
      stopped = true;
      leaveAdmission();
      if (watchdog) clearInterval(watchdog);
      const current = sock;
      if (!current) return;
      deps.onSocket?.(userId, sessionId, null);
      current.ev.off('connection.update', onConnectionUpdate);
      current.ev.off('messages.upsert', onMessages);
      current.ws.off('frame', onFrame);
      const finish = async () => {
        if (logoutDone) await Promise.race([logoutDone, delay(input.probeTimeoutMs)]);
        const raw = rawWebSocket(current);
        const cut = setTimeout(() => raw?.terminate(), closeGraceMs);
        await current.end(undefined);
        clearTimeout(cut);
      };
      void finish().catch(() => undefined);
    };
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
