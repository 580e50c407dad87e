/**
 * A simulated phone that links a companion device by scanning its QR code:
 * it builds the `pair-success` stanza a real phone's server would send, with a
 * device identity signed by the phone's account key and MACed with the
 * companion's ADV secret (which only the QR carries).
 */
import { Curve, hmacSign, proto, type BinaryNode } from '@whiskeysockets/baileys';

const qrPrefix = 'https://wa.me/settings/linked_devices#';
const accountSignaturePrefix = Buffer.from([6, 0]);

export interface ScannedQr {
  ref: string;
  noiseKey: Buffer;
  identityKey: Buffer;
  advSecret: Buffer;
}

export class QrFormatError extends Error {
  readonly code = 'ERR_QR_FORMAT';
}

/** Reads what Baileys' buildPairingQRData put in the QR text. */
export function parseQr(qr: string): ScannedQr {
  const body = qr.startsWith(qrPrefix) ? qr.slice(qrPrefix.length) : qr;
  const [ref, noiseKey, identityKey, advSecret] = body.split(',');
  if (!ref || !noiseKey || !identityKey || !advSecret) {
    throw new QrFormatError('not a WhatsApp pairing QR: expected ref,noiseKey,identityKey,advSecret');
  }
  return {
    ref,
    noiseKey: Buffer.from(noiseKey, 'base64'),
    identityKey: Buffer.from(identityKey, 'base64'),
    advSecret: Buffer.from(advSecret, 'base64'),
  };
}

export interface LinkedDevice {
  /** e.g. 15550001234:3@s.whatsapp.net */
  jid: string;
  lid: string;
}

/** The `<iq type="set"><pair-success>…</pair-success></iq>` for one scan. */
export function buildPairSuccess(scan: ScannedQr, device: LinkedDevice, stanzaId: string): BinaryNode {
  const accountKey = Curve.generateKeyPair();
  const deviceDetails = proto.ADVDeviceIdentity.encode({
    rawId: Math.floor(Math.random() * 2 ** 31),
    timestamp: Math.floor(Date.now() / 1000),
    keyIndex: 1,
  }).finish();
  const accountSignature = Curve.sign(
    accountKey.private,
    Buffer.concat([accountSignaturePrefix, deviceDetails, scan.identityKey]),
  );
  const signedIdentity = proto.ADVSignedDeviceIdentity.encode({
    details: deviceDetails,
    accountSignatureKey: accountKey.public,
    accountSignature,
  }).finish();
  const identityWithMac = proto.ADVSignedDeviceIdentityHMAC.encode({
    details: signedIdentity,
    hmac: hmacSign(signedIdentity, scan.advSecret),
  }).finish();

  return {
    tag: 'iq',
    attrs: { id: stanzaId, type: 'set', from: 's.whatsapp.net', xmlns: 'md' },
    content: [
      {
        tag: 'pair-success',
        attrs: {},
        content: [
          { tag: 'device-identity', attrs: {}, content: Buffer.from(identityWithMac) },
          { tag: 'platform', attrs: { name: 'smbi' } },
          { tag: 'device', attrs: { jid: device.jid, lid: device.lid } },
        ],
      },
    ],
  };
}
