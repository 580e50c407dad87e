import { randomBytes } from 'node:crypto';
import makeWASocket, { Curve, proto, WA_CERT_DETAILS } from '@whiskeysockets/baileys';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WaSimulator } from '../../src/sim/wa-simulator.js';
import '../../src/whatsapp/connection.actor.js';
import {
  baileysVerify,
  certificateVerifyCacheInstalled,
  certificateVerifyCacheStats,
  verifyCacheCapacity,
} from '../../src/whatsapp/certificate-verify-cache.js';
import { memoryAuth, registeredCreds } from '../support/memory-auth.js';

let sim: WaSimulator;
beforeEach(async () => {
  sim = await new WaSimulator().start();
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
  it("is in place: Baileys' Curve.verify is the caching one", () => {
    expect(certificateVerifyCacheInstalled()).toBe(true);
    expect(Curve.verify).not.toBe(baileysVerify);
  });

  it("answers exactly what Baileys' own verify answers, first time and from the cache, over random vectors", () => {
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

  it("a wrong (well-formed) signature gets the outcome Baileys' own verify dictates, on every connection", async () => {
    sim.behaviour.certificate = 'badSignature';
    // What the chain's two checks answer without the cache decides the expected outcome.
    const expected = chainAccepted(sim.presentedCertChain) ? 'open' : 'refused';
    expect(await connectOnce()).toBe(expected);
    expect(await connectOnce()).toBe(expected);
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

/** Baileys' two checks of a chain (leaf by the intermediate's key, intermediate by WhatsApp's root), with its own verify. */
function chainAccepted(encoded: Uint8Array): boolean {
  return chainChecks(encoded).every(([key, message, signature]) => baileysVerify(key, message, signature));
}

function chainChecks(encoded: Uint8Array): Array<[Uint8Array, Uint8Array, Uint8Array]> {
  const { intermediate, leaf } = proto.CertChain.decode(encoded);
  const details = proto.CertChain.NoiseCertificate.Details.decode(intermediate!.details!);
  return [
    [details.key!, leaf!.details!, leaf!.signature!],
    [WA_CERT_DETAILS.PUBLIC_KEY, intermediate!.details!, intermediate!.signature!],
  ];
}
