/**
 * The root of trust of the WhatsApp Noise handshake, and how a configured one is
 * read. No side effects: noise-certificate.ts is what checks chains against it.
 */

/**
 * WhatsApp's Noise root public key (Curve25519), as published in whatsmeow
 * (`WACertPubKey`, handshake.go) and Baileys (`WA_CERT_DETAILS.PUBLIC_KEY`).
 */
export const whatsAppRootPublicKeyHex = '142375574d0a587166aae71ebe516437c4a28b73e3695c6ce1f7f9545da8ee6b';
/** The issuer serial an intermediate signed by that root carries (whatsmeow's `WACertIssuerSerial`). */
export const rootIssuerSerial = 0;

/**
 * A root public key from configuration: 32 bytes as 64 hex digits or as base64 (a
 * 33-byte key with libsignal's 0x05 type prefix is accepted too). Null when it is neither.
 */
export function parseRootPublicKey(text: string): Uint8Array | null {
  const trimmed = text.trim();
  let bytes: Buffer | null = null;
  if (/^(?:[0-9a-fA-F]{2})+$/.test(trimmed)) bytes = Buffer.from(trimmed, 'hex');
  else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) bytes = Buffer.from(trimmed, /[-_]/.test(trimmed) ? 'base64url' : 'base64');
  if (bytes?.byteLength === 33 && bytes[0] === 5) bytes = bytes.subarray(1);
  return bytes?.byteLength === 32 ? new Uint8Array(bytes) : null;
}

export const whatsAppRootPublicKey: Uint8Array = parseRootPublicKey(whatsAppRootPublicKeyHex)!;
