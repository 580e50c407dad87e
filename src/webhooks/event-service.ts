/**
 * The fleet's events, wired: the registry's news become events (session-events.ts),
 * each appended to the outbox before it counts as emitted, then delivered to
 * webhooks (../webhooks/dispatcher.ts) and streamed on GET /events — both read
 * the outbox. Built by service.ts; the HTTP routes and metrics use it.
 *
 * Start it before the registry loads (so the restores' changes are events),
 * stop it after the registry has shut down (so the last changes are stored).
 */
import type { Logger } from '../logging/logger.js';
import { Dispatcher } from './dispatcher.js';
import { DeliveryLeases } from './postgres/delivery-leases.js';
import { importFolderSubscriptions } from './postgres/import-folder.js';
import { clusterCursorScope, pgSubscriptionFiles } from './postgres/pg-subscriptions.js';
import { publicView, SubscriptionStore, type PublicSubscription, type Subscription, type SubscriptionChanges } from './subscriptions.js';
import type { WebhookSettings } from './webhook-settings.js';
import { EventIdFactory } from '../outbox/event-id.js';
import { FileOutbox } from '../outbox/files/file-outbox.js';
import { PgOutbox, type PgOutboxOptions } from '../outbox/postgres/pg-outbox.js';
import { visibleTo, type EventType, type FleetEvent } from '../outbox/fleet-event.js';
import type { SessionKey } from '../store/session-key.js';
import type { Outbox, OutboxBacklog } from '../outbox/outbox.js';
import { SessionEventSource, type EventSourceRegistry } from '../outbox/session-events.js';

/** How often delivered events past their retention are removed. */
const pruneIntervalMs = 60_000;

export interface EventServiceOptions {
  sessionsDir: string;
  registry: EventSourceRegistry;
  /** This process's holder id: every event's `node`. */
  node: string;
  settings: WebhookSettings;
  logger: Logger;
  /** Told when the outbox could not store events (the storage fault metric and /health). */
  onWriteFailure?: (error: unknown) => void;
  /** An outbox write works again after failures. */
  onWriteRecovered?: () => void;
  /**
   * The cluster's database: the outbox is its events table, and the subscriptions its
   * `wa_vigil_webhooks`, shared by every node, each delivered by the node that holds its
   * delivery lease (TTL and renew interval: the session leases'). Else both in sessionsDir.
   */
  postgres?: Pick<PgOutboxOptions, 'pool' | 'newClient'> & {
    leaseTtlMs: number;
    leaseRenewIntervalMs: number;
    /** The live nodes' holder ids: subscriptions are spread over them (absent: the first node that looks takes a free one). */
    liveHolders?: () => Promise<string[]>;
  };
}

export class EventService {
  readonly outbox: Outbox;
  readonly subscriptions: SubscriptionStore;
  readonly dispatcher: Dispatcher;
  /** Who delivers what, on PostgreSQL; null on files (this process delivers everything). */
  readonly leases: DeliveryLeases | null = null;
  private source: SessionEventSource | null = null;
  private ids: EventIdFactory | null = null;
  private pruneTimer: NodeJS.Timeout | null = null;
  private readonly appends = new Set<Promise<void>>();

  constructor(readonly options: EventServiceOptions) {
    const outboxOptions = {
      retentionMs: options.settings.retentionMs,
      maxBytes: options.settings.outboxMaxBytes,
      logger: options.logger.child({ component: 'outbox' }),
      ...(options.onWriteFailure ? { onWriteFailure: options.onWriteFailure } : {}),
      ...(options.onWriteRecovered ? { onWriteRecovered: options.onWriteRecovered } : {}),
    };
    const postgres = options.postgres;
    const logger = options.logger.child({ component: 'webhooks' });
    if (postgres) {
      // One set of subscriptions for the cluster, their cursors under one scope, every node's events.
      this.outbox = new PgOutbox({ pool: postgres.pool, ...(postgres.newClient ? { newClient: postgres.newClient } : {}), ...outboxOptions, cursorScope: clusterCursorScope, sharedCursors: true });
      this.subscriptions = new SubscriptionStore(options.sessionsDir, { maxSubscriptions: options.settings.maxSubscriptions, logger, files: pgSubscriptionFiles(postgres.pool), shared: true });
      this.dispatcher = new Dispatcher(this.outbox, this.subscriptions, options.settings.delivery, logger, { mode: 'claimed' });
      // Other nodes' additions, deletions and pauses are read at each renew tick (see refreshSubscriptions).
      this.leases = new DeliveryLeases({
        pool: postgres.pool,
        holder: options.node,
        ttlMs: postgres.leaseTtlMs,
        renewIntervalMs: postgres.leaseRenewIntervalMs,
        logger,
        refresh: async () => {
          await this.refreshSubscriptions();
          return this.subscriptions.list().map((subscription) => subscription.id);
        },
        granted: (id, claim) => this.dispatcher.claim(id, claim),
        lost: (id, options) => this.dispatcher.release(id, options),
        ...(postgres.liveHolders ? { liveHolders: postgres.liveHolders } : {}),
      });
    } else {
      this.outbox = new FileOutbox(options.sessionsDir, outboxOptions);
      this.subscriptions = new SubscriptionStore(options.sessionsDir, { maxSubscriptions: options.settings.maxSubscriptions, logger });
      this.dispatcher = new Dispatcher(this.outbox, this.subscriptions, options.settings.delivery, logger);
    }
  }

  async start(): Promise<void> {
    await this.outbox.open();
    if (this.options.postgres) await importFolderSubscriptions(this.options.postgres.pool, this.options.sessionsDir, this.options.logger.child({ component: 'webhooks' }));
    await this.subscriptions.load(this.options.settings.subscription);
    this.outbox.onAppended(() => this.dispatcher.notify());
    this.outbox.onBacklog((backlog) => void this.pauseForBacklog(backlog));
    await this.dispatcher.start();
    this.leases?.start();
    this.ids = new EventIdFactory(this.outbox.newestId());
    this.source = new SessionEventSource(this.options.registry, this.options.node, this.ids, (events) => this.emit(events));
    this.source.attach();
    await this.prune();
    this.pruneTimer = setInterval(() => void this.prune(), pruneIntervalMs);
    this.pruneTimer.unref();
  }

  /** Boot restores have run (service.ts). */
  announceRestored(): void {
    this.source?.announceRestored();
  }

  async stop(): Promise<void> {
    this.source?.detach();
    this.source = null;
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    // Closing first ends the retries of a write the disk keeps refusing (one last try), so the appends settle.
    const closing = this.outbox.close();
    await Promise.all(this.appends);
    await closing;
    // Deliveries stop before their leases are given up, so no two nodes deliver one subscription at once.
    await this.leases?.stop();
    await this.dispatcher.stop();
    await this.outbox.close();
  }

  /** Every subscription (in a cluster: read again first, so one made on another node is listed at once). */
  async listSubscriptions(): Promise<PublicSubscription[]> {
    // The database unreachable: this node's view as of its last tick is still an answer (/health says why).
    await this.refreshSubscriptions().catch((error: unknown) => this.options.logger.warn({ component: 'webhooks', err: error instanceof Error ? error.message : String(error) }, 'Webhook subscriptions not read again; listing what this node last saw'));
    return this.subscriptions.list().map(publicView);
  }

  async addSubscription(fields: Pick<Subscription, 'url' | 'secret' | 'events' | 'includeQr'>): Promise<PublicSubscription> {
    const subscription = await this.subscriptions.add(fields);
    await this.dispatcher.added(subscription);
    // In a cluster, some node (this one, first to look) takes its delivery lease now rather than at the next tick.
    void this.leases?.tick();
    return publicView(subscription);
  }

  /** False when there is no such subscription. */
  async removeSubscription(id: string): Promise<boolean> {
    if (!this.subscriptions.get(id)) await this.refreshSubscriptions();
    if (!this.subscriptions.get(id)) return false;
    await this.dispatcher.removed(id);
    return this.subscriptions.remove(id);
  }

  /** The subscription after its pause is cleared; undefined when there is none. */
  async resumeSubscription(id: string): Promise<PublicSubscription | undefined> {
    if (!this.subscriptions.get(id)) await this.refreshSubscriptions();
    if (!this.subscriptions.get(id)) return undefined;
    await this.dispatcher.resume(id);
    return publicView(this.subscriptions.get(id)!);
  }

  /**
   * In a cluster, takes what other nodes changed in the subscriptions: polled at every
   * renew tick (the delivery leases are renewed then anyway, and a missed notification
   * would need the poll regardless), and read before every /webhooks answer. On files: nothing.
   */
  async refreshSubscriptions(): Promise<void> {
    if (!this.leases) return;
    this.applyChanges(await this.subscriptions.reload());
  }

  private applyChanges(changes: SubscriptionChanges): void {
    // A deletion elsewhere: the worker stops (its lease row went with it; the tick forgets the lease).
    for (const id of changes.removed) void this.dispatcher.release(id);
    for (const id of changes.changed) this.dispatcher.changed(id);
  }

  /** An event about a session this node runs that is not a transition (messages): stored, then delivered like the rest. */
  emitSessionEvent(type: EventType, key: SessionKey, payload: Record<string, unknown>): void {
    // Stopped (or not started): the outbox takes nothing more.
    if (!this.ids || !this.source) return;
    this.emit([{ id: this.ids.next(), type, userId: key.userId, sessionId: key.sessionId, node: this.options.node, time: new Date().toISOString(), payload }]);
  }

  /** Resolves once every append begun so far has ended (stored, or given up and logged). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.appends]);
  }

  /** Never awaited by the caller (a registry listener): the append runs on its own. */
  private emit(fresh: FleetEvent[]): void {
    // A QR's text reaches the disk only when a subscription will send it somewhere (new subscriptions start from now).
    const keepQr = this.subscriptions.list().some((subscription) => subscription.includeQr);
    const events = fresh.map((event) => visibleTo(event, keepQr));
    const append = this.outbox.append(events).catch((error: unknown) => {
      if ((error as { code?: string }).code === 'ERR_OUTBOX_FENCED') {
        // The session moved to another node as these happened: that node speaks for it now.
        this.options.logger.warn({ err: (error as Error).message, events: events.map((e) => `${e.type} ${e.id}`) }, 'Events about a session this node no longer holds were not stored');
        return;
      }
      // Types and ids only: a QR's text never reaches the log.
      this.options.logger.error({ err: error instanceof Error ? error.message : String(error), events: events.map((e) => `${e.type} ${e.id}`) }, 'Events could not be stored in the outbox');
    });
    this.appends.add(append);
    void append.finally(() => this.appends.delete(append));
  }

  /**
   * The outbox reached OUTBOX_MAX_BYTES with this subscription holding the
   * oldest undelivered events: it is paused (reason `backlog`, visible on
   * GET /webhooks) rather than sessions blocked or the disk filled; on resume it
   * continues from the oldest event still kept.
   */
  private async pauseForBacklog(backlog: OutboxBacklog): Promise<void> {
    const subscription = this.subscriptions.get(backlog.subscriptionId);
    // Already paused for it (let go again after a restart, or a delivery that was in flight): said once.
    if (!subscription || subscription.paused?.reason === 'backlog') return;
    const message = `the outbox reached OUTBOX_MAX_BYTES (${backlog.maxBytes} bytes) with ${backlog.pendingEvents} events not yet delivered to this subscription; events after ${backlog.cursor ?? 'its start'} may be pruned before it resumes`;
    this.options.logger.error({ component: 'webhooks', subscription: backlog.subscriptionId, pendingEvents: backlog.pendingEvents, outboxBytes: backlog.bytes, maxBytes: backlog.maxBytes }, 'Outbox full: the slowest webhook subscription is paused (backlog)');
    try {
      const at = new Date().toISOString();
      await this.subscriptions.update(backlog.subscriptionId, { paused: { at, reason: 'backlog' }, lastError: { at, eventId: backlog.cursor ?? '', message, status: null } });
    } catch (error) {
      this.options.logger.warn({ err: error instanceof Error ? error.message : String(error), subscription: backlog.subscriptionId }, 'Backlog pause could not be saved');
    }
  }

  private async prune(): Promise<void> {
    try {
      await this.outbox.prune(Date.now());
    } catch (error) {
      this.options.logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'Outbox prune failed');
    }
  }
}
