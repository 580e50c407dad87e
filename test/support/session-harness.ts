/**
 * One session actor on a stepped simulated clock with a fake connection and
 * captured logs: the unit of every machine test.
 */
import { createActor } from 'xstate';
import { sessionMachine } from '../../machines/session.machine.js';
import type { SessionLogRecord } from '../../machines/session.log.js';
import type { SessionPolicy } from '../../machines/session.policy.js';
import { createFakeConnection, type PingAnswer } from './fake-connection.js';
import { SteppedClock } from './stepped-clock.js';

export function startSession(options: { policy?: Partial<SessionPolicy>; pingAnswer?: PingAnswer; holdAdmission?: boolean } = {}) {
  const clock = new SteppedClock();
  const connection = createFakeConnection({ pingAnswer: options.pingAnswer, holdAdmission: options.holdAdmission });
  const logs: SessionLogRecord[] = [];
  let credentialWipes = 0;

  const machine = sessionMachine.provide({
    actors: { connection: connection.logic },
    actions: {
      log: (_, record) => logs.push(record),
      wipeCredentials: () => {
        credentialWipes += 1;
      },
    },
  });
  const actor = createActor(machine, { clock, input: { userId: 'u1', sessionId: 's1', policy: options.policy } });
  actor.start();

  return {
    actor,
    clock,
    connection,
    logs,
    get credentialWipes() {
      return credentialWipes;
    },
    /** The top-level state: connecting, open, degraded, backingOff or terminated. */
    get state(): string {
      const value = actor.getSnapshot().value;
      return typeof value === 'string' ? value : Object.keys(value)[0]!;
    },
    get context() {
      return actor.getSnapshot().context;
    },
    matches(path: string): boolean {
      return actor.getSnapshot().matches(path as never);
    },
    logsMatching(words: string): SessionLogRecord[] {
      return logs.filter((r) => r.msg.includes(words));
    },
    /** The current attempt reports a successful login. */
    open() {
      connection.current.emit({ type: 'CONNECTION.OPEN', me: { id: '15550000001:1@s.whatsapp.net' } });
    },
    /** The current attempt closes; without `reached` first, it never reached WhatsApp (an outage). */
    close(statusCode?: number, message?: string) {
      connection.current.emit({ type: 'CONNECTION.CLOSED', statusCode, message });
    },
    /** The current attempt hears its first server frame (CONNECTION.REACHED). */
    reached() {
      connection.current.emit({ type: 'CONNECTION.REACHED' });
    },
    /** The current attempt reaches WhatsApp, then closes without opening: a failure that spends the budget. */
    fail(statusCode?: number, message?: string) {
      connection.current.emit({ type: 'CONNECTION.REACHED' });
      connection.current.emit({ type: 'CONNECTION.CLOSED', statusCode, message });
    },
  };
}
