/**
 * The session machine's `log` action for the service: writes each record with
 * pino, keeping the machine's message text (the words ops grep for) and its
 * structured fields.
 */
import type { SessionLogRecord } from '../../machines/session.log.js';
import type { Logger } from './logger.js';

/** Provide as `sessionMachine.provide({ actions: { log: sessionLogWriter(logger) } })`. */
export function sessionLogWriter(logger: Logger): (_args: unknown, record: SessionLogRecord) => void {
  return (_args, record) => {
    logger[record.level](record.fields, record.msg);
  };
}
