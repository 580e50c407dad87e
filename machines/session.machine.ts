/**
 * The lifecycle of one WhatsApp session, as a statechart.
 *
 *   connecting ──OPEN──▶ open ◀─PING.RESTORED─ degraded
 *       │  ▲               │ PING.FAILED ──▶   │
 *       │  └─515 (at once)─┤                   │ no answer in degradedTimeoutMs
 *       ▼                  ▼                   ▼
 *   backingOff ◀──── lost link / connect deadline / dead probe
 *       │ after reconnectDelay, or WAKE / RECONNECT ──▶ connecting
 *       ▼
 *   terminated (final): stopped · loggedOut · forbidden · banned · replaced ·
 *                       multideviceMismatch · qrTimeout · maxAttempts
 *
 * Two counters (see the README's lifecycle table):
 *   - `attempt`, the backoff step: one more per failure of any kind, reset only
 *     by an open that lasts stableAfterMs (or RECONNECT). It picks the delay and
 *     is the N of "Reconnection attempt N".
 *   - `spentAttempts`, the give-up budget: consecutive reconnection attempts
 *     that reached WhatsApp (a server frame arrived) but never reached `open`.
 *     maxReconnectAttempts N allows exactly N of them, whether the failures
 *     began with a first connect or with a drop from `open`: the connect or the
 *     drop that started the run is not a reconnection. An outage (nothing ever
 *     answered) does not spend it; an open ends the run, so a flapping link
 *     lengthens the backoff but never ends the session.
 *
 * Pure definition: no I/O and no raw timers. Every delay is read from the
 * policy and runs on the actor's clock (a SimulatedClock drives it in tests).
 * Side effects are named and provided from outside with `sessionMachine.provide`:
 *   - actor `connection`: one connection attempt (the Baileys socket in src/);
 *   - action `wipeCredentials`: deletes the session's credentials after a logout;
 *   - action `log`: writes one SessionLogRecord (src/ hands it to pino).
 */
import { assign, fromCallback, raise, sendTo, setup, spawnChild, stopChild } from 'xstate';
import type { ErrorActorEvent } from 'xstate';
import { classifyClose, type TerminatedReason } from './close-rules.js';
import type { AccountIdentity, ConnectionCommand, ConnectionInput, SessionEvent, SessionInput } from './session.events.js';
import { sessionLog, type SessionLogRecord } from './session.log.js';
import { reconnectDelayMs, resolvePolicy, type SessionPolicy } from './session.policy.js';

/** 515 right after 515 this many times is a loop, not a pairing: back off instead. */
const maxRestartsInARow = 3;

/** Ids of the self-addressed delayed events that serve as the connected-state intervals. */
const keepAliveTimerId = 'keepAliveInterval';
const healthCheckTimerId = 'healthCheckInterval';
const milestoneTimerId = 'milestoneInterval';

/** The current connected period (open or degraded); null when not connected. */
export interface ConnectedPeriod {
  /** Whether the last keep-alive probe was answered (false while degraded). */
  lastProbeOk: boolean;
}

/** How far the current connection attempt (or the last one, while backing off) got. */
export type AttemptReach = 'nothing' | 'server' | 'open';

export interface SessionContext {
  userId: string;
  sessionId: string;
  policy: SessionPolicy;
  /** The backoff step: failures since the last stable open (or RECONNECT). Picks the reconnect delay. */
  attempt: number;
  /** The give-up budget spent: consecutive reconnection attempts that reached WhatsApp but not `open`. */
  spentAttempts: number;
  /** How far the current attempt got: `server` once a server frame arrived, `open` once logged in. */
  attemptReached: AttemptReach;
  /**
   * Whether the failure being backed off from had reached WhatsApp; false is an
   * outage backoff (refused, DNS, reset or HTTP error before the handshake, or a
   * connect deadline with no server frame). null until the first failure and again once open.
   */
  lastFailureReachedServer: boolean | null;
  /** The wait before the pending reconnect, jitter included; null unless backing off. */
  retryDelayMs: number | null;
  /** Connection actors started so far (the first connect is 1). */
  connectionCount: number;
  restartsInARow: number;
  /** The QR currently offered for scanning. A secret: never logged. */
  qr: string | null;
  me: AccountIdentity | null;
  lastDisconnect: { statusCode?: number; message?: string } | null;
  terminatedReason: TerminatedReason | null;
  connected: ConnectedPeriod | null;
}

type CloseEvent = Extract<SessionEvent, { type: 'CONNECTION.CLOSED' }>;
type Event = SessionEvent | ErrorActorEvent;

/** The machine's own outline of one connection attempt; src/ provides the real one. */
const connectionNotProvided = fromCallback<ConnectionCommand, ConnectionInput>(() => {
  throw new Error('no connection actor provided: use sessionMachine.provide({ actors: { connection } })');
});

function linkState(connected: ConnectedPeriod | null): 'open' | 'degraded' {
  return connected?.lastProbeOk === false ? 'degraded' : 'open';
}

/** The next firing of a connected-state interval: 1 when armed on open, one more when re-armed by its own tick. */
function nextTick(event: Event, timer: 'TIMER.HEALTH_CHECK' | 'TIMER.MILESTONE'): number {
  return event.type === timer ? event.tick + 1 : 1;
}

/** The budget allows exactly maxReconnectAttempts spent attempts; 0 means the session never gives up. */
function budgetExhausted(policy: SessionPolicy, spentAttempts: number): boolean {
  return policy.maxReconnectAttempts > 0 && spentAttempts >= policy.maxReconnectAttempts;
}

/**
 * Whether the attempt that just failed was a reconnection: one made after a failure since the
 * last stable open. The first connect (or the first after RECONNECT) has backoff step 0, and so
 * has the attempt whose open a drop ended (that one reached `open` and spends nothing anyway).
 */
function wasReconnection(context: SessionContext): boolean {
  return context.attempt > 0;
}

function closeOf(event: Event): CloseEvent {
  return event.type === 'CONNECTION.CLOSED' ? event : { type: 'CONNECTION.CLOSED' };
}

/** The close rule for a CONNECTION.CLOSED event (see close-rules.ts). */
function verdictOf(event: Event, awaitingQr = false) {
  const { statusCode, message } = closeOf(event);
  return classifyClose(statusCode, message, awaitingQr);
}

const baseSetup = setup({
  types: {
    context: {} as SessionContext,
    events: {} as Event,
    input: {} as SessionInput,
  },
  actors: {
    connection: connectionNotProvided,
  },
  actions: {
    /** Provided by src/: remove this session's credentials after a logout. */
    wipeCredentials: () => {},
    /**
     * Provided by src/: write one log line (pino in the service, a list in tests).
     * A plain provided action, not an emitted event: it is the most frequent
     * effect (three lines per five minutes per session) and emit costs more.
     */
    log: (_args, _record: SessionLogRecord) => {},
    stopConnection: stopChild('connection'),
    /** A new attempt: counted, and it has reached nothing yet. */
    countConnection: assign({ connectionCount: ({ context }) => context.connectionCount + 1, retryDelayMs: null, attemptReached: 'nothing' }),
    markReached: assign({ attemptReached: ({ context }) => (context.attemptReached === 'nothing' ? 'server' : context.attemptReached) }),
    /** A fresh `connection` actor for this attempt (the previous one is stopped first by stopConnection). */
    spawnConnection: spawnChild('connection', {
      id: 'connection',
      input: ({ context }) => ({
        userId: context.userId,
        sessionId: context.sessionId,
        connectionNumber: context.connectionCount,
        probeTimeoutMs: context.policy.probeTimeoutMs,
      }),
    }),
    sendPing: sendTo('connection', { type: 'PING' }),
    requestLogout: sendTo('connection', { type: 'LOGOUT' }),
    // A QR comes from the server, so it also proves the attempt reached WhatsApp.
    storeQr: assign({ qr: ({ event }) => (event.type === 'CONNECTION.QR' ? event.qr : null), attemptReached: 'server' }),
    // An open ends any run of failed attempts: the budget starts over.
    recordOpen: assign({
      me: ({ context, event }) => (event.type === 'CONNECTION.OPEN' && event.me ? event.me : context.me),
      restartsInARow: 0,
      attemptReached: 'open',
      spentAttempts: 0,
      lastFailureReachedServer: null,
    }),
    recordClose: assign({
      lastDisconnect: ({ event }) => {
        const { statusCode, message } = closeOf(event);
        return { statusCode, message };
      },
      // A server that answered but never proved it is WhatsApp (its certificate was refused) was not reached.
      attemptReached: ({ context, event }) => (closeOf(event).outage ? 'nothing' : context.attemptReached),
    }),
    recordFailure: assign({ lastDisconnect: (_, params: { message: string }) => ({ message: params.message }) }),
    recordCrash: assign({
      lastDisconnect: ({ event }) => {
        const error = (event as ErrorActorEvent).error;
        return { message: error instanceof Error ? error.message : String(error) };
      },
    }),
    markProbe: assign({
      connected: ({ context }, params: { ok: boolean }) => (context.connected ? { lastProbeOk: params.ok } : null),
    }),
    clearQr: assign({ qr: null }),
    countRestart: assign({ restartsInARow: ({ context }) => context.restartsInARow + 1 }),

    // The connected-state intervals: a self-addressed delayed event each, re-armed
    // by its own tick and cancelled by endConnectedPeriod.
    beginConnectedPeriod: assign({ connected: { lastProbeOk: true } }),
    armKeepAlive: raise({ type: 'TIMER.KEEP_ALIVE' }, { id: keepAliveTimerId, delay: ({ context }) => context.policy.keepAliveIntervalMs }),
    armHealthCheck: raise(({ event }) => ({ type: 'TIMER.HEALTH_CHECK' as const, tick: nextTick(event, 'TIMER.HEALTH_CHECK') }), {
      id: healthCheckTimerId,
      delay: ({ context }) => context.policy.healthCheckIntervalMs,
    }),
    armMilestone: raise(({ event }) => ({ type: 'TIMER.MILESTONE' as const, tick: nextTick(event, 'TIMER.MILESTONE') }), {
      id: milestoneTimerId,
      delay: ({ context }) => context.policy.milestoneIntervalMs,
    }),
    resetAttempts: assign({ attempt: 0, spentAttempts: 0 }),
    terminate: assign({ terminatedReason: (_, params: { reason: TerminatedReason }) => params.reason }),
    terminateForClose: assign({
      terminatedReason: ({ event }) => {
        const verdict = verdictOf(event);
        return verdict.kind === 'terminate' ? verdict.reason : null;
      },
    }),
  },
  guards: {
    /** As many reconnection attempts reached WhatsApp without opening as the budget allows (0: no limit). */
    attemptsExhausted: ({ context }) => budgetExhausted(context.policy, context.spentAttempts),
    closedByLogout: ({ event }) => closeOf(event).statusCode === 401,
    closeIsFinal: ({ event }) => verdictOf(event).kind === 'terminate',
    closeAsksRestart: ({ context, event }) => verdictOf(event).kind === 'restart' && context.restartsInARow < maxRestartsInARow,
    qrRefsEnded: ({ event }) => {
      const verdict = verdictOf(event, true);
      return verdict.kind === 'terminate' && verdict.reason === 'qrTimeout';
    },
  },
  delays: {
    reconnectDelay: ({ context }) => context.retryDelayMs ?? 0,
    connectDeadline: ({ context }) => context.policy.connectDeadlineMs,
    stableAfter: ({ context }) => context.policy.stableAfterMs,
    degradedProbeInterval: ({ context }) => context.policy.degradedProbeIntervalMs,
    degradedTimeout: ({ context }) => context.policy.degradedTimeoutMs,
  },
});

// Composite actions: each one concern, made from XState's built-in actions and the named ones above.
const machineSetup = baseSetup.extend({
  actions: {
    /** Leaving the connected states for anywhere else: the intervals stop, and say so. */
    endConnectedPeriod: baseSetup.enqueueActions(({ context, enqueue }) => {
      if (!context.connected) return;
      enqueue.cancel(keepAliveTimerId);
      enqueue.cancel(healthCheckTimerId);
      enqueue.cancel(milestoneTimerId);
      enqueue({ type: 'log', params: sessionLog.clearedHealthCheck(context) });
      enqueue({ type: 'log', params: sessionLog.clearedKeepAlive(context) });
      enqueue.assign({ connected: null });
    }),
    /**
     * Entering backingOff: one more backoff step and its (jittered) wait,
     * announced unless the budget is spent. Only a reconnection attempt that
     * reached WhatsApp without opening spends the budget; an opened one (a flap
     * or a later drop) has already reset it, an outage leaves it as it was.
     */
    beginBackoff: baseSetup.enqueueActions(({ context, enqueue }) => {
      const attempt = context.attempt + 1;
      const reachedServer = context.attemptReached !== 'nothing';
      const spends = context.attemptReached === 'server' && wasReconnection(context);
      const spentAttempts = spends ? context.spentAttempts + 1 : context.spentAttempts;
      if (budgetExhausted(context.policy, spentAttempts)) {
        enqueue.assign({ attempt, spentAttempts, retryDelayMs: null, lastFailureReachedServer: reachedServer });
        return;
      }
      const retryDelayMs = reconnectDelayMs(context.policy, attempt, Math.random());
      enqueue.assign({ attempt, spentAttempts, retryDelayMs, lastFailureReachedServer: reachedServer });
      enqueue({ type: 'log', params: sessionLog.reconnectionAttempt({ ...context, attempt }, retryDelayMs) });
    }),
  },
});

export const sessionMachine = machineSetup.createMachine({
  id: 'session',
  context: ({ input }) => ({
    userId: input.userId,
    sessionId: input.sessionId,
    policy: resolvePolicy(input.policy),
    attempt: 0,
    spentAttempts: 0,
    attemptReached: 'nothing',
    lastFailureReachedServer: null,
    retryDelayMs: null,
    connectionCount: 0,
    restartsInARow: 0,
    qr: null,
    me: null,
    lastDisconnect: null,
    terminatedReason: null,
    connected: null,
  }),
  initial: 'connecting',
  // These hold in every state that has a connection (connecting, open, degraded);
  // backingOff overrides them, terminated is final and hears nothing.
  on: {
    STOP: { target: '.terminated', actions: { type: 'terminate', params: ({ event }) => ({ reason: event.reason ?? 'stopped' }) } },
    LOGOUT: {
      target: '.terminated',
      actions: ['requestLogout', { type: 'terminate', params: { reason: 'loggedOut' } }, 'wipeCredentials'],
    },
    'CONNECTION.CLOSED': [
      // 401: the phone unlinked us. Credentials are dead: wipe them.
      {
        guard: 'closedByLogout',
        target: '.terminated',
        actions: ['recordClose', { type: 'terminate', params: { reason: 'loggedOut' } }, 'wipeCredentials'],
      },
      // 402/403/406/411/440: retrying cannot help, and a 440 retried fights the other client.
      { guard: 'closeIsFinal', target: '.terminated', actions: ['recordClose', 'terminateForClose'] },
      // 515 (after a QR scan): a new socket at once, not counted as an attempt.
      {
        guard: 'closeAsksRestart',
        target: '.connecting',
        reenter: true,
        actions: ['recordClose', 'countRestart', { type: 'log', params: ({ context }) => sessionLog.restartRequired(context) }],
      },
      // Anything else (428, 408, 500, 503, no code): a lost link.
      {
        target: '.backingOff',
        actions: [
          'recordClose',
          { type: 'log', params: ({ context, event }) => sessionLog.closed(context, 'closing', event.statusCode, event.message) },
        ],
      },
    ],
    // The connected-state intervals. Armed only while open or degraded, and
    // cancelled on leaving them, so they fire nowhere else.
    'TIMER.KEEP_ALIVE': {
      actions: ['sendPing', { type: 'log', params: ({ context }) => sessionLog.keepAlivePing(context, linkState(context.connected)) }, 'armKeepAlive'],
    },
    'TIMER.HEALTH_CHECK': {
      actions: [
        {
          type: 'log',
          params: ({ context, event }) => sessionLog.healthCheck(context, linkState(context.connected), event.tick * context.policy.healthCheckIntervalMs),
        },
        { type: 'log', params: ({ context }) => (linkState(context.connected) === 'open' ? sessionLog.socketHealthy(context) : sessionLog.socketWarning(context)) },
        'armHealthCheck',
      ],
    },
    'TIMER.MILESTONE': {
      actions: [
        {
          type: 'log',
          params: ({ context, event }) => {
            const uptimeMs = event.tick * context.policy.milestoneIntervalMs;
            return sessionLog.milestone(context, linkState(context.connected), Math.round(uptimeMs / 3_600_000), uptimeMs);
          },
        },
        'armMilestone',
      ],
    },
    // The connection actor itself threw: this attempt is lost, like a dropped link.
    'xstate.error.actor.connection': {
      target: '.backingOff',
      actions: [
        'recordCrash',
        { type: 'log', params: ({ context }) => sessionLog.connectionCrashed(context, context.lastDisconnect?.message ?? 'unknown') },
      ],
    },
  },
  states: {
    connecting: {
      // One attempt, one `connection` actor: the previous one goes first.
      entry: [
        'endConnectedPeriod',
        'stopConnection',
        'countConnection',
        'spawnConnection',
        { type: 'log', params: ({ context }) => sessionLog.connecting(context, context.connectionCount) },
      ],
      initial: 'queued',
      states: {
        // Waiting for an admission slot: nothing is sent yet, so no deadline runs.
        queued: {
          on: { 'CONNECTION.ADMITTED': 'handshaking' },
        },
        // The socket is connecting and logging in; it has connectDeadlineMs to show a QR, open or close.
        handshaking: {
          after: {
            connectDeadline: {
              target: '#session.backingOff',
              actions: [
                { type: 'recordFailure', params: { message: 'connect deadline passed' } },
                { type: 'log', params: ({ context }) => sessionLog.connectDeadline(context, context.policy.connectDeadlineMs) },
              ],
            },
          },
        },
        // A QR is shown: no connect deadline here, a person is scanning. Baileys
        // itself ends the QR refs (408 "QR refs attempts ended") when nobody does.
        awaitingQr: {
          exit: 'clearQr',
          on: {
            'CONNECTION.QR': { actions: 'storeQr' },
            'CONNECTION.CLOSED': {
              guard: 'qrRefsEnded',
              target: '#session.terminated',
              actions: ['recordClose', { type: 'terminate', params: { reason: 'qrTimeout' } }],
            },
          },
        },
      },
      on: {
        'CONNECTION.REACHED': { actions: 'markReached' },
        'CONNECTION.QR': {
          target: '.awaitingQr',
          actions: ['storeQr', { type: 'log', params: ({ context }) => sessionLog.qrReady(context) }],
        },
        'CONNECTION.OPEN': {
          target: 'open',
          actions: ['recordOpen', 'beginConnectedPeriod', 'armKeepAlive', 'armHealthCheck', 'armMilestone'],
        },
      },
    },

    open: {
      entry: { type: 'log', params: ({ context }) => sessionLog.opened(context) },
      initial: 'settling',
      states: {
        // Closed before stableAfterMs: a flap; the backoff step stays (the budget was reset on open).
        settling: {
          after: {
            stableAfter: {
              target: 'stable',
              actions: ['resetAttempts', { type: 'log', params: ({ context }) => sessionLog.stable(context, context.policy.stableAfterMs) }],
            },
          },
        },
        stable: {},
      },
      on: {
        // Waiting for the next keep-alive could leave a dead link "open" for minutes while messages pile up.
        'LINK.SUSPECT': { actions: ['sendPing', { type: 'log', params: ({ context }) => sessionLog.linkSuspected(context) }] },
        'PING.FAILED': {
          target: 'degraded',
          actions: [
            { type: 'markProbe', params: { ok: false } },
            { type: 'log', params: ({ context, event }) => sessionLog.probeFailed(context, event.error) },
          ],
        },
      },
    },

    // A probe failed: the socket may be dead without knowing it. Probe faster;
    // recover on the first answer, give the link up after degradedTimeoutMs.
    degraded: {
      initial: 'probing',
      states: {
        probing: {
          after: { degradedProbeInterval: { target: 'probing', reenter: true, actions: 'sendPing' } },
        },
      },
      after: {
        degradedTimeout: {
          target: 'backingOff',
          actions: [
            { type: 'recordFailure', params: { message: 'keep-alive probes unanswered' } },
            { type: 'log', params: ({ context }) => sessionLog.degradedTimeout(context, context.policy.degradedTimeoutMs) },
          ],
        },
      },
      on: {
        'PING.RESTORED': {
          target: 'open',
          actions: [{ type: 'markProbe', params: { ok: true } }, { type: 'log', params: ({ context }) => sessionLog.recovered(context) }],
        },
      },
    },

    backingOff: {
      entry: ['endConnectedPeriod', 'stopConnection', 'beginBackoff'],
      always: {
        guard: 'attemptsExhausted',
        target: 'terminated',
        actions: [
          { type: 'terminate', params: { reason: 'maxAttempts' } },
          { type: 'log', params: ({ context }) => sessionLog.maxAttemptsReached(context) },
        ],
      },
      after: { reconnectDelay: 'connecting' },
      on: {
        RECONNECT: { target: 'connecting', actions: 'resetAttempts' },
        // WhatsApp is reachable again (another session opened): try now, counters kept,
        // so a session that was failing for its own reasons keeps its budget and step.
        WAKE: { target: 'connecting' },
        // No socket to tell: forget the device locally.
        LOGOUT: { target: 'terminated', actions: [{ type: 'terminate', params: { reason: 'loggedOut' } }, 'wipeCredentials'] },
        // A stopped connection has nothing more to say.
        'CONNECTION.CLOSED': {},
        'xstate.error.actor.connection': {},
      },
    },

    terminated: {
      type: 'final',
      entry: [
        'endConnectedPeriod',
        'stopConnection',
        { type: 'log', params: ({ context }) => sessionLog.terminated(context, context.terminatedReason ?? 'unknown') },
      ],
    },
  },
});

export type SessionMachine = typeof sessionMachine;
