/**
 * Optional: report every session actor to a Stately inspector server through
 * `@statelyai/inspect` (set INSPECT_WS_URL), for people who can reach
 * stately.ai and want its UI.
 *
 * Its own WebSocket adapter retries every 5 s forever and restarts even after
 * stop(); a missing receiver must never harm the service, so this bridge uses
 * the library's inspector with an adapter of ours: a bounded buffer while not
 * connected, a bounded number of connect attempts, nothing left after stop().
 * QR text is replaced before anything leaves the process.
 */
import { createInspector, type StatelyInspectionEvent } from '@statelyai/inspect';
import WebSocket from 'ws';
import type { InspectionEvent } from 'xstate';
import type { Logger } from '../logging/logger.js';

export interface StatelyBridgeOptions {
  url: string;
  logger: Logger;
  /** Events kept while not connected; the oldest are dropped. Default 200. */
  maxBufferedEvents?: number;
  /** Connect attempts before giving up for good. Default 5. */
  maxConnectAttempts?: number;
  /** Wait between attempts. Default 5 000 ms. */
  retryDelayMs?: number;
}

export interface StatelyBridge {
  inspect(event: InspectionEvent): void;
  stop(): void;
  /** Connect attempts made so far. */
  readonly connectAttempts: number;
}

/** The shape createInspector expects of an adapter (the library does not export its type). */
type Adapter = Parameters<typeof createInspector>[0];

class BoundedWebSocketAdapter implements Adapter {
  connectAttempts = 0;
  private socket: WebSocket | null = null;
  private buffer: string[] = [];
  private retryTimer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(private readonly options: Required<StatelyBridgeOptions>) {}

  start(): void {
    if (this.stopped || this.connectAttempts >= this.options.maxConnectAttempts) return;
    this.connectAttempts += 1;
    const socket = new WebSocket(this.options.url);
    this.socket = socket;
    socket.on('open', () => {
      for (const line of this.buffer.splice(0)) socket.send(line);
    });
    socket.on('error', () => undefined); // 'close' follows
    socket.on('close', () => {
      if (this.socket === socket) this.socket = null;
      if (this.stopped) return;
      if (this.connectAttempts >= this.options.maxConnectAttempts) {
        this.options.logger.warn({ url: this.options.url, attempts: this.connectAttempts }, 'Stately inspector unreachable: giving up');
        this.buffer = [];
        return;
      }
      this.retryTimer = setTimeout(() => this.start(), this.options.retryDelayMs);
      this.retryTimer.unref();
    });
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.socket?.terminate();
    this.socket = null;
    this.buffer = [];
  }

  send(event: StatelyInspectionEvent): void {
    if (this.stopped) return;
    const line = JSON.stringify(event);
    if (this.socket?.readyState === WebSocket.OPEN) {
      this.socket.send(line);
      return;
    }
    if (this.connectAttempts >= this.options.maxConnectAttempts && !this.socket) return;
    this.buffer.push(line);
    if (this.buffer.length > this.options.maxBufferedEvents) this.buffer.shift();
  }
}

function withoutQr<T>(value: T): T {
  if (!value || typeof value !== 'object' || !('qr' in value)) return value;
  return { ...value, qr: (value as { qr: unknown }).qr ? '[redacted]' : null };
}

/**
 * A session actor is listed under its session's name, `userId/sessionId`,
 * instead of XState's `x:0`: the library names an actor by its id, which for a
 * root actor is its system session id. Its context carries the ids.
 */
function namedAfterSession(event: StatelyInspectionEvent): StatelyInspectionEvent {
  if (event.type !== '@xstate.actor') return event;
  const context = (event.snapshot as { context?: { userId?: unknown; sessionId?: unknown } } | undefined)?.context;
  if (typeof context?.userId !== 'string' || typeof context.sessionId !== 'string') return event;
  return { ...event, name: `${context.userId}/${context.sessionId}` };
}

export function createStatelyBridge(options: StatelyBridgeOptions): StatelyBridge {
  const adapter = new BoundedWebSocketAdapter({ maxBufferedEvents: 200, maxConnectAttempts: 5, retryDelayMs: 5_000, ...options });
  const inspector = createInspector(adapter, {
    sanitizeContext: (context) => withoutQr(context),
    sanitizeEvent: (event) => withoutQr(event),
    serialize: namedAfterSession,
  });
  adapter.start();
  return {
    inspect: (event) => inspector.inspect.next?.(event),
    stop: () => adapter.stop(),
    get connectAttempts() {
      return adapter.connectAttempts;
    },
  };
}
