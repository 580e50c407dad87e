/** A counting semaphore: at most `limit` deliveries in flight across subscriptions. */
export class Slots {
  private used = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {
    if (!(limit >= 1)) throw new RangeError('limit: must be at least 1');
  }

  get inFlight(): number {
    return this.used;
  }

  /** Resolves with a release function (idempotent) once a slot is free. */
  async acquire(): Promise<() => void> {
    if (this.used >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.used += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      // The slot passes straight to the next in line, so a newcomer cannot overtake it.
      if (next) next();
      else this.used -= 1;
    };
  }
}
