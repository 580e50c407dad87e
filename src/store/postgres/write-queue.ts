/**
 * Each session's writes one at a time, in call order: Baileys fires saveCreds
 * without waiting, and two creds updates that overtook each other would leave
 * the older one stored. Shared by every handle on a session in this process;
 * a session with nothing queued takes no memory.
 */
export interface WriteQueue {
  /** Runs `task` after every task queued before it on this session, whatever their outcome. */
  run<T>(task: () => Promise<T>): Promise<T>;
  /** Resolves once every task queued so far has finished (failed ones included). */
  idle(): Promise<void>;
}

export class WriteQueues {
  private readonly tails = new Map<string, Promise<void>>();

  for(key: string): WriteQueue {
    return {
      run: (task) => this.run(key, task),
      idle: () => this.tails.get(key) ?? Promise.resolve(),
    };
  }

  private run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const next = previous.then(task);
    const tail = next.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }
}
