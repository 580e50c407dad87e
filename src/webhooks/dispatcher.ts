/**
 * Delivers the outbox to every subscription. One worker per subscription,
 * one delivery in flight per worker, so each subscription sees events in id
 * order; a shared pool of slots bounds deliveries across subscriptions, so a
 * thousand slow receivers cost a bounded number of sockets. Workers only read
 * the outbox: a receiver that hangs delays its own subscription, never a
 * session (sessions only append, and do not wait for that either).
 *
 * A subscription is never dropped silently: one that answers 410, or whose
 * oldest event keeps failing for the whole retry window, is paused with the
 * reason and its last error (GET /webhooks), keeps its place in the outbox,
 * and resumes from there (POST /webhooks/:id/resume).
 */
import { EventEmitter } from 'node:events';
import type { Logger } from '../logging/logger.js';
import { visibleTo, wants } from '../events/fleet-event.js';
import type { Outbox } from '../events/outbox.js';
import type { DeliveryOptions } from './delivery-options.js';
import { postEvent } from './post-event.js';
import { retryDelayMs } from './retry-policy.js';
import { Slots } from './slots.js';
import type { Subscription, SubscriptionStore } from './subscriptions.js';

export type DeliveryResult = 'delivered' | 'failed' | 'refused' | 'gone';

export interface DispatcherEvents {
  /** One per attempt, for the metrics. */
  attempt: [result: DeliveryResult, seconds: number];
}

/** Events read from the outbox at a time by one worker. */
const readBatchSize = 64;

class Worker {
  stopped = false;
  /** Cuts the delivery in flight when the worker stops (shutdown, or its subscription deleted). */
  readonly aborts = new AbortController();
  done: Promise<void> = Promise.resolve();
  /** A notify() that came while the worker was busy: the next idle() returns at once. */
  private signalled = false;
  private wake: (() => void) | null = null;
  private cancelSleep: () => void = () => {};

  /** Call before reading the outbox: a notify() from here on is not lost. */
  arm(): void {
    this.signalled = false;
  }

  /** Resolves on notify() (or one since arm()) or stop(). */
  idle(): Promise<void> {
    if (this.signalled || this.stopped) return Promise.resolve();
    return new Promise((resolve) => (this.wake = resolve));
  }

  /** Resolves after `ms` or on stop(); a notify() does not cut a retry wait short. */
  sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.cancelSleep = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  notify(): void {
    this.signalled = true;
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  stop(): void {
    this.stopped = true;
    this.aborts.abort();
    this.notify();
    this.cancelSleep();
  }
}

export class Dispatcher extends EventEmitter<DispatcherEvents> {
  private readonly workers = new Map<string, Worker>();
  private readonly slots: Slots;
  private stopped = false;

  constructor(
    private readonly outbox: Outbox,
    private readonly subscriptions: SubscriptionStore,
    private readonly options: DeliveryOptions,
    private readonly logger: Logger,
  ) {
    super();
    this.slots = new Slots(options.maxConcurrent);
  }

  /** Starts a worker per subscription; one never seen before starts at the outbox's newest event. */
  async start(): Promise<void> {
    for (const subscription of this.subscriptions.list()) {
      if (this.outbox.cursor(subscription.id) === undefined) await this.outbox.ack(subscription.id, this.outbox.newestId());
      this.spawn(subscription.id);
    }
  }

  /** A new subscription receives what is emitted from now on. */
  async added(subscription: Subscription): Promise<void> {
    await this.outbox.ack(subscription.id, this.outbox.newestId());
    this.spawn(subscription.id);
  }

  async removed(id: string): Promise<void> {
    const worker = this.workers.get(id);
    worker?.stop();
    this.workers.delete(id);
    await worker?.done;
    await this.outbox.dropCursor(id);
  }

  /** Clears a pause; delivery restarts from the event it stopped at. */
  async resume(id: string): Promise<void> {
    await this.subscriptions.update(id, { paused: null });
    this.logger.info({ subscription: id }, 'Webhook subscription resumed');
    this.spawn(id);
    this.workers.get(id)?.notify();
  }

  /** New events are in the outbox. */
  notify(): void {
    for (const worker of this.workers.values()) worker.notify();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const workers = [...this.workers.values()];
    for (const worker of workers) worker.stop();
    await Promise.all(workers.map((worker) => worker.done));
  }

  private spawn(id: string): void {
    if (this.stopped || this.workers.has(id)) return;
    const worker = new Worker();
    this.workers.set(id, worker);
    worker.done = this.run(id, worker)
      .catch((error: unknown) => this.logger.error({ subscription: id, err: error instanceof Error ? error.message : String(error) }, 'Webhook worker failed'))
      .finally(() => {
        if (this.workers.get(id) === worker) this.workers.delete(id);
      });
  }

  private async run(id: string, worker: Worker): Promise<void> {
    let position = this.outbox.cursor(id) ?? null;
    let saved = position;
    let failures = 0;
    let failingSince: number | null = null;
    while (!worker.stopped) {
      const subscription = this.subscriptions.get(id);
      if (!subscription) return;
      worker.arm();
      if (subscription.paused) {
        // Kept alive while paused, so a resume just wakes it: no second worker can race this one.
        failures = 0;
        failingSince = null;
        await worker.idle();
        continue;
      }
      const batch = await this.outbox.read(position, readBatchSize);
      const next = batch.find((event) => wants(subscription.events, event));
      if (!next) {
        // Filtered-out events are passed in memory and saved once idle, not one fsync each.
        position = batch.at(-1)?.id ?? position;
        if (position !== saved) this.saveCursor(id, (saved = position));
        if (batch.length < readBatchSize) await worker.idle();
        continue;
      }
      const release = await this.slots.acquire();
      if (worker.stopped) {
        release();
        return;
      }
      const startedAt = performance.now();
      const body = JSON.stringify(visibleTo(next, subscription.includeQr));
      const attempt = await postEvent(subscription.url, subscription.secret, next.id, body, this.options.timeoutMs, worker.aborts.signal).finally(release);
      const seconds = (performance.now() - startedAt) / 1000;
      if (worker.stopped && attempt.status === null) return; // aborted by stop(): neither a failure nor a success
      const now = new Date();
      const { verdict } = attempt;
      const lastError = { at: now.toISOString(), eventId: next.id, message: attempt.message, status: attempt.status };
      if (verdict.kind === 'delivered' || verdict.kind === 'refused') {
        this.emit('attempt', verdict.kind, seconds);
        if (verdict.kind === 'refused') {
          this.logger.warn({ subscription: id, receiver: origin(subscription.url), eventId: next.id, eventType: next.type, status: attempt.status }, 'Webhook receiver refused an event; not retried');
          await this.subscriptions.update(id, { lastError });
        } else {
          this.subscriptions.touch(id, now.toISOString());
          if (failures > 0) this.logger.info({ subscription: id, receiver: origin(subscription.url), failures }, 'Webhook delivery recovered');
        }
        position = next.id;
        this.saveCursor(id, (saved = position));
        failures = 0;
        failingSince = null;
        continue;
      }
      if (verdict.kind === 'gone') {
        this.emit('attempt', 'gone', seconds);
        await this.pause(subscription, 'the receiver answered 410 Gone', lastError);
        continue;
      }
      this.emit('attempt', 'failed', seconds);
      failures += 1;
      failingSince ??= now.getTime();
      if (failures === 1) {
        this.logger.warn({ subscription: id, receiver: origin(subscription.url), eventId: next.id, error: attempt.message }, 'Webhook delivery failed; retrying with backoff');
      }
      await this.subscriptions.update(id, { lastError });
      if (now.getTime() - failingSince >= this.options.retryForMs) {
        await this.pause(subscription, `event ${next.id} failed for ${Math.round((now.getTime() - failingSince) / 1000)} s`, lastError);
        continue;
      }
      await worker.sleep(retryDelayMs(failures, this.options, verdict.retryAfterMs));
    }
  }

  /**
   * Not awaited: the next delivery need not wait for the fsync, and saves made
   * meanwhile coalesce into one. A crash before it lands repeats the last few
   * deliveries (at least once, receivers deduplicate by id); it never skips one.
   */
  private saveCursor(id: string, eventId: string | null): void {
    this.outbox.ack(id, eventId).catch((error: unknown) => {
      this.logger.warn({ subscription: id, err: error instanceof Error ? error.message : String(error) }, 'Webhook cursor not saved; deliveries after it may repeat');
    });
  }

  private async pause(subscription: Subscription, reason: string, lastError: Subscription['lastError']): Promise<void> {
    this.logger.error({ subscription: subscription.id, receiver: origin(subscription.url), reason }, 'Webhook subscription paused; its events are kept until it is resumed or deleted');
    await this.subscriptions.update(subscription.id, { paused: { at: new Date().toISOString(), reason }, lastError });
  }
}

/** Where a subscription delivers, without path or query (which may carry a token). */
function origin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'invalid URL';
  }
}

