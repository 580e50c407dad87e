/**
 * The simulator's Noise certificate chain: a root key signs an intermediate,
 * the intermediate signs the leaf that carries the server's static key.
 *
 * Baileys rc14 checks the chain's shape (a 32-byte key, 64-byte signatures,
 * intermediate issuerSerial 0), not that WhatsApp's root signed it, so a chain
 * under our own root is accepted. We sign it properly anyway: a client that
 * starts checking signatures will fail loudly here rather than pass silently.
 */
import { Curve, proto } from '@whiskeysockets/baileys';

const certificateLifetimeSeconds = 365 * 24 * 3600;

export interface NoiseIdentity {
  /** The server's static key pair, certified by the leaf. */
  staticKeyPair: { private: Uint8Array; public: Uint8Array };
  /** Encoded proto.CertChain, sent (encrypted) in serverHello.payload. */
  certChain: Uint8Array;
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

  const certChain = proto.CertChain.encode({
    intermediate: { details: intermediateDetails, signature: Curve.sign(root.private, intermediateDetails) },
    leaf: { details: leafDetails, signature: Curve.sign(intermediate.private, leafDetails) },
  }).finish();

  return { staticKeyPair, certChain };
}
