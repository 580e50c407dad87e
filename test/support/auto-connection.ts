/**
 * A connection that needs no script: it opens at once (or after a fault the
 * caller decides) and answers every probe. For benchmarks and soak tests with
 * many actors; faults are injected through `sessions`.
 */
import { fromCallback } from 'xstate';
import type { ConnectionCommand, ConnectionEvent, ConnectionInput } from '../../machines/session.events.js';

export type Outcome = 'open' | 'qr' | 'hang' | 'refuse';

export function createAutoConnection(options: { outcome?: (input: ConnectionInput) => Outcome; pingOk?: (input: ConnectionInput) => boolean } = {}) {
  /** The live socket of each session, by `userId/sessionId`: inject faults through it. */
  const sessions = new Map<string, (event: ConnectionEvent) => void>();
  let started = 0;
  const logic = fromCallback<ConnectionCommand, ConnectionInput>(({ input, sendBack, receive }) => {
    started += 1;
    const key = `${input.userId}/${input.sessionId}`;
    let live = true;
    let probeFailing = false;
    const send = (event: ConnectionEvent) => {
      if (live) sendBack(event);
    };
    sessions.set(key, send);
    const outcome = options.outcome?.(input) ?? 'open';
    // Admitted at once, as the real actor without admission control. An OPEN
    // implies it, so the instant-open path skips the event (P1 counts every one).
    if (outcome !== 'open') send({ type: 'CONNECTION.ADMITTED' });
    if (outcome === 'qr') send({ type: 'CONNECTION.REACHED' });
    if (outcome === 'open') send({ type: 'CONNECTION.OPEN', me: { id: `${input.userId}@s.whatsapp.net` } });
    if (outcome === 'qr') send({ type: 'CONNECTION.QR', qr: `ref-${started}` });
    if (outcome === 'refuse') send({ type: 'CONNECTION.CLOSED', statusCode: 428, message: 'refused' });
    receive((command) => {
      if (command.type !== 'PING') return;
      const ok = options.pingOk?.(input) !== false;
      // The connection contract: every failure, an answer only when it ends failures.
      if (!ok) send({ type: 'PING.FAILED', error: 'no answer' });
      else if (probeFailing) send({ type: 'PING.RESTORED' });
      probeFailing = !ok;
    });
    return () => {
      live = false;
      if (sessions.get(key) === send) sessions.delete(key);
    };
  });
  return {
    logic,
    sessions,
    get started() {
      return started;
    },
  };
}
