/**
 * The `connection` actor the session machine invokes for each attempt: one
 * Baileys socket, translated into machine events, and torn down completely
 * when the attempt ends.
 *
 *   admission slot granted  →  CONNECTION.ADMITTED (the machine's connect deadline starts)
 *   first server frame      →  CONNECTION.REACHED (this attempt reached WhatsApp)
 *   socket events           →  CONNECTION.QR / CONNECTION.OPEN / CONNECTION.CLOSED
 *   a silent link's probe unanswered  →  CONNECTION.CLOSED 408 (see link-watch.ts)
 *   PING                    →  a real `w:p` ping iq  →  PING.FAILED, or PING.RESTORED after failures
 *   LOGOUT                  →  sock.logout()
 *   stop                    →  listeners removed, sock.end(), ws terminated if it lingers
 *
 * What "reached" means, from Baileys' lib/Socket/socket.js: every frame the
 * server sends, from the Noise handshake's server hello on, is decoded and
 * emitted as `frame` on sock.ws. A refused connection, a DNS failure, a reset
 * before the handshake and ws' own handshake timeout surface as ws `error` /
 * `close` before any frame. An HTTP error at the upgrade would leave Baileys
 * waiting with nothing reported (it listens to ws' `unexpected-response`, so ws
 * does not abort); this actor reports it as a close and aborts the request. None
 * of them emit a frame, so none of them reach WhatsApp.
 *
 * A server whose Noise certificate chain does not lead to the trusted root
 * (noise-certificate.ts) answered, but did not prove it is WhatsApp: the handshake
 * is refused, logged and reported as a close with `outage: true`, so it spends
 * nothing of the give-up budget and is never taken for a logout.
 */
import type { ClientRequest, IncomingMessage } from 'node:http';
import makeWASocket, {
  S_WHATSAPP_NET,
  type BaileysEventMap,
  type ConnectionState,
  type proto,
  type WAMessageKey,
  type WASocket,
} from '@whiskeysockets/baileys';
import type { WebSocket } from 'ws';
import { fromCallback, type AnyActorRef } from 'xstate';
import type { ConnectionCommand, ConnectionEvent, ConnectionInput } from '../../machines/session.events.js';
import type { AuthStateHandle } from '../store/session-store.js';
import type { Logger } from '../logging/logger.js';
import { baileysLogger } from './baileys-logger.js';
// Side effect: Baileys' certificate checks remember what they verified (reconnect CPU).
import { isNoiseCertificateError, trustNoiseRoot } from './noise-certificate.js';
import { defaultDeadLinkProbeTimeoutMs, LinkWatch, type LinkWatchClock } from './link-watch.js';
import { publishProbeRoundTrip } from './probe-channel.js';
import { RecentMessageStore } from './message-store.js';
import { createTerminalQrPrinter } from './terminal-qr.js';
import { toBaileysConfig, type WhatsAppSocketOptions } from './socket-options.js';

/** After sock.end(), how long the close handshake may take before the socket is cut. */
export const closeGraceMs = 1_000;

export { defaultDeadLinkProbeTimeoutMs };

/**
 * The default staleLinkAfterMs: one keep-alive interval. A healthy link hears
 * the answer to a keep-alive ping within that; longer silence earns a probe.
 */
export function defaultStaleLinkAfterMs(socketOptions: WhatsAppSocketOptions): number {
  return socketOptions.keepAliveIntervalMs;
}

/** A session's credentials as Baileys wants them, and how to save a change. */
export type { AuthStateHandle } from '../store/session-store.js';

export interface ConnectionDependencies {
  /**
   * Opens (creating if needed) the credentials of a session, for one attempt of `session`
   * (the session actor that invoked it): each attempt asks again, so credentials are bound
   * to the actor and lease they were opened for.
   */
  openAuthState(userId: string, sessionId: string, session?: AnyActorRef): Promise<AuthStateHandle>;
  socketOptions: WhatsAppSocketOptions;
  /** Baileys' own logs go to this (a quiet child logger). */
  baileysLogger: Logger;
  /** The service's own lines about a connection (a refused certificate). Default baileysLogger. */
  logger?: Logger;
  /**
   * No inbound frame for this long sends a probe (a `w:p` ping); if the probe
   * hears nothing within deadLinkProbeTimeoutMs, the link is dead even if TCP
   * has not noticed: report 408 and cut the socket. Usually one keep-alive
   * interval (defaultStaleLinkAfterMs). 0 turns dead-link detection off.
   */
  staleLinkAfterMs: number;
  /** How long a dead-link probe may go unanswered. Default defaultDeadLinkProbeTimeoutMs (12 s). */
  deadLinkProbeTimeoutMs?: number;
  /**
   * Bounds how many attempts handshake at once; the slot is held until QR, open
   * or close. CONNECTION.ADMITTED is reported once it is granted.
   */
  admission?: { acquire(): Promise<() => void> };
  /**
   * Answers Baileys' getMessage (a contact's retry receipt): our own sent messages, by id.
   * Without it, or when it knows nothing, the messages seen by this attempt only.
   */
  getMessage?(userId: string, sessionId: string, key: WAMessageKey): Promise<proto.IMessage | undefined>;
  /** Told about each live socket (for pairing codes); null when it goes. */
  onSocket?(userId: string, sessionId: string, socket: WASocket | null, session?: AnyActorRef): void;
  /** Builds the socket. Default Baileys' makeWASocket; a stand-in in benchmarks of the actor's own cost. */
  makeSocket?: typeof makeWASocket;
  /** Time and timers of the link watch. Default Node's (see link-watch.ts). */
  clock?: LinkWatchClock;
}

/** Baileys keeps its `ws` WebSocket in a protected field: the only handle that can terminate without waiting 30 s for a close frame. */
function rawWebSocket(sock: WASocket): WebSocket | null {
  return (sock.ws as unknown as { socket: WebSocket | null }).socket;
}

function closeOf(update: Partial<ConnectionState>): { statusCode?: number; message?: string; outage?: true } {
  const error = update.lastDisconnect?.error as (Error & { output?: { statusCode?: number } }) | undefined;
  // A refused certificate has no status code, and must not read as one: never a logout, never WhatsApp's answer.
  if (isNoiseCertificateError(error)) return { message: error.message, outage: true };
  return { statusCode: error?.output?.statusCode, message: error?.message };
}

export function createConnectionLogic(deps: ConnectionDependencies) {
  return fromCallback<ConnectionCommand, ConnectionInput>(({ input, sendBack, receive, self }) => {
    const { userId, sessionId } = input;
    /** The session actor this attempt belongs to. */
    const session = self._parent;
    let stopped = false;
    let closedReported = false;
    /** The last probe failed: the next answer is news (PING.RESTORED). */
    let probeFailing = false;
    let sock: WASocket | null = null;
    let logoutDone: Promise<void> | null = null;
    /** A server frame arrived in this attempt (CONNECTION.REACHED was reported). */
    let reached = false;
    let linkWatch: LinkWatch | null = null;
    let saveCreds: (() => Promise<void>) | null = null;
    const messages = new RecentMessageStore();
    const drawQr = deps.socketOptions.printQrInTerminal ? createTerminalQrPrinter(`${userId}/${sessionId}`) : null;
    let releaseAdmission: (() => void) | null = null;
    const leaveAdmission = () => {
      releaseAdmission?.();
      releaseAdmission = null;
    };

    const report = (event: ConnectionEvent) => {
      // The slot is held through the handshake: until a QR, an open or a close.
      if (event.type === 'CONNECTION.QR' || event.type === 'CONNECTION.OPEN' || event.type === 'CONNECTION.CLOSED') leaveAdmission();
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
      // The handshake is over once a QR or an open comes: keep the link alive from here on.
      if (update.qr || update.connection === 'open') linkWatch?.start();
      if (update.qr) {
        if (drawQr) void drawQr(update.qr);
        report({ type: 'CONNECTION.QR', qr: update.qr });
      }
      if (update.connection === 'open') {
        const me = sock?.user;
        report({ type: 'CONNECTION.OPEN', ...(me ? { me: { id: me.id, ...(me.name ? { name: me.name } : {}) } } : {}) });
      }
      if (update.connection === 'close') {
        linkWatch?.stop();
        const error = update.lastDisconnect?.error;
        if (isNoiseCertificateError(error)) {
          // Which check failed, never the keys or certificates themselves.
          (deps.logger ?? deps.baileysLogger).warn({ userId, sessionId, reason: error.reason }, 'WhatsApp server certificate refused: handshake aborted (not WhatsApp, or not the configured root)');
        }
        report({ type: 'CONNECTION.CLOSED', ...closeOf(update) });
      }
    };
    const onMessages = ({ messages: upserted }: BaileysEventMap['messages.upsert']) => {
      for (const message of upserted) messages.remember(message);
    };
    // Every inbound frame passes here: keep it to a clock read and a flag.
    const onFrame = () => {
      linkWatch?.frameArrived();
      if (reached) return;
      reached = true;
      report({ type: 'CONNECTION.REACHED' });
    };
    // No status code: an HTTP 403 here is the edge refusing the upgrade, not WhatsApp's 403 (forbidden) close.
    const onUpgradeRefused = (request: ClientRequest, response: IncomingMessage) => {
      report({ type: 'CONNECTION.CLOSED', message: `HTTP ${response.statusCode ?? 'error'} at the WebSocket upgrade` });
      request.destroy();
    };
    const onCredsUpdate = () => {
      saveCreds?.().catch((error: unknown) => deps.baileysLogger.error({ userId, sessionId, err: error }, 'Saving credentials failed'));
    };

    const watchLink = (socket: WASocket) =>
      new LinkWatch({
        keepAliveIntervalMs: deps.socketOptions.keepAliveIntervalMs,
        silenceBeforeProbeMs: deps.staleLinkAfterMs,
        probeTimeoutMs: deps.deadLinkProbeTimeoutMs ?? defaultDeadLinkProbeTimeoutMs,
        ...(deps.clock ? { clock: deps.clock } : {}),
        sendPing: () => {
          if (!socket.ws.isOpen) return;
          socket
            .sendNode({ tag: 'iq', attrs: { id: socket.generateMessageTag(), to: S_WHATSAPP_NET, type: 'get', xmlns: 'w:p' }, content: [{ tag: 'ping', attrs: {} }] })
            .catch(() => undefined);
        },
        onDead: (silentMs) => {
          const probeS = Math.round((deps.deadLinkProbeTimeoutMs ?? defaultDeadLinkProbeTimeoutMs) / 1000);
          report({ type: 'CONNECTION.CLOSED', statusCode: 408, message: `no traffic for ${Math.round(silentMs / 1000)}s, probe unanswered for ${probeS}s: link presumed dead` });
          rawWebSocket(socket)?.terminate();
        },
      });

    const start = async () => {
      const release = deps.admission ? await deps.admission.acquire() : null;
      if (stopped) return release?.();
      releaseAdmission = release;
      report({ type: 'CONNECTION.ADMITTED' });
      const auth = await deps.openAuthState(userId, sessionId, session);
      if (stopped) return;
      trustNoiseRoot(deps.socketOptions.waRootPublicKey);
      sock = (deps.makeSocket ?? makeWASocket)({
        ...toBaileysConfig(deps.socketOptions),
        auth: auth.state,
        logger: baileysLogger(deps.baileysLogger.child({ userId, sessionId })),
        getMessage: async (key) => (await deps.getMessage?.(userId, sessionId, key)) ?? messages.get(key),
      });
      saveCreds = () => auth.saveCreds();
      linkWatch = watchLink(sock);
      sock.ev.on('creds.update', onCredsUpdate);
      sock.ev.on('connection.update', onConnectionUpdate);
      sock.ev.on('messages.upsert', onMessages);
      sock.ws.on('frame', onFrame);
      sock.ws.on('unexpected-response', onUpgradeRefused);
      deps.onSocket?.(userId, sessionId, sock, session);
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
      linkWatch?.stop();
      // A dying socket may still emit creds.update: this attempt has ended and writes nothing more.
      saveCreds = null;
      const current = sock;
      if (!current) return;
      deps.onSocket?.(userId, sessionId, null, session);
      current.ev.off('creds.update', onCredsUpdate);
      current.ev.off('connection.update', onConnectionUpdate);
      current.ev.off('messages.upsert', onMessages);
      current.ws.off('frame', onFrame);
      current.ws.off('unexpected-response', onUpgradeRefused);
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
