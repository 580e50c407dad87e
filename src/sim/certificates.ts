/**
 * The simulator's Noise certificate chain: a root key signs an intermediate,
 * the intermediate signs the leaf that carries the server's static key — the
 * shape of WhatsApp's, under the simulator's own root.
 *
 * wa-vigil refuses any chain that does not lead to the root it trusts
 * (src/whatsapp/noise-certificate.ts; WhatsApp's by default), so whatever starts
 * a service against a simulator must tell it the simulator's root:
 * WA_ROOT_PUBLIC_KEY=<sim.rootPublicKeyHex>, or `waRootPublicKey` in the socket
 * options. Every simulator signs with the same fixed root (simulatorRootPublicKey),
 * so a process can restart a simulator, or run several, under one setting; a test
 * that wants another root passes `rootSeed`.
 *
 * A test can ask for a tampered chain (SimulatorBehaviour.certificate):
 *   badSignature        the leaf's signature with one bit flipped (still 64 bytes)
 *   malformedSignature  the leaf's signature one byte short (libsignal throws)
 *   wrongRoot           a well-formed chain whose intermediate another root signed
 *   expired             a correctly signed chain whose leaf expired an hour ago
 *   otherStaticKey      a correctly signed chain that certifies another key than the
 *                       one the server uses (a genuine chain replayed by an impostor)
 */
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { Curve, proto } from '@whiskeysockets/baileys';

const certificateLifetimeSeconds = 365 * 24 * 3600;

export type CertificateVariant = 'valid' | 'badSignature' | 'malformedSignature' | 'wrongRoot' | 'expired' | 'otherStaticKey';
export const certificateVariants: readonly CertificateVariant[] = ['valid', 'badSignature', 'malformedSignature', 'wrongRoot', 'expired', 'otherStaticKey'];

export interface KeyPair {
  private: Uint8Array;
  public: Uint8Array;
}

export interface NoiseIdentity {
  /** The public key of the root that signs the chain: what a client must trust. */
  rootPublicKey: Uint8Array;
  /** The server's static key pair, certified by the leaf. */
  staticKeyPair: KeyPair;
  /** Encoded proto.CertChain, sent (encrypted) in serverHello.payload, per variant. */
  certChains: Readonly<Record<CertificateVariant, Uint8Array>>;
}

/** PKCS#8 DER of an X25519 private key, up to its 32 raw bytes. */
const x25519Pkcs8Prefix = Buffer.from('302e020100300506032b656e04220420', 'hex');

/** A Curve25519 key pair from a seed phrase: the same pair every time (Curve.generateKeyPair's shape). */
export function keyPairFromSeed(seed: string): KeyPair {
  const privateKey = createHash('sha256').update(seed).digest();
  const publicDer = createPublicKey(createPrivateKey({ key: Buffer.concat([x25519Pkcs8Prefix, privateKey]), format: 'der', type: 'pkcs8' })).export({
    format: 'der',
    type: 'spki',
  });
  // Buffers, as Curve.generateKeyPair gives: libsignal refuses to sign with a plain Uint8Array.
  return { private: privateKey, public: Buffer.from(publicDer.subarray(-32)) };
}

/** Not a secret: anyone may sign as this root, which is why only tests and the demo trust it. */
export const simulatorRootSeed = 'wa-vigil simulator root';
export const simulatorRootPublicKey: Uint8Array = keyPairFromSeed(simulatorRootSeed).public;
export const simulatorRootPublicKeyHex: string = Buffer.from(simulatorRootPublicKey).toString('hex');

function encodeDetails(details: proto.CertChain.NoiseCertificate.IDetails): Uint8Array {
  return proto.CertChain.NoiseCertificate.Details.encode(details).finish();
}

export function createNoiseIdentity(rootSeed: string = simulatorRootSeed): NoiseIdentity {
  const root = keyPairFromSeed(rootSeed);
  const impostorRoot = Curve.generateKeyPair();
  const intermediate = Curve.generateKeyPair();
  const staticKeyPair = Curve.generateKeyPair();
  const notBefore = Math.floor(Date.now() / 1000) - 60;
  const notAfter = notBefore + certificateLifetimeSeconds;

  const intermediateDetails = encodeDetails({
    serial: 1,
    issuerSerial: 0, // must be on the wire: absent decodes as null
    key: intermediate.public,
    notBefore,
    notAfter,
  });
  const leaf = (fields: Partial<proto.CertChain.NoiseCertificate.IDetails>) => {
    const details = encodeDetails({ serial: 2, issuerSerial: 1, key: staticKeyPair.public, notBefore, notAfter, ...fields });
    return { details, signature: Curve.sign(intermediate.private, details) };
  };
  const validLeaf = leaf({});
  const intermediateSignature = Curve.sign(root.private, intermediateDetails);
  const chain = (leafCert: { details: Uint8Array; signature: Uint8Array }, intermediateSigner = intermediateSignature) =>
    proto.CertChain.encode({
      intermediate: { details: intermediateDetails, signature: intermediateSigner },
      leaf: leafCert,
    }).finish();
  const flipped = Buffer.from(validLeaf.signature);
  flipped[0]! ^= 0x01;
  const hourAgo = Math.floor(Date.now() / 1000) - 3600;

  return {
    rootPublicKey: root.public,
    staticKeyPair,
    certChains: {
      valid: chain(validLeaf),
      badSignature: chain({ details: validLeaf.details, signature: flipped }),
      malformedSignature: chain({ details: validLeaf.details, signature: validLeaf.signature.subarray(0, 63) }),
      wrongRoot: chain(validLeaf, Curve.sign(impostorRoot.private, intermediateDetails)),
      expired: chain(leaf({ notBefore: hourAgo - certificateLifetimeSeconds, notAfter: hourAgo })),
      otherStaticKey: chain(leaf({ key: Curve.generateKeyPair().public })),
    },
  };
}
