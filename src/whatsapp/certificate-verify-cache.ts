/**
 * Remembers signature checks that succeeded, so a reconnect does not pay for them again.
 *
 * On every connection Baileys checks the server's Noise certificate chain with two
 * XEdDSA verifications (`processHandshake` → `Curve.verify` → libsignal's
 * `verifySignature` → pure-JavaScript curve25519-js): about 5 ms of CPU each, two
 * thirds of a reconnect's client CPU. The chain is byte-for-byte the same on every
 * connection to the same server, so the answer is too.
 *
 * Verification is a pure function of (public key, message, signature). This wraps
 * Baileys' `Curve.verify` — the one property noise-handler.js calls through — with a
 * bounded LRU keyed by the exact bytes of all three: a triple seen before answers
 * what the original answered for it; anything else goes to the original. Only `true`
 * is remembered (a refusal is recomputed every time), and inputs that are not byte
 * arrays are never cached. Nothing about the answer changes; only how often it is
 * computed. Why this and not a faster implementation (native Ed25519 after an
 * XEdDSA key conversion): see the README, "Reconnect CPU".
 *
 * Pinned by test/whatsapp/certificate-verify-cache.test.ts: it fails if an upgrade of
 * Baileys stops calling `Curve.verify` in the handshake (no cache hits on a second
 * connection) or if a cached answer ever differs from the original's.
 */
import { Curve } from '@whiskeysockets/baileys';

type Verify = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean;

/** Distinct verified triples kept. A server presents two per chain; rotations and pairings add a few. */
export const verifyCacheCapacity = 64;

/** Baileys' own function, as it was before this module replaced it. */
export const baileysVerify: Verify = Curve.verify;

const verified = new Map<string, true>();
const stats = { hits: 0, misses: 0 };

/** The exact bytes of the triple, with lengths, as one string: no two triples share a key. */
function keyOf(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): string {
  const lengths = `${publicKey.byteLength}.${signature.byteLength}.${message.byteLength}:`;
  return lengths + Buffer.concat([publicKey, signature, message]).toString('latin1');
}

function cachedVerify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (!(publicKey instanceof Uint8Array && message instanceof Uint8Array && signature instanceof Uint8Array)) {
    return baileysVerify(publicKey, message, signature);
  }
  const key = keyOf(publicKey, message, signature);
  if (verified.has(key)) {
    stats.hits += 1;
    verified.delete(key); // re-insert: Map order is the LRU order
    verified.set(key, true);
    return true;
  }
  stats.misses += 1;
  const answer = baileysVerify(publicKey, message, signature);
  if (answer === true) {
    verified.set(key, true);
    if (verified.size > verifyCacheCapacity) verified.delete(verified.keys().next().value!);
  }
  return answer;
}

/** Puts the cache in front of Baileys' `Curve.verify` (idempotent). */
export function installCertificateVerifyCache(): void {
  Curve.verify = cachedVerify;
}

/** Whether Baileys' `Curve.verify` is this module's (an upgrade could replace the object or freeze it). */
export function certificateVerifyCacheInstalled(): boolean {
  return Curve.verify === cachedVerify;
}

/** Hits, misses and triples held, for tests and benchmarks. */
export function certificateVerifyCacheStats(): { hits: number; misses: number; size: number } {
  return { ...stats, size: verified.size };
}

installCertificateVerifyCache();
