/**
 * Admission control for connection attempts. A handshake costs 40–60 ms of
 * pure-JS curve25519 work; 200 sessions reconnecting at once all finish late
 * together. Letting a few through at a time lets the first ones open early
 * and the whole storm end no later.
 */
export class ConnectAdmission {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  /** @param limit attempts allowed in their handshake at once; Infinity disables the limit. */
  constructor(readonly limit: number) {
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
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running -= 1;
      this.waiting.shift()?.();
    };
  }
}
