/**
 * Admission control for connection attempts. A handshake costs 40–60 ms of
 * pure-JS curve25519 work; 200 sessions reconnecting at once all finish late
 * together. Letting a few through at a time lets the first ones open early
 * and the whole storm end no later.
 */
import { EventEmitter } from 'node:events';

/** Emits 'admitted' (waitedMs) for every attempt let through, for the admission queue wait histogram. */
export class ConnectAdmission extends EventEmitter<{ admitted: [waitedMs: number] }> {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  /** @param limit attempts allowed in their handshake at once; Infinity disables the limit. */
  constructor(readonly limit: number) {
    super();
    if (!(limit >= 1)) throw new RangeError('limit: must be at least 1');
  }

  get inFlight(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Resolves with a release function once a slot is free. Release is idempotent. */
  async acquire(): Promise<() => void> {
    const queuedAt = performance.now();
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running += 1;
    this.emit('admitted', performance.now() - queuedAt);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running -= 1;
      this.waiting.shift()?.();
    };
  }
}
