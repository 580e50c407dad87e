/**
 * A stand-in for Baileys' socket with just the surface the connection actor
 * uses: it opens on the next microtask, answers every ping and query at once,
 * and closes when the benchmark says so. What remains is the service's own
 * per-session work: the session actor, the connection actor, its link watch,
 * the log lines.
 */
import { EventEmitter } from 'node:events';
import type makeWASocket from '@whiskeysockets/baileys';

export class StandInSocket {
  readonly ev = new EventEmitter();
  readonly ws = Object.assign(new EventEmitter(), { isOpen: true, socket: { terminate: () => undefined } });
  readonly user: { id: string };
  private tag = 0;

  constructor(userId: string, onOpen: () => void) {
    this.user = { id: `${userId}@s.whatsapp.net` };
    queueMicrotask(() => {
      this.ws.emit('frame', {});
      this.ev.emit('connection.update', { connection: 'open' });
      onOpen();
    });
  }

  generateMessageTag(): string {
    return `t${++this.tag}`;
  }

  /** A keep-alive ping: its answer is the next inbound frame. */
  sendNode(): Promise<void> {
    this.ws.emit('frame', {});
    return Promise.resolve();
  }

  query(): Promise<unknown> {
    this.ws.emit('frame', {});
    return Promise.resolve({ tag: 'iq', attrs: { type: 'result' } });
  }

  async logout(): Promise<void> {}

  async end(): Promise<void> {
    this.ws.isOpen = false;
  }

  /** The link drops with `statusCode`, as Baileys reports it. */
  drop(statusCode: number, message: string): void {
    this.ws.isOpen = false;
    const error = Object.assign(new Error(message), { output: { statusCode } });
    this.ev.emit('connection.update', { connection: 'close', lastDisconnect: { error, date: new Date() } });
  }
}

/** A makeWASocket that builds stand-ins; `onOpen` runs as each emits its open. */
export function standInMaker(onOpen: () => void): typeof makeWASocket {
  let made = 0;
  return (() => new StandInSocket(`s${++made}`, onOpen)) as unknown as typeof makeWASocket;
}
