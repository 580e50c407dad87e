/**
 * The server half of WhatsApp Web's Noise_XX_25519_AESGCM_SHA256 handshake and
 * the framed, encrypted transport after it — the mirror of Baileys'
 * Utils/noise-handler.js, built from the primitives Baileys exports.
 *
 * Handshake (client → server, server → client, client → server):
 *   clientHello{ephemeral} · serverHello{ephemeral, static*, payload*} · clientFinish{static*, payload*}
 * (* = AES-GCM under the running key, with the running hash as associated data).
 * Each DH result is mixed in with HKDF(salt = chaining key, 64 bytes), which also
 * resets the nonce counter. After clientFinish both sides split HKDF(empty): the
 * client writes with [0:32] and reads with [32:64]; one counter per direction.
 */
import { aesDecryptGCM, aesEncryptGCM, Curve, hkdf, NOISE_MODE, sha256 } from '@whiskeysockets/baileys';

type KeyPair = { private: Uint8Array; public: Uint8Array };

const ivLength = 12;

function ivFor(counter: number): Uint8Array {
  const iv = new Uint8Array(ivLength);
  new DataView(iv.buffer).setUint32(8, counter);
  return iv;
}

/** The symmetric state both sides keep during the handshake. */
export class NoiseHandshakeState {
  private hash: Buffer;
  private salt: Buffer;
  private key: Buffer;
  private counter = 0;

  constructor(prologue: Uint8Array) {
    const mode = Buffer.from(NOISE_MODE);
    this.hash = mode.byteLength === 32 ? mode : Buffer.from(sha256(mode));
    this.salt = this.hash;
    this.key = this.hash;
    this.authenticate(prologue);
  }

  authenticate(data: Uint8Array): void {
    this.hash = Buffer.from(sha256(Buffer.concat([this.hash, data])));
  }

  mixIntoKey(sharedSecret: Uint8Array): void {
    const derived = Buffer.from(hkdf(Buffer.from(sharedSecret), 64, { salt: this.salt, info: '' }));
    this.salt = derived.subarray(0, 32);
    this.key = derived.subarray(32);
    this.counter = 0;
  }

  encrypt(plaintext: Uint8Array): Buffer {
    const ciphertext = Buffer.from(aesEncryptGCM(plaintext, this.key, ivFor(this.counter++), this.hash));
    this.authenticate(ciphertext);
    return ciphertext;
  }

  decrypt(ciphertext: Uint8Array): Buffer {
    const plaintext = Buffer.from(aesDecryptGCM(ciphertext, this.key, ivFor(this.counter++), this.hash));
    this.authenticate(ciphertext);
    return plaintext;
  }

  /** The transport keys, from the server's side: it reads what the client writes. */
  split(): NoiseTransport {
    const derived = Buffer.from(hkdf(Buffer.alloc(0), 64, { salt: this.salt, info: '' }));
    return new NoiseTransport(derived.subarray(32), derived.subarray(0, 32));
  }
}

/** After the handshake: one key and one counter per direction, no associated data. */
export class NoiseTransport {
  private readCounter = 0;
  private writeCounter = 0;

  constructor(
    private readonly writeKey: Buffer,
    private readonly readKey: Buffer,
  ) {}

  encrypt(plaintext: Uint8Array): Buffer {
    return Buffer.from(aesEncryptGCM(plaintext, this.writeKey, ivFor(this.writeCounter++), Buffer.alloc(0)));
  }

  decrypt(ciphertext: Uint8Array): Buffer {
    return Buffer.from(aesDecryptGCM(ciphertext, this.readKey, ivFor(this.readCounter++), Buffer.alloc(0)));
  }
}

/** Splits a byte stream into 3-byte big-endian length-prefixed frames. */
export class FrameReader {
  private pending = Buffer.alloc(0);

  push(chunk: Uint8Array): Buffer[] {
    this.pending = this.pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.pending, chunk]);
    const frames: Buffer[] = [];
    while (this.pending.length >= 3) {
      const size = (this.pending[0]! << 16) | (this.pending[1]! << 8) | this.pending[2]!;
      if (this.pending.length < size + 3) break;
      frames.push(this.pending.subarray(3, size + 3));
      this.pending = this.pending.subarray(size + 3);
    }
    return frames;
  }
}

export function encodeFrame(payload: Uint8Array): Buffer {
  const frame = Buffer.alloc(3 + payload.byteLength);
  frame.writeUIntBE(payload.byteLength, 0, 3);
  frame.set(payload, 3);
  return frame;
}

export function generateKeyPair(): KeyPair {
  return Curve.generateKeyPair();
}

export function sharedKey(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  return Curve.sharedKey(privateKey, publicKey);
}
