/**
 * Delivers the outbox to every subscription. One worker per subscription,
 * one delivery in flight per worker, so each subscription sees events in id
 * order. Workers only read the outbox: sessions only append, and never wait
 * for a receiver.
 *
 * Isolation: a shared pool of `maxConcurrent` slots bounds the deliveries
 * *starting* at once (the work of a burst: bodies, signatures, connections).
 * A delivery holds its slot for at most `sharedSlotHoldMs`; a receiver slower
 * than that goes on waiting on its own subscription's time, and the slot passes
 * to the next subscription in line (first come, first served, each subscription
 * queued once at most: a round robin). So a slow or hanging receiver delays
 * only its own subscription, and sockets stay bounded by maxConcurrent plus the
 * number of subscriptions (itself capped by MAX_WEBHOOKS). Each attempt is
 * bounded in time and memory by post-event.ts.
 *
 * A subscription is never dropped silently: one that answers 410, or whose
 * oldest event keeps failing for the whole retry window, is paused with the
 * reason and its last error (GET /webhooks), keeps its place in the outbox,
 * and resumes from there (POST /webhooks/:id/resume). A failed attempt writes
 * nothing (see subscriptions.ts); only a pause does.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from '../logging/logger.js';
import { visibleTo, wants, type FleetEvent } from '../outbox/fleet-event.js';
import type { Outbox } from '../outbox/outbox.js';
import type { DeliveryOptions } from './delivery-options.js';
import { postEvent } from './post-event.js';
import { retryDelayMs } from './retry-policy.js';
import { Slots } from './slots.js';
import type { Subscription, SubscriptionStore } from './subscriptions.js';
import { redactMessage, redactUrl } from './webhook-url.js';

/**
 * A subscription this node delivers under a lease (a cluster on PostgreSQL,
 * postgres/delivery-leases.ts): where its delivery starts, and its cursor
 * writes, each of which lands only while the lease is still this node's.
 */
export interface DeliveryClaim {
  /** The subscription's cursor when the lease was taken. */
  readonly cursor: string | null;
  /** Saves the cursor; false when it was refused (the lease moved on): the delivery stops. */
  save(eventId: string | null): Promise<boolean>;
}

export interface DispatcherMode {
  /**
   * 'local' (default, one process on a folder): every subscription is delivered here,
   * cursors are the outbox's. 'claimed' (a cluster): only the subscriptions granted
   * through claim(), each from its claim's cursor; the outbox is the cluster's, so
   * every node's events.
   */
  mode?: 'local' | 'claimed';
}

export type DeliveryResult = 'delivered' | 'failed' | 'refused' | 'gone';

export interface DispatcherEvents {
  /** One per attempt, for the metrics: its result, its duration, and how much of the answer was read (and discarded). */
  attempt: [result: DeliveryResult, seconds: number, responseBytes: number];
}

/** Events read from the outbox at a time by one worker. */
const readBatchSize = 64;

/** A delivery gives its shared slot up after this long and goes on waiting on its subscription's own time. */
export const sharedSlotHoldMs = 250;

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

  /**
   * Stops after the delivery in flight, if any (a hand-over to another node): aborting it could
   * leave an event the receiver took without its cursor moving, for the next holder to send again.
   */
  finish(): void {
    this.stopped = true;
    this.notify();
    this.cancelSleep();
  }
}

export class Dispatcher extends EventEmitter<DispatcherEvents> {
  private readonly workers = new Map<string, Worker>();
  private readonly slots: Slots;
  private stopped = false;
  private readonly claimed: boolean;

  constructor(
    private readonly outbox: Outbox,
    private readonly subscriptions: SubscriptionStore,
    private readonly options: DeliveryOptions,
    private readonly logger: Logger,
    mode: DispatcherMode = {},
  ) {
    super();
    this.slots = new Slots(options.maxConcurrent);
    this.claimed = mode.mode === 'claimed';
  }

  /** Starts a worker per subscription; one never seen before starts at the outbox's newest event. Claimed: nothing until claim(). */
  async start(): Promise<void> {
    if (this.claimed) return;
    // A deleted subscription's cursor whose removal a crash cut short would hold every event back from pruning.
    const known = new Set(this.subscriptions.list().map((subscription) => subscription.id));
    for (const id of this.outbox.cursorIds()) if (!known.has(id)) this.dropCursor(id);
    for (const subscription of this.subscriptions.list()) {
      if (this.outbox.cursor(subscription.id) === undefined) await this.outbox.ack(subscription.id, this.outbox.newestId());
      this.spawn(subscription.id);
    }
  }

  /** A new subscription receives what is emitted from now on (claimed: its cursor was made with it, and it waits for its claim). */
  async added(subscription: Subscription): Promise<void> {
    if (this.claimed) return;
    await this.outbox.ack(subscription.id, this.outbox.newestId());
    this.spawn(subscription.id);
  }

  async removed(id: string): Promise<void> {
    const worker = this.workers.get(id);
    worker?.stop();
    this.workers.delete(id);
    await worker?.done;
    // Not awaited: deletions in a row then share one cursor write instead of one each (a
    // thousand of them cost a thousand rewrites of the cursor file otherwise). A crash before
    // it lands leaves the cursor behind, and start() drops it.
    this.dropCursor(id);
  }

  /** Clears a pause; delivery restarts from the event it stopped at. */
  async resume(id: string): Promise<void> {
    await this.subscriptions.update(id, { paused: null });
    this.logger.info({ subscription: id }, 'Webhook subscription resumed');
    if (!this.claimed) this.spawn(id);
    this.workers.get(id)?.notify();
  }

  /** Claimed mode: this node delivers the subscription from the claim's cursor, until release(). */
  claim(id: string, claim: DeliveryClaim): void {
    this.spawn(id, claim);
  }

  /**
   * Claimed mode: stops delivering the subscription (its lease is lost or given up); resolves once stopped.
   * `graceful` (a hand-over): the delivery in flight finishes first, bounded by the delivery timeout.
   */
  async release(id: string, options: { graceful?: boolean } = {}): Promise<void> {
    const worker = this.workers.get(id);
    if (!worker) return;
    if (options.graceful) worker.finish();
    else worker.stop();
    this.workers.delete(id);
    await worker.done;
  }

  /** A subscription's settings or pause changed elsewhere: its worker looks again. */
  changed(id: string): void {
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

  private spawn(id: string, claim?: DeliveryClaim): void {
    if (this.stopped || this.workers.has(id)) return;
    const worker = new Worker();
    this.workers.set(id, worker);
    worker.done = this.run(id, worker, claim)
      .catch((error: unknown) => this.logger.error({ subscription: id, err: error instanceof Error ? error.message : String(error) }, 'Webhook worker failed'))
      .finally(() => {
        if (this.workers.get(id) === worker) this.workers.delete(id);
      });
  }

  private async run(id: string, worker: Worker, claim?: DeliveryClaim): Promise<void> {
    let position = claim ? claim.cursor : (this.outbox.cursor(id) ?? null);
    const saveCursor = (eventId: string | null) => (claim ? this.saveClaimed(id, worker, claim, eventId) : this.saveCursor(id, eventId));
    let saved = position;
    let failures = 0;
    let failingSince: number | null = null;
    let readFailures = 0;
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
      let batch: FleetEvent[];
      try {
        batch = await this.outbox.read(position, readBatchSize);
        readFailures = 0;
      } catch (error) {
        // A database blip (a failover, a reset connection) must not end the worker: its lease would stay held
        // and renewed, and nobody would deliver the subscription again. Read again, with backoff.
        readFailures += 1;
        if (readFailures === 1) this.logger.warn({ subscription: id, err: error instanceof Error ? error.message : String(error) }, 'Webhook events could not be read; trying again');
        await worker.sleep(retryDelayMs(readFailures, this.options, null));
        continue;
      }
      const next = batch.find((event) => wants(subscription.events, event));
      if (!next) {
        // Filtered-out events are passed in memory and saved once idle, not one fsync each.
        position = batch.at(-1)?.id ?? position;
        if (position !== saved) saveCursor((saved = position));
        if (batch.length < readBatchSize) await worker.idle();
        continue;
      }
      // A deleted subscription leaves the line at once: deleting many never waits for their turns.
      const release = await this.slots.acquire(worker.aborts.signal);
      if (!release) return;
      if (worker.stopped) {
        release();
        return;
      }
      const startedAt = performance.now();
      const body = JSON.stringify(visibleTo(next, subscription.includeQr));
      const handOver = setTimeout(release, sharedSlotHoldMs);
      const attempt = await postEvent(subscription.url, subscription.secret, next.id, body, this.options.timeoutMs, worker.aborts.signal).finally(() => {
        clearTimeout(handOver);
        release();
      });
      const seconds = (performance.now() - startedAt) / 1000;
      const emitAttempt = (result: DeliveryResult) => this.emit('attempt', result, seconds, attempt.responseBytes);
      if (worker.stopped && attempt.status === null) return; // aborted by stop(): neither a failure nor a success
      const now = new Date();
      const { verdict } = attempt;
      const lastError = { at: now.toISOString(), eventId: next.id, message: redactMessage(attempt.message, subscription.url), status: attempt.status };
      if (verdict.kind === 'delivered' || verdict.kind === 'refused') {
        emitAttempt(verdict.kind);
        if (verdict.kind === 'refused') {
          this.logger.warn({ subscription: id, receiver: origin(subscription.url), eventId: next.id, eventType: next.type, status: attempt.status }, 'Webhook receiver refused an event; not retried');
          this.subscriptions.noteError(id, lastError);
        } else {
          this.subscriptions.touch(id, now.toISOString());
          if (failures > 0) this.logger.info({ subscription: id, receiver: origin(subscription.url), failures }, 'Webhook delivery recovered');
        }
        position = next.id;
        saveCursor((saved = position));
        failures = 0;
        failingSince = null;
        continue;
      }
      if (verdict.kind === 'gone') {
        emitAttempt('gone');
        await this.pause(subscription, 'the receiver answered 410 Gone', lastError);
        continue;
      }
      emitAttempt('failed');
      failures += 1;
      failingSince ??= now.getTime();
      if (failures === 1) {
        this.logger.warn({ subscription: id, receiver: origin(subscription.url), eventId: next.id, error: lastError.message }, 'Webhook delivery failed; retrying with backoff');
      }
      this.subscriptions.noteError(id, lastError);
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

  /** Not awaited either; a refused write means another node holds the lease now: this worker stops (the next holder repeats at most what this one did since). */
  private saveClaimed(id: string, worker: Worker, claim: DeliveryClaim, eventId: string | null): void {
    claim.save(eventId).then(
      (ok) => {
        if (ok || worker.stopped) return;
        this.logger.warn({ subscription: id }, 'Webhook cursor refused: another node delivers this subscription now; stopping here');
        if (this.workers.get(id) === worker) void this.release(id);
      },
      (error: unknown) => {
        this.logger.warn({ subscription: id, err: error instanceof Error ? error.message : String(error) }, 'Webhook cursor not saved; deliveries after it may repeat');
      },
    );
  }

  private dropCursor(id: string): void {
    this.outbox.dropCursor(id).catch((error: unknown) => {
      this.logger.warn({ subscription: id, err: error instanceof Error ? error.message : String(error) }, 'Deleted webhook subscription\'s cursor not removed yet; it is at the next start');
    });
  }

  private async pause(subscription: Subscription, reason: string, lastError: Subscription['lastError']): Promise<void> {
    this.logger.error({ subscription: subscription.id, receiver: origin(subscription.url), reason }, 'Webhook subscription paused; its events are kept until it is resumed or deleted');
    // Paused in memory at once (update sets it before it stores); a store that refuses only delays others seeing it.
    await this.subscriptions
      .update(subscription.id, { paused: { at: new Date().toISOString(), reason }, lastError })
      .catch((error: unknown) => this.logger.warn({ subscription: subscription.id, err: error instanceof Error ? error.message : String(error) }, 'Webhook pause could not be stored'));
  }
}

/** Where a subscription delivers, without path or query (which may carry a token), nor credentials. */
function origin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return redactUrl(url);
  }
}

