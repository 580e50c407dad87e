/**
 * What a node of a PostgreSQL cluster does beyond one process: hears when
 * another node lets sessions go (LISTEN, so they are taken within a tick, not a
 * TTL), and reaches the node that owns a session (forwarding an operation to its
 * advertised URL, so the caller gets the owner's answer on any node).
 *
 * Polling stays the truth: a lost notification only delays a takeover to the
 * next ownership tick.
 */
import type pg from 'pg';
import type { Logger } from '../logging/logger.js';
import { LeaseListener } from '../store/postgres/lease-listener.js';
import { leaseChannel, type PgOwnership } from '../store/postgres/pg-ownership.js';
import type { SessionKey } from '../store/session-key.js';

/** The header a forwarded request carries (naming the node it came from), so it is never forwarded twice. */
export const forwardedHeader = 'x-wa-vigil-forwarded';
/** A forwarded operation that takes longer than this answers 504. */
export const forwardTimeoutMs = 15_000;
/** At shutdown, how long UNLISTEN may take before the listening connection is dropped. */
export const unlistenWaitMs = 1_000;

export interface ForwardedAnswer {
  status: number;
  contentType: string | null;
  body: Buffer;
}

/** The owner's event stream, relayed by a node that does not run the session. */
export interface OwnerStream {
  body: ReadableStream<Uint8Array>;
  close(): void;
}

export interface ForwardRequest {
  method: string;
  /** Path and query, as received. */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  /** The route's parameters: a request about one session names it (userId, sessionId). */
  params?: unknown;
}

export interface ClusterOptions {
  ownership: PgOwnership;
  /** A new client with the node's connection settings: the LISTEN connection, outside the pool. */
  newClient: () => pg.Client;
  logger: Logger;
  /** Called when another node released sessions: look now. */
  onReleased(): void;
  /** How the last lease renew went. */
  renewStats(): { lastMs: number | null; at: string | null };
}

export class Cluster {
  private readonly listener: LeaseListener;
  private stopped = false;
  /** Per session, the forward sent last (its answer awaited): kept only while one is in flight. */
  private readonly forwarding = new Map<string, Promise<void>>();

  constructor(private readonly options: ClusterOptions) {
    // A lost LISTEN connection only costs promptness while it is re-opened: ticks still find released sessions.
    this.listener = new LeaseListener({
      newClient: options.newClient,
      channel: leaseChannel,
      logger: options.logger,
      // Back within a TTL at worst once the database answers again.
      maxRetryMs: Math.min(30_000, options.ownership.ttlMs),
      onNotified: (payload) => {
        if (payload !== this.holder) this.options.onReleased();
      },
    });
  }

  get holder(): string {
    return this.options.ownership.holder;
  }

  async start(): Promise<void> {
    await this.listener.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    // A database that no longer answers must not hold the shutdown: the connection is left to the pool's end.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, unlistenWaitMs)));
    await Promise.race([this.listener.stop(), late]);
    clearTimeout(timer);
  }

  /** Whether lease notifications are being received now (a LISTEN connection is open). */
  get listening(): boolean {
    return this.listener.listening;
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
   *
   * Operations on one session reach the owner in the order they failed here, which is
   * the order they arrived (the session's queue ran them one at a time): each forward
   * is sent once the one before it was answered, so a quick lookup or connect never
   * overtakes a slow one.
   */
  forward(request: ForwardRequest, owner: string): Promise<ForwardedAnswer | null> {
    if (this.stopped || request.headers[forwardedHeader]) return Promise.resolve(null);
    const session = sessionOf(request.params);
    if (session === null) return this.send(request, owner);
    const previous = this.forwarding.get(session) ?? Promise.resolve();
    const answer = previous.then(() => this.send(request, owner));
    const settled = answer.then(
      () => undefined,
      () => undefined,
    );
    this.forwarding.set(session, settled);
    void settled.then(() => {
      if (this.forwarding.get(session) === settled) this.forwarding.delete(session);
    });
    return answer;
  }

  /** Sessions with a forward in flight (bounded by them). */
  get forwardsInFlight(): number {
    return this.forwarding.size;
  }

  /**
   * Opens the owner's own event stream for a request on one of its sessions (GET …/events):
   * its body, read as it comes, and the way to close it; null when the owner cannot be
   * reached or does not answer 200 (the caller then answers as on one node). Only the wait
   * for the owner's headers is bounded: the stream itself is endless.
   */
  async openStream(request: ForwardRequest, owner: string): Promise<OwnerStream | null> {
    if (this.stopped || request.headers[forwardedHeader]) return null;
    const url = await this.urlOf(owner).catch(() => null);
    if (!url) return null;
    const aborts = new AbortController();
    const headersDue = setTimeout(() => aborts.abort(new Error(`no answer from ${owner} within ${forwardTimeoutMs} ms`)), forwardTimeoutMs);
    try {
      const res = await fetch(url + request.url, { headers: this.forwardHeaders(request), signal: aborts.signal });
      if (res.status !== 200 || !res.body) {
        aborts.abort();
        return null;
      }
      return { body: res.body, close: () => aborts.abort() };
    } catch (error) {
      this.options.logger.warn({ owner, err: error instanceof Error ? error.message : String(error) }, 'Opening the owning node’s event stream failed');
      return null;
    } finally {
      clearTimeout(headersDue);
    }
  }

  /** What a forwarded request carries: who forwarded it (so it is never forwarded again) and the caller's credentials. */
  private forwardHeaders(request: Pick<ForwardRequest, 'headers'>): Record<string, string> {
    const headers: Record<string, string> = { [forwardedHeader]: this.holder };
    for (const name of ['authorization', 'x-api-key', 'content-type', 'last-event-id']) {
      const value = request.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    return headers;
  }

  private async send(request: ForwardRequest, owner: string): Promise<ForwardedAnswer | null> {
    if (this.stopped) return null;
    const url = await this.urlOf(owner).catch(() => null);
    if (!url) return null;
    const headers = this.forwardHeaders(request);
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

  /**
   * Who runs a session now, asked of the database: a node that has only just learnt of a
   * session (or whose view is older than its last renew) does not know its owner yet.
   */
  liveOwner(key: SessionKey): Promise<string | null> {
    return this.options.ownership.liveOwner(key).catch(() => null);
  }

  members() {
    return this.options.ownership.members();
  }

  renewStats() {
    return this.options.renewStats();
  }
}

function sessionOf(params: unknown): string | null {
  if (typeof params !== 'object' || params === null) return null;
  const { userId, sessionId } = params as { userId?: unknown; sessionId?: unknown };
  return typeof userId === 'string' && typeof sessionId === 'string' ? `${userId}/${sessionId}` : null;
}
