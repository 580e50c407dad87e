/**
 * What a node of a PostgreSQL cluster does beyond one process: hears when
 * another node lets sessions go (LISTEN, so they are taken within a tick, not a
 * TTL), and reaches the node that owns a session (forwarding an operation to its
 * advertised URL, so the caller gets the owner's answer on any node).
 *
 * Polling stays the truth: a lost notification only delays a takeover to the
 * next ownership tick.
 */
import type { Pool, PoolClient } from 'pg';
import type { Logger } from '../logging/logger.js';
import { leaseChannel, type PgOwnership } from '../store/postgres/pg-ownership.js';

/** The header a forwarded request carries (naming the node it came from), so it is never forwarded twice. */
export const forwardedHeader = 'x-wa-vigil-forwarded';
/** A forwarded operation that takes longer than this answers 504. */
export const forwardTimeoutMs = 15_000;

export interface ForwardedAnswer {
  status: number;
  contentType: string | null;
  body: Buffer;
}

export interface ForwardRequest {
  method: string;
  /** Path and query, as received. */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

export interface ClusterOptions {
  pool: Pool;
  ownership: PgOwnership;
  logger: Logger;
  /** Called when another node released sessions: look now. */
  onReleased(): void;
  /** How the last lease renew went. */
  renewStats(): { lastMs: number | null; at: string | null };
}

export class Cluster {
  private listener: PoolClient | null = null;
  private stopped = false;

  constructor(private readonly options: ClusterOptions) {}

  get holder(): string {
    return this.options.ownership.holder;
  }

  async start(): Promise<void> {
    const client = await this.options.pool.connect();
    this.listener = client;
    client.on('notification', (message) => {
      if (message.channel === leaseChannel && message.payload !== this.holder) this.options.onReleased();
    });
    // A dropped LISTEN connection only costs promptness: ticks still find released sessions.
    client.on('error', (error) => this.options.logger.warn({ err: error.message }, 'Lease notifications lost; ownership ticks go on'));
    await client.query(`LISTEN ${leaseChannel}`);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const client = this.listener;
    this.listener = null;
    if (!client) return;
    await client.query(`UNLISTEN ${leaseChannel}`).catch(() => undefined);
    client.release();
  }

  /** The advertised URL of a live node, or null. */
  async urlOf(holder: string): Promise<string | null> {
    const nodes = await this.options.ownership.liveHolders();
    return nodes.find((n) => n.holder === holder)?.url ?? null;
  }

  /** Live nodes other than this one that can be reached. */
  async peers(): Promise<Array<{ holder: string; url: string }>> {
    const nodes = await this.options.ownership.liveHolders();
    return nodes.filter((n): n is { holder: string; url: string } => n.holder !== this.holder && n.url !== null);
  }

  /**
   * Sends an operation to the node that owns the session and returns its answer;
   * null when that node cannot be reached (the caller answers 409 as on one node).
   */
  async forward(request: ForwardRequest, owner: string): Promise<ForwardedAnswer | null> {
    if (this.stopped || request.headers[forwardedHeader]) return null;
    const url = await this.urlOf(owner);
    if (!url) return null;
    const headers: Record<string, string> = { [forwardedHeader]: this.holder };
    for (const name of ['authorization', 'x-api-key', 'content-type', 'last-event-id']) {
      const value = request.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const hasBody = request.body !== undefined && request.body !== null && request.method !== 'GET';
    try {
      const res = await fetch(url + request.url, {
        method: request.method,
        headers: hasBody ? { ...headers, 'content-type': 'application/json' } : headers,
        body: hasBody ? JSON.stringify(request.body) : undefined,
        signal: AbortSignal.timeout(forwardTimeoutMs),
      });
      return { status: res.status, contentType: res.headers.get('content-type'), body: Buffer.from(await res.arrayBuffer()) };
    } catch (error) {
      this.options.logger.warn({ owner, err: error instanceof Error ? error.message : String(error) }, 'Forwarding to the owning node failed');
      return null;
    }
  }

  /** GET a JSON document from every reachable peer (the cluster-wide session list). */
  async fromPeers<T>(path: string, headers: Record<string, string | string[] | undefined>): Promise<T[]> {
    const auth: Record<string, string> = { [forwardedHeader]: this.holder };
    for (const name of ['authorization', 'x-api-key']) {
      const value = headers[name];
      if (typeof value === 'string') auth[name] = value;
    }
    const answers = await Promise.all(
      (await this.peers()).map(async ({ url }) => {
        try {
          const res = await fetch(url + path, { headers: auth, signal: AbortSignal.timeout(forwardTimeoutMs) });
          return res.ok ? ((await res.json()) as T) : null;
        } catch {
          return null;
        }
      }),
    );
    return answers.filter((a): a is Awaited<T> => a !== null) as T[];
  }

  members() {
    return this.options.ownership.members();
  }

  renewStats() {
    return this.options.renewStats();
  }
}
