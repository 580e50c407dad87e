/**
 * The logger handed to Baileys: our pino logger, except that the closes a
 * healthy session goes through are not errors. Baileys logs the stream error
 * 515 ("restart required", sent after every QR scan) and a 428 "Connection
 * Closed" (our own stop, a dropped link) at error level; an operator paged for
 * those learns to ignore error lines. The session machine logs every close
 * itself, at the level it deserves, so these lines move to info.
 */
import type { UserFacingSocketConfig } from '@whiskeysockets/baileys';
import type { Logger } from '../logging/logger.js';

/** Baileys' ILogger (not exported by name). */
type ILogger = NonNullable<UserFacingSocketConfig['logger']>;

/** Baileys' status codes for a restart required after pairing, and for a closed connection. */
const restartRequiredCode = 515;
const connectionClosedCode = 428;
const expectedCloseCodes = new Set([restartRequiredCode, connectionClosedCode]);

/** The status code an error-level Baileys line is about, if any: a Boom error's, or a stream:error node's `code`. */
function statusCodeOf(fields: unknown): number | null {
  if (typeof fields !== 'object' || fields === null) return null;
  const record = fields as Record<string, unknown>;
  for (const key of ['err', 'error']) {
    const code = (record[key] as { output?: { statusCode?: unknown } } | undefined)?.output?.statusCode;
    if (typeof code === 'number') return code;
  }
  const node = record.fullErrorNode as { tag?: unknown; attrs?: { code?: unknown } } | undefined;
  if (node?.tag === 'stream:error' && node.attrs?.code !== undefined) return Number(node.attrs.code);
  return null;
}

/** True for an error-level Baileys line that reports a close every session goes through. */
export function isExpectedClose(fields: unknown): boolean {
  const code = statusCodeOf(fields);
  return code !== null && expectedCloseCodes.has(code);
}

export function baileysLogger(logger: Logger): ILogger {
  return {
    get level() {
      return logger.level;
    },
    child: (bindings) => baileysLogger(logger.child(bindings)),
    trace: (obj, msg) => logger.trace(obj, msg),
    debug: (obj, msg) => logger.debug(obj, msg),
    info: (obj, msg) => logger.info(obj, msg),
    warn: (obj, msg) => logger.warn(obj, msg),
    error: (obj, msg) => (isExpectedClose(obj) ? logger.info(obj, msg) : logger.error(obj, msg)),
  };
}
