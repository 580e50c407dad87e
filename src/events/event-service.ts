/**
 * The fleet's events, wired: the registry's news become events (session-events.ts),
 * each appended to the outbox before it counts as emitted, then delivered to
 * webhooks (../webhooks/dispatcher.ts) and streamed on GET /events — both read
 * the outbox. Built by service.ts; the HTTP routes and metrics use it.
 *
 * Start it before the registry loads (so the restores' transitions are events),
 * stop it after the registry has shut down (so the last transitions are stored).
 */
import type { Logger } from '../logging/logger.js';
import { Dispatcher } from '../webhooks/dispatcher.js';
import { publicView, SubscriptionStore, type PublicSubscription, type Subscription } from '../webhooks/subscriptions.js';
import type { WebhookSettings } from '../webhooks/webhook-settings.js';
import { EventIdFactory } from './event-id.js';
import { FileOutbox } from './files/file-outbox.js';
import { visibleTo, type FleetEvent } from './fleet-event.js';
import type { Outbox } from './outbox.js';
import { SessionEventSource, type EventSourceRegistry } from './session-events.js';

/** How often delivered events past their retention are removed. */
const pruneIntervalMs = 60_000;

export interface EventServiceOptions {
  sessionsDir: string;
  registry: EventSourceRegistry;
  /** This process's holder id: every event's `node`. */
  node: string;
  settings: WebhookSettings;
  logger: Logger;
}

export class EventService {
  readonly outbox: Outbox;
  readonly subscriptions: SubscriptionStore;
  readonly dispatcher: Dispatcher;
  private source: SessionEventSource | null = null;
  private pruneTimer: NodeJS.Timeout | null = null;
  private readonly appends = new Set<Promise<void>>();

  constructor(private readonly options: EventServiceOptions) {
    this.outbox = new FileOutbox(options.sessionsDir, { retentionMs: options.settings.retentionMs });
    this.subscriptions = new SubscriptionStore(options.sessionsDir);
    const logger = options.logger.child({ component: 'webhooks' });
    this.dispatcher = new Dispatcher(this.outbox, this.subscriptions, options.settings.delivery, logger);
  }

  async start(): Promise<void> {
    await this.outbox.open();
    await this.subscriptions.load(this.options.settings.subscription);
    this.outbox.onAppended(() => this.dispatcher.notify());
    await this.dispatcher.start();
    this.source = new SessionEventSource(this.options.registry, this.options.node, new EventIdFactory(this.outbox.newestId()), (events) => this.emit(events));
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
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    await Promise.all(this.appends);
    await this.dispatcher.stop();
    await this.outbox.close();
  }

  listSubscriptions(): PublicSubscription[] {
    return this.subscriptions.list().map(publicView);
  }

  async addSubscription(fields: Pick<Subscription, 'url' | 'secret' | 'events' | 'includeQr'>): Promise<PublicSubscription> {
    const subscription = await this.subscriptions.add(fields);
    await this.dispatcher.added(subscription);
    return publicView(subscription);
  }

  /** False when there is no such subscription. */
  async removeSubscription(id: string): Promise<boolean> {
    if (!this.subscriptions.get(id)) return false;
    await this.dispatcher.removed(id);
    return this.subscriptions.remove(id);
  }

  /** The subscription after its pause is cleared; undefined when there is none. */
  async resumeSubscription(id: string): Promise<PublicSubscription | undefined> {
    if (!this.subscriptions.get(id)) return undefined;
    await this.dispatcher.resume(id);
    return publicView(this.subscriptions.get(id)!);
  }

  /** Never awaited by the caller (a registry listener): the append runs on its own. */
  private emit(fresh: FleetEvent[]): void {
    // A QR's text reaches the disk only when a subscription will send it somewhere (new subscriptions start from now).
    const keepQr = this.subscriptions.list().some((subscription) => subscription.includeQr);
    const events = fresh.map((event) => visibleTo(event, keepQr));
    const append = this.outbox.append(events).catch((error: unknown) => {
      // Types and ids only: a QR's text never reaches the log.
      this.options.logger.error({ err: error instanceof Error ? error.message : String(error), events: events.map((e) => `${e.type} ${e.id}`) }, 'Events could not be stored in the outbox');
    });
    this.appends.add(append);
    void append.finally(() => this.appends.delete(append));
  }

  private async prune(): Promise<void> {
    try {
      await this.outbox.prune(Date.now());
    } catch (error) {
      this.options.logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'Outbox prune failed');
    }
  }
}
