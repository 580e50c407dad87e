/**
 * The simulator's Noise certificate chain: a root key signs an intermediate,
 * the intermediate signs the leaf that carries the server's static key.
 *
 * Baileys rc14 checks the chain's shape (a 32-byte key, 64-byte signatures,
 * intermediate issuerSerial 0), not that WhatsApp's root signed it: its
 * Curve.verify computes the XEdDSA answer and then ignores it, returning false
 * only when libsignal throws on a malformed input. So a chain under our own root
 * is accepted. We sign it properly anyway: a client that starts checking
 * signatures will fail loudly here rather than pass silently.
 *
 * A test can ask for a tampered chain (SimulatorBehaviour.certificate):
 *   badSignature        the leaf's signature with one bit flipped (still 64 bytes)
 *   malformedSignature  the leaf's signature one byte short (libsignal throws)
 */
import { Curve, proto } from '@whiskeysockets/baileys';

const certificateLifetimeSeconds = 365 * 24 * 3600;

export type CertificateVariant = 'valid' | 'badSignature' | 'malformedSignature';
export const certificateVariants: readonly CertificateVariant[] = ['valid', 'badSignature', 'malformedSignature'];

export interface NoiseIdentity {
  /** The server's static key pair, certified by the leaf. */
  staticKeyPair: { private: Uint8Array; public: Uint8Array };
  /** Encoded proto.CertChain, sent (encrypted) in serverHello.payload, per variant. */
  certChains: Readonly<Record<CertificateVariant, Uint8Array>>;
}

export function createNoiseIdentity(): NoiseIdentity {
  const root = Curve.generateKeyPair();
  const intermediate = Curve.generateKeyPair();
  const staticKeyPair = Curve.generateKeyPair();
  const notBefore = Math.floor(Date.now() / 1000) - 60;
  const notAfter = notBefore + certificateLifetimeSeconds;

  const intermediateDetails = proto.CertChain.NoiseCertificate.Details.encode({
    serial: 1,
    issuerSerial: 0, // must be on the wire: Baileys compares it to 0, and absent decodes as null
    key: intermediate.public,
    notBefore,
    notAfter,
  }).finish();
  const leafDetails = proto.CertChain.NoiseCertificate.Details.encode({
    serial: 2,
    issuerSerial: 1,
    key: staticKeyPair.public,
    notBefore,
    notAfter,
  }).finish();

  const intermediateSignature = Curve.sign(root.private, intermediateDetails);
  const leafSignature = Curve.sign(intermediate.private, leafDetails);
  const flipped = Buffer.from(leafSignature);
  flipped[0]! ^= 0x01;
  const chain = (signature: Uint8Array) =>
    proto.CertChain.encode({
      intermediate: { details: intermediateDetails, signature: intermediateSignature },
      leaf: { details: leafDetails, signature },
    }).finish();

  return {
    staticKeyPair,
    certChains: {
      valid: chain(leafSignature),
      badSignature: chain(flipped),
      malformedSignature: chain(leafSignature.subarray(0, 63)),
    },
  };
}
