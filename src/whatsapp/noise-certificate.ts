/**
 * The server's Noise certificate chain, checked the way whatsmeow checks it.
 *
 * In the handshake the server sends its static key and a chain: an intermediate
 * certificate signed by WhatsApp's root key, and a leaf, signed by the
 * intermediate, that names the static key. Baileys 7.0.0-rc14 computes the two
 * XEdDSA checks and ignores their answers (its Curve.verify returns true unless
 * libsignal throws on a malformed input), so a well-formed chain signed by
 * anyone was accepted, and the chain never had to name the key the server
 * actually used. Here the handshake is refused unless:
 *   - the intermediate is signed by the trusted root (WhatsApp's by default) and
 *     has issuer serial 0, a 32-byte key, and is valid now;
 *   - the leaf is signed by the intermediate's key, names the intermediate's
 *     serial as its issuer, certifies exactly the static key the server used in
 *     this handshake, and is valid now.
 *
 * How it reaches Baileys: noise-handler.js calls `Curve.verify` twice in a row
 * inside one synchronous processHandshake — first the leaf against the
 * intermediate's key, then the intermediate against WhatsApp's root key — right
 * after `Curve.sharedKey` was called with the server's static key. Our
 * `Curve.verify` recognises the second call by its key (WhatsApp's root),
 * checks the whole chain with what the two calls and the last shared-key call
 * carried, and throws a NoiseCertificateError to refuse: the handshake fails,
 * Baileys closes the socket with that error, and the connection actor reports
 * it as an outage (see connection.actor.ts). Every other Curve.verify call
 * (pairing signatures) answers exactly what Baileys' own would.
 *
 * The checks go through the verification cache (certificate-verify-cache.ts), so
 * a reconnect to the same server costs two map lookups, as before.
 *
 * Pinned by test/whatsapp/noise-certificate.test.ts: a chain under another root,
 * an expired leaf, or a genuine chain replayed with another static key are each
 * refused through a real Baileys handshake; if an upgrade of Baileys stops making
 * these calls, those tests fail.
 */
import { Curve, proto, WA_CERT_DETAILS } from '@whiskeysockets/baileys';
import { baileysVerify, cachedXeddsaVerify } from './certificate-verify-cache.js';
import { rootIssuerSerial, whatsAppRootPublicKey } from './noise-root.js';

export { parseRootPublicKey, rootIssuerSerial, whatsAppRootPublicKey, whatsAppRootPublicKeyHex } from './noise-root.js';

export type CertificateRefusal =
  | 'malformed' // missing parts, wrong lengths, undecodable details
  | 'intermediateSignature' // the intermediate is not signed by the trusted root
  | 'intermediateIssuer' // the intermediate does not name the root's serial
  | 'leafSignature' // the leaf is not signed by the intermediate
  | 'leafIssuer' // the leaf does not name the intermediate's serial
  | 'staticKeyMismatch' // the leaf certifies another key than the one the server used
  | 'notYetValid'
  | 'expired';

export const certificateRefusals: readonly CertificateRefusal[] = [
  'malformed',
  'intermediateSignature',
  'intermediateIssuer',
  'leafSignature',
  'leafIssuer',
  'staticKeyMismatch',
  'notYetValid',
  'expired',
];

/** The handshake was refused: the server could not prove it is WhatsApp (or the trusted root's server). */
export class NoiseCertificateError extends Error {
  readonly code = 'ERR_NOISE_CERTIFICATE';
  constructor(readonly reason: CertificateRefusal) {
    super(`server certificate refused: ${reason}`);
    this.name = 'NoiseCertificateError';
  }
}

export function isNoiseCertificateError(error: unknown): error is NoiseCertificateError {
  return error instanceof Error && (error as { code?: unknown }).code === 'ERR_NOISE_CERTIFICATE';
}

type Verify = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean;

export interface ChainCheck {
  intermediate: { details: Uint8Array; signature: Uint8Array };
  leaf: { details: Uint8Array; signature: Uint8Array };
  /** The static key the server used in this handshake. */
  serverStaticKey: Uint8Array;
  rootPublicKey: Uint8Array;
  nowSeconds: number;
  /** XEdDSA verification; the leaf's answer may come precomputed (Baileys asked it first). */
  verify: Verify;
  leafVerified?: boolean;
}

/** Whatever is wrong with the chain, first found first; null when it holds. */
export function checkCertificateChain(check: ChainCheck): CertificateRefusal | null {
  const { intermediate, leaf } = check;
  if (intermediate.signature.byteLength !== 64 || leaf.signature.byteLength !== 64 || check.rootPublicKey.byteLength !== 32) return 'malformed';
  if (!check.verify(check.rootPublicKey, intermediate.details, intermediate.signature)) return 'intermediateSignature';
  const intermediateDetails = decodeDetails(intermediate.details);
  if (!intermediateDetails) return 'malformed';
  if (Number(intermediateDetails.issuerSerial ?? 0) !== rootIssuerSerial) return 'intermediateIssuer';
  const intermediateKey = intermediateDetails.key;
  if (!intermediateKey || intermediateKey.byteLength !== 32) return 'malformed';
  const leafVerified = check.leafVerified ?? check.verify(intermediateKey, leaf.details, leaf.signature);
  if (!leafVerified) return 'leafSignature';
  const validity = validAt(intermediateDetails, check.nowSeconds);
  if (validity) return validity;
  const leafDetails = decodeDetails(leaf.details);
  if (!leafDetails) return 'malformed';
  if (Number(leafDetails.issuerSerial ?? 0) !== Number(intermediateDetails.serial ?? 0)) return 'leafIssuer';
  if (!leafDetails.key || !Buffer.from(leafDetails.key).equals(Buffer.from(check.serverStaticKey))) return 'staticKeyMismatch';
  return validAt(leafDetails, check.nowSeconds);
}

type Details = proto.CertChain.NoiseCertificate.IDetails;

function decodeDetails(bytes: Uint8Array): Details | null {
  try {
    return proto.CertChain.NoiseCertificate.Details.decode(bytes);
  } catch {
    return null;
  }
}

function validAt(details: Details, nowSeconds: number): CertificateRefusal | null {
  if (nowSeconds < Number(details.notBefore ?? 0)) return 'notYetValid';
  if (nowSeconds > Number(details.notAfter ?? 0)) return 'expired';
  return null;
}

// ---- the hook into Baileys ----

let trustedRoot: Uint8Array = whatsAppRootPublicKey;
let clock: () => number = () => Date.now();
const refusals = new Map<CertificateRefusal, number>();
/** What the handshake passed just before the root check: the leaf's check and the server's static key. */
let lastVerify: { publicKey: Uint8Array; message: Uint8Array; signature: Uint8Array; answer: boolean } | null = null;
let lastPeerKey: Uint8Array | null = null;

/**
 * The root every later handshake of this process is checked against. Process-wide (Baileys'
 * Curve is one object): a process talks to one WhatsApp, the real one or a simulator.
 */
export function trustNoiseRoot(publicKey: Uint8Array): void {
  if (publicKey.byteLength !== 32) throw new RangeError('a Noise root public key has 32 bytes');
  trustedRoot = publicKey;
}

export function trustedNoiseRoot(): Uint8Array {
  return trustedRoot;
}

/** For tests: the wall clock the validity times are judged by (milliseconds). */
export function setCertificateClock(now: () => number): void {
  clock = now;
}

/** Refused handshakes since the process started, by reason. */
export function certificateRefusalCounts(): ReadonlyMap<CertificateRefusal, number> {
  return refusals;
}

const baileysSharedKey = Curve.sharedKey;

function isRootCheck(publicKey: Uint8Array): boolean {
  return publicKey === WA_CERT_DETAILS.PUBLIC_KEY || (publicKey instanceof Uint8Array && Buffer.from(publicKey).equals(WA_CERT_DETAILS.PUBLIC_KEY));
}

function refuse(reason: CertificateRefusal): never {
  refusals.set(reason, (refusals.get(reason) ?? 0) + 1);
  throw new NoiseCertificateError(reason);
}

function chainCheckingVerify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (!isRootCheck(publicKey)) {
    // The leaf check of a handshake, or any other signature: remembered for the root check that
    // follows, answered as Baileys would (a true from the real check is Baileys' true as well).
    const bytes = publicKey instanceof Uint8Array && message instanceof Uint8Array && signature instanceof Uint8Array;
    const answer = bytes && cachedXeddsaVerify(publicKey, message, signature);
    lastVerify = bytes ? { publicKey, message, signature, answer } : null;
    return answer || baileysVerify(publicKey, message, signature);
  }
  const leaf = lastVerify;
  const peerKey = lastPeerKey;
  lastVerify = null;
  if (!leaf || !peerKey || !(message instanceof Uint8Array) || !(signature instanceof Uint8Array)) return refuse('malformed');
  const intermediateKey = decodeDetails(message)?.key;
  // The leaf check must have been made with the key this intermediate certifies; anything else
  // means the calls were not the handshake's pair, and nothing is accepted on a guess.
  const leafMatches = intermediateKey instanceof Uint8Array && Buffer.from(intermediateKey).equals(Buffer.from(leaf.publicKey));
  const refusal = checkCertificateChain({
    intermediate: { details: message, signature },
    leaf: { details: leaf.message, signature: leaf.signature },
    serverStaticKey: peerKey,
    rootPublicKey: trustedRoot,
    nowSeconds: Math.floor(clock() / 1000),
    verify: cachedXeddsaVerify,
    ...(leafMatches ? { leafVerified: leaf.answer } : {}),
  });
  if (refusal) refuse(refusal);
  return true;
}

/** Remembers the last key agreed with: in the handshake, the server's static key just before the chain is checked. */
function rememberingSharedKey(privateKey: Uint8Array, publicKey: Uint8Array): ReturnType<typeof baileysSharedKey> {
  lastPeerKey = publicKey;
  return baileysSharedKey(privateKey, publicKey);
}

/** Puts the chain check into Baileys' Curve (idempotent). */
export function installNoiseCertificateCheck(): void {
  Curve.verify = chainCheckingVerify;
  Curve.sharedKey = rememberingSharedKey;
}

/** Whether Baileys' Curve is this module's (an upgrade could replace the object or freeze it). */
export function noiseCertificateCheckInstalled(): boolean {
  return Curve.verify === chainCheckingVerify && Curve.sharedKey === rememberingSharedKey;
}

installNoiseCertificateCheck();
