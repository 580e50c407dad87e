/**
 * Remembers signature checks that succeeded, so a reconnect does not pay for them again.
 *
 * On every connection the server's Noise certificate chain is checked with two
 * XEdDSA verifications (libsignal's `verifySignature` → pure-JavaScript
 * curve25519-js): about 5 ms of CPU each, two thirds of a reconnect's client CPU.
 * The chain is byte-for-byte the same on every connection to the same server, so
 * the answer is too.
 *
 * Verification is a pure function of (public key, message, signature). This is a
 * bounded LRU in front of the real check (libsignal's answer, which Baileys' own
 * `Curve.verify` computes and then ignores), keyed by the exact bytes of all three:
 * a triple seen before answers what the check answered for it; anything else goes to
 * the check. Only `true` is remembered (a refusal is recomputed every time). Nothing
 * about the answer changes; only how often it is computed. noise-certificate.ts puts
 * it behind Baileys' `Curve.verify`. Why this and not a faster implementation (native
 * Ed25519 after an XEdDSA key conversion): see the README, "Reconnect CPU".
 *
 * Pinned by test/whatsapp/certificate-verify-cache.test.ts: it fails if an upgrade of
 * Baileys stops calling `Curve.verify` in the handshake (no cache hits on a second
 * connection) or if a cached answer ever differs from the real check's.
 */
import { Curve } from '@whiskeysockets/baileys';
import { verifySignature } from 'libsignal/src/curve.js';

type Verify = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean;

/** Distinct verified triples kept. A server presents two per chain; rotations and pairings add a few. */
export const verifyCacheCapacity = 64;

/** Baileys' own function, as it was before noise-certificate.ts replaced it (it ignores the XEdDSA answer). */
export const baileysVerify: Verify = Curve.verify;

/** libsignal's type byte in front of a Curve25519 public key. */
const djbKeyType = Buffer.from([5]);

/** The real XEdDSA check: true only for a 32-byte key (33 with its type byte), a 64-byte signature that verifies. */
export function xeddsaVerify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    const key = publicKey.byteLength === 32 ? Buffer.concat([djbKeyType, publicKey]) : publicKey;
    return verifySignature(key, message, signature) === true;
  } catch {
    return false; // malformed (wrong lengths): libsignal throws
  }
}

const verified = new Map<string, true>();
const stats = { hits: 0, misses: 0 };

/** The exact bytes of the triple, with lengths, as one string: no two triples share a key. */
function keyOf(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): string {
  const lengths = `${publicKey.byteLength}.${signature.byteLength}.${message.byteLength}:`;
  return lengths + Buffer.concat([publicKey, signature, message]).toString('latin1');
}

/** xeddsaVerify, answered from the cache when the exact triple verified before. */
export function cachedXeddsaVerify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (!(publicKey instanceof Uint8Array && message instanceof Uint8Array && signature instanceof Uint8Array)) return false;
  const key = keyOf(publicKey, message, signature);
  if (verified.has(key)) {
    stats.hits += 1;
    verified.delete(key); // re-insert: Map order is the LRU order
    verified.set(key, true);
    return true;
  }
  stats.misses += 1;
  const answer = xeddsaVerify(publicKey, message, signature);
  if (answer === true) {
    verified.set(key, true);
    if (verified.size > verifyCacheCapacity) verified.delete(verified.keys().next().value!);
  }
  return answer;
}

/** Hits, misses and triples held, for tests and benchmarks. */
export function certificateVerifyCacheStats(): { hits: number; misses: number; size: number } {
  return { ...stats, size: verified.size };
}
