/**
 * Webhook signatures. The signed string is `${timestamp}.${body}`: the
 * timestamp (unix seconds, also sent as X-Wa-Vigil-Timestamp) is covered, so a
 * receiver that refuses timestamps older than the replay window (5 minutes)
 * cannot be replayed an old delivery with a fresh header.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const signatureHeader = 'x-wa-vigil-signature';
export const timestampHeader = 'x-wa-vigil-timestamp';
export const eventIdHeader = 'x-wa-vigil-event-id';
export const replayWindowSeconds = 5 * 60;

export function sign(secret: string, timestamp: number, body: string): string {
  return `sha512=${createHmac('sha512', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** The headers of one delivery of `body`. */
export function signedHeaders(secret: string, eventId: string, body: string, nowMs: number): Record<string, string> {
  const timestamp = Math.floor(nowMs / 1000);
  return { [signatureHeader]: sign(secret, timestamp, body), [timestampHeader]: String(timestamp), [eventIdHeader]: eventId };
}

/** The receiver's check, as the README shows it: right signature, fresh timestamp. */
export function verify(secret: string, headers: { signature: string; timestamp: string }, body: string, nowMs: number): boolean {
  const timestamp = Number(headers.timestamp);
  if (!Number.isInteger(timestamp) || Math.abs(nowMs / 1000 - timestamp) > replayWindowSeconds) return false;
  const expected = Buffer.from(sign(secret, timestamp, body));
  const given = Buffer.from(headers.signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
