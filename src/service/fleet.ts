/**
 * What the whole process decides together: when connection attempts may run.
 *
 *  - Admission control: a handshake costs tens of milliseconds of pure-JS
 *    curve25519 work, so a few at a time let the first sessions open early and a
 *    reconnect storm end no later.
 *  - The outage gate: a session whose attempts never reached WhatsApp (refused,
 *    reset, DNS, HTTP error at the upgrade) waits at the schedule's cap without
 *    spending its give-up budget. The first session of the process that opens
 *    again proves WhatsApp is back: every session waiting out the outage is woken
 *    at once, and admission control spreads the storm. Recovery after an hour-long
 *    outage then takes a storm's time, not one more cap interval.
 */
import type { SnapshotFrom } from 'xstate';
import type { SessionMachine } from '../../machines/session.machine.js';
import { ConnectAdmission } from './admission.js';

/** What the fleet needs of a session: a way to wake it. */
export interface Wakeable {
  wake(): void;
}

/** Whether the session is backing off from a failure in which WhatsApp never answered. */
export function waitsOutAnOutage(snapshot: SnapshotFrom<SessionMachine>): boolean {
  return snapshot.matches('backingOff') && snapshot.context.lastFailureReachedServer === false;
}

export class Fleet {
  readonly admission: ConnectAdmission;
  private readonly waitingOutOutage = new Set<Wakeable>();

  /** @param maxConcurrentConnects attempts allowed in their handshake at once. */
  constructor(maxConcurrentConnects: number) {
    this.admission = new ConnectAdmission(maxConcurrentConnects);
  }

  /** Sessions waiting out an outage right now. */
  get waiting(): number {
    return this.waitingOutOutage.size;
  }

  /** Called with each session's new state (state changes and disconnects only). */
  observe(session: Wakeable, snapshot: SnapshotFrom<SessionMachine>): void {
    if (waitsOutAnOutage(snapshot)) this.waitingOutOutage.add(session);
    else this.waitingOutOutage.delete(session);
    if (snapshot.matches('open') && this.waitingOutOutage.size > 0) {
      const woken = [...this.waitingOutOutage];
      this.waitingOutOutage.clear();
      for (const other of woken) other.wake();
    }
  }

  forget(session: Wakeable): void {
    this.waitingOutOutage.delete(session);
  }
}
