/**
 * Keep-alive and dead-link detection for one Baileys socket, in the spirit of
 * whatsmeow's keepalive.go: ping on a steady beat, and when the link has been
 * silent for a while, send a probe with its own deadline. Only a probe that
 * hears nothing back ends the link; a late answer, a slow server or a
 * wall-clock jump (VM resume, NTP step) does not.
 *
 * Baileys' own keep-alive would cut the link after interval + 5 s of silence
 * measured with Date.now(), with no probe; socket-options.ts switches it off
 * and this takes its place. Every duration here is measured with
 * performance.now() (monotonic); timers are Node's, which are monotonic too
 * (a benchmark may hand in a simulated clock instead).
 */
import { performance } from 'node:perf_hooks';

/** Where LinkWatch reads time and arms timers: Node's by default; a simulated clock in benchmarks. */
export interface LinkWatchClock {
  now(): number;
  setTimeout(fn: () => void, delayMs: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Node's monotonic clock and timers. */
export const nodeClock: LinkWatchClock = {
  now: () => performance.now(),
  setTimeout: (fn, delayMs) => setTimeout(fn, delayMs),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** How long a probe may go unanswered by default: answers 10 s late still arrive in time. */
export const defaultDeadLinkProbeTimeoutMs = 12_000;

export interface LinkWatchOptions {
  /** A `w:p` ping this often while the link is up, whatever the traffic (what Baileys did). */
  keepAliveIntervalMs: number;
  /** Silence this long sends a probe. 0 turns dead-link detection off (the keep-alive stays). */
  silenceBeforeProbeMs: number;
  /** A probe that hears no frame at all within this ends the link. */
  probeTimeoutMs: number;
  /** Send one ping; fire and forget (its answer is just another frame). */
  sendPing(): void;
  /** The probe went unanswered: the link is dead. Called at most once. */
  onDead(silentMs: number): void;
  /** Default nodeClock. */
  clock?: LinkWatchClock;
}

export class LinkWatch {
  private readonly clock: LinkWatchClock;
  private lastFrameAt: number;
  /** When the outstanding probe was sent; null when none is. */
  private probeSentAt: number | null = null;
  private keepAliveTimer: unknown = null;
  private silenceTimer: unknown = null;
  private running = false;

  constructor(private readonly options: LinkWatchOptions) {
    this.clock = options.clock ?? nodeClock;
    this.lastFrameAt = this.clock.now();
  }

  /** Every inbound frame, from the socket's hot path: one clock read, nothing else. */
  frameArrived(): void {
    this.lastFrameAt = this.clock.now();
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.lastFrameAt = this.clock.now();
    this.keepAliveIn(this.options.keepAliveIntervalMs);
    if (this.options.silenceBeforeProbeMs > 0) this.checkSilenceIn(this.options.silenceBeforeProbeMs);
  }

  stop(): void {
    this.running = false;
    if (this.keepAliveTimer !== null) this.clock.clearTimeout(this.keepAliveTimer);
    if (this.silenceTimer !== null) this.clock.clearTimeout(this.silenceTimer);
    this.keepAliveTimer = null;
    this.silenceTimer = null;
  }

  /** A steady beat: each ping re-arms the next (one timer, as setInterval would keep). */
  private keepAliveIn(delayMs: number): void {
    this.keepAliveTimer = this.clock.setTimeout(() => {
      if (!this.running) return;
      this.keepAliveIn(this.options.keepAliveIntervalMs);
      this.options.sendPing();
    }, delayMs);
  }

  private checkSilenceIn(delayMs: number): void {
    this.silenceTimer = this.clock.setTimeout(() => this.checkSilence(), delayMs);
  }

  /** Runs when the link may have gone silent for long enough, or when a probe's deadline is up. */
  private checkSilence(): void {
    if (!this.running) return;
    const now = this.clock.now();
    if (this.probeSentAt !== null) {
      // Any frame since the probe proves the link carries traffic, not only the probe's own answer.
      if (this.lastFrameAt < this.probeSentAt) {
        this.stop();
        this.options.onDead(now - this.lastFrameAt);
        return;
      }
      this.probeSentAt = null;
    }
    const silentMs = now - this.lastFrameAt;
    if (silentMs < this.options.silenceBeforeProbeMs) {
      this.checkSilenceIn(this.options.silenceBeforeProbeMs - silentMs);
      return;
    }
    this.probeSentAt = now;
    this.options.sendPing();
    this.checkSilenceIn(this.options.probeTimeoutMs);
  }
}
