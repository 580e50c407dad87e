/**
 * The service's pino logger. Secrets never reach a log line: the fields that
 * could carry one (QR text, credentials, keys, API keys, raw protocol nodes)
 * are redacted wherever they appear, as a second line of defence behind not
 * logging them in the first place.
 */
import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/** Field names that may hold a secret, at the top level or one level down. */
// 'xml' and 'frame': Baileys' trace-level protocol dumps carry QR refs and pairing material.
const secretFields = ['qr', 'creds', 'keys', 'apiKey', 'authorization', 'node', 'xml', 'frame', 'helloMsg', 'privKey', 'private', 'noiseKey', 'pairingCode'];

export const redactedPaths = [
  ...secretFields,
  ...secretFields.map((field) => `*.${field}`),
  'req.headers.authorization',
  'req.headers["x-api-key"]',
];

export interface LoggerOptions {
  /** Default 'info'. */
  level?: LevelWithSilent;
  /** Where lines go; default stdout. Tests pass a capturing stream. */
  destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: 'wa-vigil' },
      redact: { paths: redactedPaths, censor: '[redacted]' },
    },
    options.destination,
  );
}
