/**
 * Event ids: 26 characters of Crockford base32, ULID-shaped — 48 bits of
 * milliseconds, then 80 bits that start random and count up within a
 * millisecond. Ids sort as strings in the order they were made, across
 * restarts too (the factory is seeded with the newest id already stored, so a
 * clock stepped back cannot produce an id that sorts before it). That order is
 * what lets a subscriber or an SSE client resume "after id X" without gaps.
 */
import { randomBytes } from 'node:crypto';

const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const timeChars = 10;
const randomChars = 16;
const randomBits = 80n;
const randomMax = (1n << randomBits) - 1n;

export const eventIdPattern = /^[0-9A-HJKMNP-TV-Z]{26}$/;

function encode(value: bigint, length: number): string {
  let text = '';
  for (let i = 0; i < length; i += 1) {
    text = alphabet[Number(value & 31n)]! + text;
    value >>= 5n;
  }
  return text;
}

function decode(text: string): bigint {
  let value = 0n;
  for (const char of text) value = (value << 5n) | BigInt(alphabet.indexOf(char));
  return value;
}

export class EventIdFactory {
  private lastTime = -1;
  private lastRandom = 0n;

  /** @param newest the newest id already stored; new ids sort after it. */
  constructor(
    newest: string | null = null,
    private readonly now: () => number = Date.now,
  ) {
    if (newest && eventIdPattern.test(newest)) {
      this.lastTime = Number(decode(newest.slice(0, timeChars)));
      this.lastRandom = decode(newest.slice(timeChars));
    }
  }

  next(): string {
    const time = this.now();
    if (time > this.lastTime) {
      this.lastTime = time;
      // The top bit left clear: a millisecond has room for 2^79 increments.
      this.lastRandom = BigInt(`0x${randomBytes(10).toString('hex')}`) >> 1n;
    } else {
      this.lastRandom = this.lastRandom >= randomMax ? 0n : this.lastRandom + 1n;
      if (this.lastRandom === 0n) this.lastTime += 1;
    }
    return encode(BigInt(this.lastTime), timeChars) + encode(this.lastRandom, randomChars);
  }
}
