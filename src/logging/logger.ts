/**
 * The service's pino logger.
 *
 * Two formats, one content: JSON lines for log shippers (the default when
 * stdout is not a terminal), and pino-pretty's human lines for someone
 * watching a terminal. `LOG_FORMAT=json|pretty` overrides the guess. Times
 * are ISO 8601 in both, so a line means the same thing wherever it is read.
 *
 * Secrets never reach a log line: the fields that could carry one (QR text,
 * credentials, keys, API keys, raw protocol nodes) are redacted wherever they
 * appear, as a second line of defence behind not logging them in the first
 * place, and a request's URL is logged without its query string (a client
 * may put a key there).
 */
import { pino, stdSerializers, stdTimeFunctions, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';
import PinoPretty from 'pino-pretty';

export type { Logger };

export type LogFormat = 'json' | 'pretty';
export const logFormats: readonly LogFormat[] = ['json', 'pretty'];

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
  /** Default (also for null): `pretty` when stdout is a terminal, else `json` (see defaultLogFormat). */
  format?: LogFormat | null;
  /** Where lines go; default stdout. Tests pass a capturing stream. */
  destination?: DestinationStream;
  /** Colours in pretty lines; default: when stdout is a terminal. */
  colorize?: boolean;
}

/** What an unset LOG_FORMAT means: people at a terminal get pretty lines, pipes and files get JSON. */
export function defaultLogFormat(stdoutIsTerminal: boolean = process.stdout.isTTY === true): LogFormat {
  return stdoutIsTerminal ? 'pretty' : 'json';
}

const levelNames: readonly string[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * LOG_LEVEL and LOG_FORMAT read leniently, for the lines logged before the configuration is
 * checked (the config module refuses a bad value right after): the first line already has the
 * format of the last.
 */
export function loggerOptionsFromEnv(env: Readonly<Record<string, string | undefined>>): LoggerOptions {
  const level = env.LOG_LEVEL && levelNames.includes(env.LOG_LEVEL) ? (env.LOG_LEVEL as LevelWithSilent) : undefined;
  const format = (logFormats as readonly string[]).includes(env.LOG_FORMAT ?? '') ? (env.LOG_FORMAT as LogFormat) : null;
  return { level, format };
}

/** A URL path without its query string: keys and tokens sent as `?key=` stay out of the logs. */
export function pathOnly(url: string | undefined): string | undefined {
  return url?.split('?')[0];
}

/** Fastify's request serializer, minus the query string. */
function requestSerializer(request: Parameters<typeof stdSerializers.req>[0]) {
  const serialized = stdSerializers.req(request);
  return { method: serialized.method, url: pathOnly(serialized.url), remoteAddress: serialized.remoteAddress };
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const format = options.format ?? defaultLogFormat();
  const pinoOptions = {
    level: options.level ?? 'info',
    base: { service: 'wa-vigil' },
    timestamp: stdTimeFunctions.isoTime,
    redact: { paths: redactedPaths, censor: '[redacted]' },
    serializers: { req: requestSerializer },
  };
  if (format === 'json') return pino(pinoOptions, options.destination);
  const pretty = PinoPretty({
    destination: options.destination ?? 1,
    sync: true,
    colorize: options.colorize ?? process.stdout.isTTY === true,
    singleLine: true,
    translateTime: "UTC:yyyy-mm-dd'T'HH:MM:ss.l'Z'",
    ignore: 'pid,hostname,service',
    // Which session a line is about comes first, so two sessions of one user are told apart at a glance.
    messageFormat: '{if userId}[{userId}/{sessionId}] {end}{msg}',
  });
  return pino(pinoOptions, pretty);
}
