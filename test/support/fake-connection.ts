/**
 * A scripted stand-in for the `connection` actor: the test plays the socket.
 * Each attempt is recorded with the commands it received and whether it was
 * stopped; `emit` sends a connection event to the session as that socket would.
 */
import { fromCallback } from 'xstate';
import type { ConnectionCommand, ConnectionEvent, ConnectionInput } from '../../machines/session.events.js';

export type PingAnswer = 'ok' | 'fail' | 'silent';

export interface FakeAttempt {
  input: ConnectionInput;
  commands: ConnectionCommand['type'][];
  stopped: boolean;
  /** The last probe failed, so the next answer is reported (PING.RESTORED). */
  probeFailing: boolean;
  /** Send an event to the session as this attempt's socket; ignored once stopped. */
  emit(event: ConnectionEvent): void;
  /** The admission slot is granted (CONNECTION.ADMITTED); done at once unless `holdAdmission`. */
  admit(): void;
}

export function createFakeConnection(options: { pingAnswer?: PingAnswer; holdAdmission?: boolean } = {}) {
  const attempts: FakeAttempt[] = [];
  let pingAnswer: PingAnswer = options.pingAnswer ?? 'ok';

  const logic = fromCallback<ConnectionCommand, ConnectionInput>(({ input, sendBack, receive }) => {
    const attempt: FakeAttempt = {
      input,
      commands: [],
      stopped: false,
      probeFailing: false,
      emit: (event) => {
        if (attempt.stopped) return;
        if (event.type.startsWith('PING.')) attempt.probeFailing = event.type === 'PING.FAILED';
        sendBack(event);
      },
      admit: () => attempt.emit({ type: 'CONNECTION.ADMITTED' }),
    };
    attempts.push(attempt);
    // Like the real actor without admission control: admitted as soon as it starts.
    if (!options.holdAdmission) attempt.admit();
    receive((command) => {
      attempt.commands.push(command.type);
      if (command.type !== 'PING') return;
      // The connection contract: every failure, an answer only when it ends failures.
      if (pingAnswer === 'ok' && attempt.probeFailing) attempt.emit({ type: 'PING.RESTORED' });
      if (pingAnswer === 'fail') attempt.emit({ type: 'PING.FAILED', error: 'probe timed out' });
    });
    return () => {
      attempt.stopped = true;
    };
  });

  return {
    logic,
    attempts,
    /** The newest attempt (the one the session is on, unless it was stopped). */
    get current(): FakeAttempt {
      const last = attempts.at(-1);
      if (!last) throw new Error('no connection attempt was started');
      return last;
    },
    /** Attempts not yet stopped: never more than one for a healthy session. */
    get live(): FakeAttempt[] {
      return attempts.filter((a) => !a.stopped);
    },
    answerPings(answer: PingAnswer) {
      pingAnswer = answer;
    },
  };
}
