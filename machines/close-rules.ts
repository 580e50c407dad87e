/**
 * What a closed connection means, read from Baileys' DisconnectReason codes
 * (the `statusCode` of `lastDisconnect.error.output`).
 *
 * Some closes are final: retrying them only makes things worse (a 440 retried
 * becomes ping-pong with the other client; a 401 retried is a loop against a
 * dead device). Others are the network's fault and deserve a backoff.
 */

/** Why a session ended for good. */
export type TerminatedReason =
  | 'stopped' // an operator asked (STOP); credentials kept
  | 'fenced' // this process could not prove its lease in time: stopped so it never runs twice; starts again once proven
  | 'shutdown' // the service is stopping; the session starts again with it (or on another node)
  | 'handedOver' // given to the cluster node it belongs to (a node joined): it runs there next
  | 'loggedOut' // 401, or LOGOUT: the device is unlinked; credentials wiped
  | 'forbidden' // 403: WhatsApp refuses this account
  | 'banned' // 402 / 406: the number is (temporarily) banned
  | 'replaced' // 440: another client took the session; never fight it
  | 'multideviceMismatch' // 411: the phone needs multi-device re-linking
  | 'qrTimeout' // every QR ref expired unscanned
  | 'maxAttempts'; // the reconnect schedule ran out

/** Why a STOP came: an operator, or the service protecting or closing itself. */
export type StopReason = Extract<TerminatedReason, 'stopped' | 'fenced' | 'shutdown' | 'handedOver'>;

/**
 * Ends the service decided for itself: not recorded with the session (it keeps
 * shouldRun, and runs again once the process proves its lease or starts again).
 */
export function isServiceStop(reason: TerminatedReason | null): boolean {
  return reason === 'fenced' || reason === 'shutdown' || reason === 'handedOver';
}

export type CloseVerdict =
  | { kind: 'terminate'; reason: TerminatedReason }
  | { kind: 'restart' } // 515: reconnect at once, not an attempt
  | { kind: 'backoff' }; // a lost link: wait, then try again

/** Baileys closes an unscanned QR session with 408 and this message. */
export const qrRefsEndedMessage = 'QR refs attempts ended';

const finalCloses: ReadonlyMap<number, TerminatedReason> = new Map([
  [401, 'loggedOut'],
  [402, 'banned'],
  [403, 'forbidden'],
  [406, 'banned'],
  [411, 'multideviceMismatch'],
  [440, 'replaced'],
]);

export const restartRequiredStatusCode = 515;

/** The rule for a close; anything unknown (428, 408, 500, 503, no code) backs off. */
export function classifyClose(statusCode: number | undefined, message: string | undefined, awaitingQr: boolean): CloseVerdict {
  if (statusCode === undefined) return { kind: 'backoff' };
  const reason = finalCloses.get(statusCode);
  if (reason) return { kind: 'terminate', reason };
  if (statusCode === restartRequiredStatusCode) return { kind: 'restart' };
  if (statusCode === 408 && awaitingQr && message === qrRefsEndedMessage) {
    return { kind: 'terminate', reason: 'qrTimeout' };
  }
  return { kind: 'backoff' };
}
