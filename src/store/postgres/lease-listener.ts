/**
 * LISTEN for lease releases on a connection of its own — never a pooled one, so
 * it costs the pool no slot, whatever happens to it.
 *
 * Any error or end of that connection (the database restarted, the network cut,
 * an operator's pg_terminate_backend) drops it and opens a new one after a
 * backoff that doubles up to a cap and starts over once a LISTEN succeeds. A
 * notification sent while no connection listened is lost, so every new LISTEN
 * is followed by one onNotified() call: the node looks at once, as if told.
 * stop() ends the connection and any pending retry.
 */
import pg from 'pg';
import type { Logger } from '../../logging/logger.js';

export interface LeaseListenerOptions {
  /** Makes a new, unconnected client (the node's connection settings). */
  newClient: () => pg.Client;
  channel: string;
  logger: Logger;
  /** A notification arrived (its payload), or one may have been missed (null). */
  onNotified: (payload: string | null) => void;
  /** Logged when the connection is lost (what the node does meanwhile). Default: about lease releases. */
  lostMessage?: string;
  /** First retry delay. Default 250 ms. */
  minRetryMs?: number;
  /** Longest retry delay. Default 30 s. */
  maxRetryMs?: number;
}

export class LeaseListener {
  private client: pg.Client | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryMs: number;
  private stopped = false;
  private connecting: Promise<void> | null = null;
  /** LISTEN connections opened so far (the first included). */
  connections = 0;

  constructor(private readonly options: LeaseListenerOptions) {
    this.retryMs = options.minRetryMs ?? 250;
  }

  /** Listens; resolves once the first LISTEN is in place, or (after logging) once a retry is scheduled. */
  start(): Promise<void> {
    this.stopped = false;
    return this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    await this.connecting?.catch(() => undefined);
    const client = this.client;
    this.client = null;
    if (client) await client.end().catch(() => undefined);
  }

  /** Whether a LISTEN connection is in place now. */
  get listening(): boolean {
    return this.client !== null;
  }

  private connect(): Promise<void> {
    this.connecting ??= this.open().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private async open(): Promise<void> {
    const client = this.options.newClient();
    let failed = false;
    const fail = (error: Error | null) => {
      if (failed) return;
      failed = true;
      if (this.client === client) this.client = null;
      client.end().catch(() => undefined);
      if (this.stopped) return;
      this.options.logger.warn(
        { err: error?.message ?? 'connection ended', retryInMs: this.retryMs },
        this.options.lostMessage ?? 'Lease notifications lost; listening again after a pause (ownership ticks go on)',
      );
      this.scheduleRetry();
    };
    client.on('error', (error) => fail(error));
    client.on('end', () => fail(null));
    client.on('notification', (message) => {
      if (message.channel === this.options.channel) this.options.onNotified(message.payload ?? null);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${this.options.channel}`);
    } catch (error) {
      fail(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    if (this.stopped || failed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.connections += 1;
    this.retryMs = this.options.minRetryMs ?? 250;
    // Releases sent while nobody listened are not replayed: look now.
    if (this.connections > 1) this.options.onNotified(null);
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.stopped) return;
    const delay = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, this.options.maxRetryMs ?? 30_000);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.stopped) void this.connect();
    }, delay);
    this.retryTimer.unref?.();
  }
}
