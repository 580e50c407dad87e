/**
 * The log lines a session writes, as pure data. The machine passes each to its
 * provided `log` action; src/ hands them to pino. The words are the ones ops
 * already grep for ("Reconnection attempt", "Keep-alive ping", "Session health
 * check", "Socket healthy", "Session milestone"): keep them.
 *
 * All at info or above: ops grep for these words in production logs.
 * Nothing secret goes in here: no QR text, no credentials, no keys.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface SessionLogFields {
  userId: string;
  sessionId: string;
  state: string;
  attempt: number;
  delayMs?: number;
  statusCode?: number;
  reason?: string;
  uptimeMs?: number;
  event?: string;
}

export interface SessionLogRecord {
  level: LogLevel;
  msg: string;
  fields: SessionLogFields;
}

const msPerHour = 3_600_000;
const msPerMinute = 60_000;

/** "2h 15m" */
export function formatUptime(uptimeMs: number): string {
  const hours = Math.floor(uptimeMs / msPerHour);
  const minutes = Math.floor((uptimeMs % msPerHour) / msPerMinute);
  return `${hours}h ${minutes}m`;
}

/** "10s", "2.5s": seconds the way the original logs printed them. */
export function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))}s`;
}

/** The part of a session's context every log line names. */
export interface SessionIdentity {
  userId: string;
  sessionId: string;
  attempt: number;
}

function record(level: LogLevel, msg: string, who: SessionIdentity, state: string, extra: Partial<SessionLogFields> = {}): SessionLogRecord {
  return {
    level,
    msg,
    fields: { userId: who.userId, sessionId: who.sessionId, state, attempt: who.attempt, ...extra },
  };
}

/** Every line a session logs, by name. */
export const sessionLog = {
  connecting: (who: SessionIdentity, connectionNumber: number) =>
    record('info', `Connecting session ${who.sessionId} for user ${who.userId} (connection ${connectionNumber})`, who, 'connecting'),
  qrReady: (who: SessionIdentity) =>
    record('info', `QR code ready for user ${who.userId}: scan it to link the device`, who, 'connecting.awaitingQr'),
  opened: (who: SessionIdentity) => record('info', `Session open for user ${who.userId}`, who, 'open'),
  stable: (who: SessionIdentity, stableAfterMs: number) =>
    record('info', `Session stable for user ${who.userId}: reconnect attempts reset`, who, 'open.stable', { uptimeMs: stableAfterMs }),
  restartRequired: (who: SessionIdentity) =>
    record('info', `Restart required for user ${who.userId}: reconnecting at once`, who, 'connecting', { statusCode: 515 }),
  connectDeadline: (who: SessionIdentity, deadlineMs: number) =>
    record('warn', `Connect deadline of ${formatSeconds(deadlineMs)} passed for user ${who.userId}: abandoning the attempt`, who, 'connecting', {
      delayMs: deadlineMs,
    }),
  closed: (who: SessionIdentity, state: string, statusCode: number | undefined, message: string | undefined) =>
    record('warn', `Connection closed for user ${who.userId}: ${statusCode ?? 'no status code'} ${message ?? ''}`.trimEnd(), who, state, {
      ...(statusCode === undefined ? {} : { statusCode }),
    }),
  reconnectionAttempt: (who: SessionIdentity, delayMs: number) =>
    record('info', `Reconnection attempt ${who.attempt} for user ${who.userId} in ${formatSeconds(delayMs)}`, who, 'backingOff', { delayMs }),
  maxAttemptsReached: (who: SessionIdentity) =>
    record('error', `Max reconnection attempts reached for user ${who.userId}`, who, 'terminated', { reason: 'maxAttempts' }),
  keepAlivePing: (who: SessionIdentity, state: string) => record('info', `Keep-alive ping sent for user: ${who.userId}`, who, state),
  probeFailed: (who: SessionIdentity, error: string) =>
    record('warn', `Keep-alive ping failed for user ${who.userId}: ${error}`, who, 'degraded'),
  linkSuspected: (who: SessionIdentity) =>
    record('warn', `A message sent for user ${who.userId} was not acknowledged: probing the link now`, who, 'open'),
  recovered: (who: SessionIdentity) => record('info', `Keep-alive ping answered for user ${who.userId}: link recovered`, who, 'open'),
  degradedTimeout: (who: SessionIdentity, timeoutMs: number) =>
    record('warn', `No keep-alive answer for user ${who.userId} within ${formatSeconds(timeoutMs)}: dropping the link`, who, 'degraded', {
      delayMs: timeoutMs,
    }),
  healthCheck: (who: SessionIdentity, state: string, uptimeMs: number) =>
    record('info', `Session health check for user ${who.userId}: ${formatUptime(uptimeMs)} alive`, who, state, { uptimeMs }),
  socketHealthy: (who: SessionIdentity) => record('info', `Socket healthy for user ${who.userId}`, who, 'open'),
  socketWarning: (who: SessionIdentity) =>
    record('warn', `Socket health warning for user ${who.userId}: last keep-alive ping failed`, who, 'degraded'),
  milestone: (who: SessionIdentity, state: string, hours: number, uptimeMs: number) =>
    record('info', `Session milestone: ${hours} hours alive for user ${who.userId}`, who, state, { uptimeMs }),
  clearedHealthCheck: (who: SessionIdentity) => record('info', `Cleared health check interval for user ${who.userId}`, who, 'leaving'),
  clearedKeepAlive: (who: SessionIdentity) => record('info', `Cleared keep-alive interval for user ${who.userId}`, who, 'leaving'),
  terminated: (who: SessionIdentity, reason: string) =>
    record(reason === 'stopped' || reason === 'shutdown' || reason === 'handedOver' ? 'info' : 'warn', `Session terminated for user ${who.userId}: ${reason}`, who, 'terminated', { reason }),
  connectionCrashed: (who: SessionIdentity, error: string) =>
    record('error', `Connection actor failed for user ${who.userId}: ${error}`, who, 'connecting'),
} as const;
