/** How webhook deliveries are retried and bounded; every field has a documented default. */
export interface DeliveryOptions {
  /** The first retry waits about this long; each further failure doubles it. Default 2 s. */
  retryFirstMs: number;
  /** No retry waits longer. Default 5 min. */
  retryMaxMs: number;
  /** An event still failing this long after its first failure pauses the subscription. Default 24 h. */
  retryForMs: number;
  /** A delivery with no answer within this is a failure. Default 10 s. */
  timeoutMs: number;
  /** Deliveries in flight at once across all subscriptions (one per subscription at most). Default 8. */
  maxConcurrent: number;
}

export const defaultDeliveryOptions: Readonly<DeliveryOptions> = Object.freeze({
  retryFirstMs: 2_000,
  retryMaxMs: 5 * 60_000,
  retryForMs: 24 * 60 * 60_000,
  timeoutMs: 10_000,
  maxConcurrent: 8,
});
