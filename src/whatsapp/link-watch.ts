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
 * performance.now() (monotonic); timers are Node's, which are monotonic too.
 */
import { performance } from 'node:perf_hooks';

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
}

export class LinkWatch {
  private lastFrameAt = performance.now();
  /** When the outstanding probe was sent; null when none is. */
  private probeSentAt: number | null = null;
  private keepAliveTimer: NodeJS.Timeout | null = null;
  private silenceTimer: NodeJS.Timeout | null = null;
  private running = false;

  constructor(private readonly options: LinkWatchOptions) {}

  /** Every inbound frame, from the socket's hot path: one clock read, nothing else. */
  frameArrived(): void {
    this.lastFrameAt = performance.now();
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.lastFrameAt = performance.now();
    this.keepAliveTimer = setInterval(() => this.options.sendPing(), this.options.keepAliveIntervalMs);
    if (this.options.silenceBeforeProbeMs > 0) this.checkSilenceIn(this.options.silenceBeforeProbeMs);
  }

  stop(): void {
    this.running = false;
    if (this.keepAliveTimer) clearInterval(this.keepAliveTimer);
    if (this.silenceTimer) clearTimeout(this.silenceTimer);
    this.keepAliveTimer = null;
    this.silenceTimer = null;
  }

  private checkSilenceIn(delayMs: number): void {
    this.silenceTimer = setTimeout(() => this.checkSilence(), delayMs);
  }

  /** Runs when the link may have gone silent for long enough, or when a probe's deadline is up. */
  private checkSilence(): void {
    if (!this.running) return;
    const now = performance.now();
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
