/**
 * The appends of an outbox waiting to be written, whatever the storage (a folder,
 * a table): written in arrival order, one batch at a time (what arrives during a
 * write goes in the next batch: group commit); a batch the storage refuses stays
 * in memory, ahead of what came meanwhile, and is written again with a doubling
 * pause; past `maxUnstoredEvents` the oldest appends are rejected (counted and
 * logged by the caller), never dropped unseen. close() makes a failing write try
 * once more, then gives the rest up, so a storage that stays broken cannot hold a
 * shutdown.
 */
import type { Logger } from '../logging/logger.js';
import type { FleetEvent } from './fleet-event.js';

/** More events waited for the storage than maxUnstoredEvents: these were given up. */
export class OutboxOverflowError extends Error {
  readonly code = 'ERR_OUTBOX_OVERFLOW';
}

export interface PendingAppend {
  readonly events: readonly FleetEvent[];
  resolve(): void;
  reject(error: unknown): void;
}

/** Events that may wait in memory for a failing storage, by default. */
export const defaultMaxUnstoredEvents = 50_000;

/** What an outbox's options say about its appends (every field has a default). */
export interface AppendRetryOptions {
  /** Events kept in memory while the storage refuses them; past it the oldest are rejected. Default 50,000. */
  maxUnstoredEvents?: number;
  /** First retry of a failed write, ms; doubles up to retryMaxMs. Defaults 100 ms, 5 s. */
  retryFirstMs?: number;
  retryMaxMs?: number;
  onWriteFailure?: (error: unknown) => void;
  onWriteRecovered?: () => void;
}

export interface AppendQueueOptions<Written> extends AppendRetryOptions {
  /** Writes one batch; throws when the storage refuses it (the whole batch is tried again). */
  write(events: readonly FleetEvent[]): Promise<Written>;
  /** A batch is written: settle its appends and tell the readers. */
  written(batch: readonly PendingAppend[], result: Written, events: readonly FleetEvent[]): Promise<void> | void;
  /** What the storage is, in log lines: "disk", "database". */
  medium: string;
  logger: Logger | null;
}

export class AppendQueue<Written> {
  /** Failed writes by error code, and events given up, since start. */
  readonly writeFailures = new Map<string, number>();
  droppedEvents = 0;
  private queue: PendingAppend[] = [];
  private writing: Promise<void> | null = null;
  private closing = false;
  private wakeRetry: (() => void) | null = null;
  private readonly maxUnstoredEvents: number;
  private readonly retryFirstMs: number;
  private readonly retryMaxMs: number;

  constructor(private readonly options: AppendQueueOptions<Written>) {
    this.maxUnstoredEvents = options.maxUnstoredEvents ?? defaultMaxUnstoredEvents;
    this.retryFirstMs = options.retryFirstMs ?? 100;
    this.retryMaxMs = options.retryMaxMs ?? 5_000;
  }

  append(events: readonly FleetEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    const done = new Promise<void>((resolve, reject) => this.queue.push({ events, resolve, reject }));
    this.shedUnstored();
    this.writing ??= this.writeBatches();
    return done;
  }

  /** Events waiting to be written. */
  get unstoredEvents(): number {
    return this.queue.reduce((sum, pending) => sum + pending.events.length, 0);
  }

  /** One last try for a failing write, then what still fails is rejected; resolves once nothing is being written. */
  async close(): Promise<void> {
    this.closing = true;
    this.wakeRetry?.();
    while (this.writing) await this.writing;
  }

  /** Too many events waiting for a failing storage: the oldest are rejected (the caller logs them), never dropped unseen. */
  private shedUnstored(): void {
    const { maxUnstoredEvents } = this;
    const { medium } = this.options;
    let waiting = this.unstoredEvents;
    while (waiting > maxUnstoredEvents && this.queue.length > 1) {
      const oldest = this.queue.shift()!;
      waiting -= oldest.events.length;
      this.droppedEvents += oldest.events.length;
      this.options.logger?.error({ events: oldest.events.length, maxUnstoredEvents }, `Outbox: too many events wait for the ${medium}; the oldest are given up`);
      oldest.reject(new OutboxOverflowError(`more than ${maxUnstoredEvents} events wait for the ${medium}; the oldest ${oldest.events.length} were not stored`));
    }
  }

  private async writeBatches(): Promise<void> {
    let failures = 0;
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      const events = batch.flatMap((pending) => pending.events);
      let result: Written;
      try {
        result = await this.options.write(events);
      } catch (error) {
        const code = (error as { code?: string }).code ?? 'EUNKNOWN';
        this.writeFailures.set(code, (this.writeFailures.get(code) ?? 0) + 1);
        this.options.onWriteFailure?.(error);
        if (this.closing) {
          for (const pending of [...batch, ...this.queue.splice(0)]) pending.reject(error);
          continue;
        }
        // Kept, in order, ahead of what came meanwhile: the next attempt writes them all.
        this.queue.unshift(...batch);
        this.shedUnstored();
        failures += 1;
        if (failures === 1) {
          this.options.logger?.error(
            { code, err: (error as Error).message, unstoredEvents: this.unstoredEvents },
            `Outbox write failed; the events wait in memory and are written again when the ${this.options.medium} takes them`,
          );
        }
        await this.pause(Math.min(this.retryMaxMs, this.retryFirstMs * 2 ** (failures - 1)));
        continue;
      }
      if (failures > 0) {
        this.options.logger?.info({ failedAttempts: failures, events: events.length }, 'Outbox writes work again; the waiting events are stored');
        this.options.onWriteRecovered?.();
      }
      failures = 0;
      await this.options.written(batch, result, events);
    }
    this.writing = null;
  }

  private pause(ms: number): Promise<void> {
    if (this.closing) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wakeRetry = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
