/**
 * A PostgreSQL outbox event's id is its cluster-wide sequence number, written
 * as 26 characters of Crockford base32 with leading zeros: the same shape as
 * the ids of the file outbox (event-id.ts), so it passes the same checks and is
 * a Last-Event-ID, and string order is number order, so every comparison made
 * on ids (resume, gap, cursors) holds unchanged.
 */
const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const idChars = 26;
/** Largest value of a PostgreSQL bigint. */
const maxSeq = (1n << 63n) - 1n;

export function seqToId(seq: bigint): string {
  let text = '';
  let value = seq;
  for (let i = 0; i < idChars; i += 1) {
    text = alphabet[Number(value & 31n)]! + text;
    value >>= 5n;
  }
  return text;
}

/**
 * The sequence number an id stands for; null when no sequence can reach it
 * (an id made by the file outbox, whose leading time bits put it past any
 * bigint): it sorts after every event here.
 */
export function idToSeq(id: string): bigint | null {
  let value = 0n;
  for (const char of id) {
    const digit = alphabet.indexOf(char);
    if (digit < 0) return null;
    value = (value << 5n) | BigInt(digit);
  }
  return value > maxSeq ? null : value;
}
