/**
 * Writes a session actor's emitted log records with pino, keeping the
 * machine's message text (the words ops grep for) and its structured fields.
 */
import type { Actor } from 'xstate';
import type { SessionMachine } from '../../machines/session.machine.js';
import type { Logger } from './logger.js';

export function writeSessionLogs(actor: Actor<SessionMachine>, logger: Logger): () => void {
  const subscription = actor.on('log', ({ record }) => {
    logger[record.level](record.fields, record.msg);
  });
  return () => subscription.unsubscribe();
}
