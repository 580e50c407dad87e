/**
 * A webhook receiver on loopback: records every request (headers, raw body)
 * and answers as the test says (a status, a Retry-After, or never). It can go
 * down and come back on the same port, like a real receiver restarting.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  event: { id: string; type: string; userId: string; sessionId: string; node: string; time: string; payload: Record<string, unknown> };
}

/** What to answer: a status (with headers), or 'hang' to never answer. */
export type Answer = { status: number; headers?: Record<string, string> } | 'hang';

export class Receiver {
  readonly received: Received[] = [];
  answer: (request: Received) => Answer = () => ({ status: 204 });
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly hanging = new Set<ServerResponse>();
  private isDown = false;
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /**
   * Up, on `port` (any free one the first time). After down() the same server comes up again:
   * its port was never let go.
   */
  async start(port = this.port): Promise<this> {
    if (this.server && this.isDown) {
      this.isDown = false;
      return this;
    }
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const received: Received = { path: request.url ?? '/', headers: request.headers, body, event: JSON.parse(body) as Received['event'] };
        this.received.push(received);
        const answer = this.answer(received);
        if (answer === 'hang') {
          this.hanging.add(response);
          return;
        }
        response.writeHead(answer.status, answer.headers).end();
      });
    });
    server.on('connection', (socket) => {
      if (this.isDown) return void socket.resetAndDestroy();
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    return this;
  }

  /**
   * Down, as a receiver whose process died: every connection is reset at once, and so are
   * those in flight, until start() again. The port stays bound: a closed one could be taken
   * by the next server asking for any free port (the service under test, even), and the
   * webhook would then reach that server instead of failing.
   */
  async down(): Promise<void> {
    this.isDown = true;
    for (const socket of this.sockets) socket.resetAndDestroy();
    this.hanging.clear();
  }

  /** Gone for good: the server is closed and its port let go (a test's cleanup). */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    this.isDown = false;
    if (!server) return;
    for (const socket of this.sockets) socket.destroy();
    this.hanging.clear();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  get hangingCount(): number {
    return this.hanging.size;
  }

  /** The received events, first arrival of each id only, in arrival order. */
  unique(path?: string): Received[] {
    const seen = new Set<string>();
    return this.received.filter((r) => (path === undefined || r.path === path) && !seen.has(r.event.id) && seen.add(r.event.id));
  }
}

/** The receiver's check exactly as the README gives it (HMAC-SHA512 over `${timestamp}.${body}`, 5-minute window). */
export function verifiedByReadmeRecipe(secret: string, received: Received, nowMs = Date.now()): boolean {
  const timestamp = String(received.headers['x-wa-vigil-timestamp']);
  const signature = String(received.headers['x-wa-vigil-signature']);
  const expected = 'sha512=' + createHmac('sha512', secret).update(`${timestamp}.${received.body}`).digest('hex');
  const fresh = Math.abs(nowMs / 1000 - Number(timestamp)) <= 300;
  return fresh && signature.length === expected.length && timingSafeEqual(Buffer.from(signature), Buffer.from(expected)) && received.headers['x-wa-vigil-event-id'] === received.event.id;
}
