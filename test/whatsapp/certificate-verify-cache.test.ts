import { randomBytes } from 'node:crypto';
import makeWASocket, { Curve } from '@whiskeysockets/baileys';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WaSimulator } from '../../src/sim/wa-simulator.js';
import '../../src/whatsapp/connection.actor.js';
import {
  baileysVerify,
  cachedXeddsaVerify,
  certificateVerifyCacheStats,
  verifyCacheCapacity,
  xeddsaVerify,
} from '../../src/whatsapp/certificate-verify-cache.js';
import { noiseCertificateCheckInstalled, trustNoiseRoot } from '../../src/whatsapp/noise-certificate.js';
import { memoryAuth, registeredCreds } from '../../fixtures/memory-auth.js';

let sim: WaSimulator;
beforeEach(async () => {
  sim = await new WaSimulator().start();
  // Raw sockets here, not the connection actor: this process trusts the simulator's root by hand.
  trustNoiseRoot(sim.rootPublicKey);
});
afterEach(async () => {
  await sim.stop();
});

let phone = 15557000000;
/** One raw Baileys connection with fresh registered credentials: does it open, or close first? */
async function connectOnce(): Promise<'open' | 'refused'> {
  const auth = memoryAuth(registeredCreds(String(phone++), 1));
  const sock = makeWASocket({ auth: auth.state, waWebSocketUrl: sim.url, logger: pino({ level: 'silent' }) as never });
  const outcome = await new Promise<'open' | 'refused'>((resolve) =>
    sock.ev.on('connection.update', (u) => {
      if (u.connection === 'open') resolve('open');
      if (u.connection === 'close') resolve('refused');
    }),
  );
  await sock.end(undefined);
  return outcome;
}

function randomVectors(count: number) {
  const vectors: Array<[string, Uint8Array, Uint8Array, Uint8Array]> = [];
  for (let i = 0; i < count; i++) {
    const pair = Curve.generateKeyPair();
    const other = Curve.generateKeyPair();
    const message = randomBytes(1 + (i * 37) % 300);
    const signature = Curve.sign(pair.private, message);
    const flipped = Buffer.from(signature);
    flipped[i % 64]! ^= 1 << i % 8;
    const kinds: Array<[string, Uint8Array, Uint8Array, Uint8Array]> = [
      ['valid', pair.public, message, signature],
      ['flipped signature bit', pair.public, message, flipped],
      ['wrong key', other.public, message, signature],
      ['other message', pair.public, randomBytes(message.length), signature],
      ['short signature', pair.public, message, signature.subarray(0, 63)],
      ['random signature', pair.public, message, randomBytes(64)],
      ['33-byte key', Buffer.concat([Buffer.from([5]), pair.public]), message, signature],
    ];
    vectors.push(kinds[i % kinds.length]!);
  }
  return vectors;
}

describe("Baileys' certificate checks remember what they verified", () => {
  it("is in place: Baileys' Curve.verify is the chain-checking one, which asks the cache", () => {
    expect(noiseCertificateCheckInstalled()).toBe(true);
    expect(Curve.verify).not.toBe(baileysVerify);
  });

  it('answers exactly what the real XEdDSA check answers, first time and from the cache, over random vectors', () => {
    for (const [kind, key, message, signature] of randomVectors(70)) {
      const expected = xeddsaVerify(key, message, signature);
      expect(cachedXeddsaVerify(key, message, signature), `${kind}, first`).toBe(expected);
      expect(cachedXeddsaVerify(key, message, signature), `${kind}, again`).toBe(expected);
    }
  });

  it("outside the handshake's chain, Curve.verify still answers what Baileys' own answers (pairing is not changed)", () => {
    for (const [kind, key, message, signature] of randomVectors(70)) {
      const expected = baileysVerify(key, message, signature);
      expect(Curve.verify(key, message, signature), `${kind}, first`).toBe(expected);
      expect(Curve.verify(key, message, signature), `${kind}, again`).toBe(expected);
    }
  });

  it('keeps at most verifyCacheCapacity triples', () => {
    const pair = Curve.generateKeyPair();
    for (let i = 0; i < verifyCacheCapacity + 10; i++) {
      const message = randomBytes(40);
      Curve.verify(pair.public, message, Curve.sign(pair.private, message));
    }
    expect(certificateVerifyCacheStats().size).toBe(verifyCacheCapacity);
  });

  it("a second handshake with the same server is answered from the cache (fails if Baileys stops calling Curve.verify)", async () => {
    expect(await connectOnce()).toBe('open');
    const before = certificateVerifyCacheStats();
    expect(await connectOnce()).toBe('open');
    const after = certificateVerifyCacheStats();
    expect(after.hits - before.hits).toBe(2); // leaf and intermediate
    expect(after.misses - before.misses).toBe(0);
  });

  it('a malformed certificate signature is still refused, on every connection', async () => {
    sim.behaviour.certificate = 'malformedSignature';
    expect(await connectOnce()).toBe('refused');
    expect(await connectOnce()).toBe('refused');
    expect(sim.counters.logins).toBe(0);
  });

  it('a wrong (well-formed) signature is refused on every connection: the cache never remembers a refusal', async () => {
    sim.behaviour.certificate = 'badSignature';
    expect(await connectOnce()).toBe('refused');
    expect(await connectOnce()).toBe('refused');
    expect(sim.counters.logins).toBe(0);
  });

  it('Baileys 7.0.0-rc14 ignores the XEdDSA result: a wrong signature of the right shape verifies (upstream; fails when fixed)', () => {
    const pair = Curve.generateKeyPair();
    const message = randomBytes(64);
    const wrong = Buffer.from(Curve.sign(pair.private, message));
    wrong[5]! ^= 0x10;
    expect(baileysVerify(pair.public, message, wrong)).toBe(true);
    expect(baileysVerify(pair.public, message, wrong.subarray(0, 63))).toBe(false);
  });
});
