/**
 * What a receiver's answer means for the next attempt, and how long to wait.
 *
 *   2xx                   delivered
 *   410 Gone              the receiver is gone for good: pause the subscription
 *   other 4xx but 408/429 the receiver refuses this event: not retried (recorded, counted, logged)
 *   408, 429, 5xx, no answer, timeout   retried with exponential backoff and jitter, Retry-After honoured
 */
import type { DeliveryOptions } from './delivery-options.js';

export type Verdict = { kind: 'delivered' } | { kind: 'gone' } | { kind: 'refused' } | { kind: 'retry'; retryAfterMs: number | null };

export function verdictFor(status: number, retryAfter: string | null, nowMs: number): Verdict {
  if (status >= 200 && status < 300) return { kind: 'delivered' };
  if (status === 410) return { kind: 'gone' };
  if (status >= 400 && status < 500 && status !== 408 && status !== 429) return { kind: 'refused' };
  return { kind: 'retry', retryAfterMs: parseRetryAfter(retryAfter, nowMs) };
}

/** Retry-After as delay-seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(value: string | null, nowMs: number): number | null {
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}

/**
 * The wait before retry number `failures` (1 = after the first failure): the
 * first delay doubled per failure, capped, then a random part of up to half
 * taken off ("equal jitter"), so receivers that come back are not hit by every
 * subscription at once. A Retry-After longer than that wins, within the cap.
 */
export function retryDelayMs(failures: number, options: Pick<DeliveryOptions, 'retryFirstMs' | 'retryMaxMs'>, retryAfterMs: number | null, random: () => number = Math.random): number {
  const exponential = Math.min(options.retryMaxMs, options.retryFirstMs * 2 ** Math.min(30, failures - 1));
  const jittered = exponential / 2 + (random() * exponential) / 2;
  return Math.round(Math.max(jittered, Math.min(retryAfterMs ?? 0, options.retryMaxMs)));
}
