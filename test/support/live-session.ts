/**
 * One session actor driving real Baileys against the simulator, on the real
 * clock with short policy values.
 */
import { pino } from 'pino';
import { createActor, waitFor } from 'xstate';
import { sessionMachine } from '../../machines/session.machine.js';
import type { SessionLogRecord } from '../../machines/session.log.js';
import type { SessionPolicy } from '../../machines/session.policy.js';
import { createConnectionLogic, type AuthStateHandle, type ConnectionDependencies } from '../../src/whatsapp/connection.actor.js';
import type { WASocket } from '@whiskeysockets/baileys';
import { resolveSocketOptions, type WhatsAppSocketOptions } from '../../src/whatsapp/socket-options.js';
import type { WaSimulator } from '../../src/sim/wa-simulator.js';

/** Fast enough for tests, slow enough that nothing fires by accident. */
export const quickPolicy: Partial<SessionPolicy> = {
  reconnectDelaysMs: [100, 200],
  maxReconnectAttempts: 5,
  keepAliveIntervalMs: 60_000,
  healthCheckIntervalMs: 60_000,
  connectDeadlineMs: 3_000,
  probeTimeoutMs: 300,
  degradedProbeIntervalMs: 200,
  degradedTimeoutMs: 700,
};

export function startLiveSession(options: {
  sim: WaSimulator;
  auth: AuthStateHandle;
  policy?: Partial<SessionPolicy>;
  socket?: Partial<WhatsAppSocketOptions>;
  staleLinkAfterMs?: number;
  deadLinkProbeTimeoutMs?: number;
  admission?: ConnectionDependencies['admission'];
  userId?: string;
}) {
  const states: string[] = [];
  const logs: SessionLogRecord[] = [];
  let credentialWipes = 0;
  /** Every Baileys socket this session created, oldest first. */
  const sockets: WASocket[] = [];
  const connection = createConnectionLogic({
    openAuthState: async () => options.auth,
    socketOptions: resolveSocketOptions({ waWebSocketUrl: options.sim.url, waRootPublicKey: options.sim.rootPublicKey, connectTimeoutMs: 2_000, ...options.socket }),
    baileysLogger: pino({ level: 'silent' }),
    staleLinkAfterMs: options.staleLinkAfterMs ?? 0,
    ...(options.deadLinkProbeTimeoutMs === undefined ? {} : { deadLinkProbeTimeoutMs: options.deadLinkProbeTimeoutMs }),
    ...(options.admission ? { admission: options.admission } : {}),
    onSocket: (_userId, _sessionId, socket) => {
      if (socket) sockets.push(socket);
    },
  });
  const machine = sessionMachine.provide({
    actors: { connection },
    actions: {
      log: (_, record) => logs.push(record),
      wipeCredentials: () => {
        credentialWipes += 1;
      },
    },
  });
  /** The connection contract's events (CONNECTION.*, PING.*) the session received, in order. */
  const connectionEvents: string[] = [];
  const actor = createActor(machine, {
    input: { userId: options.userId ?? 'e2e', sessionId: 'main', policy: { ...quickPolicy, ...options.policy } },
    inspect: (inspection) => {
      if (inspection.type === '@xstate.event' && inspection.actorRef === actor && /^(CONNECTION|PING)\./.test(inspection.event.type)) {
        connectionEvents.push(inspection.event.type);
      }
    },
  });
  actor.subscribe((snapshot) => {
    const top = typeof snapshot.value === 'string' ? snapshot.value : Object.keys(snapshot.value)[0]!;
    if (states.at(-1) !== top) states.push(top);
  });
  actor.start();

  const reach = (state: string, timeoutMs = 5_000) => waitFor(actor, (s) => s.matches(state as never), { timeout: timeoutMs });
  return {
    actor,
    states,
    logs,
    connectionEvents,
    sockets,
    get credentialWipes() {
      return credentialWipes;
    },
    get context() {
      return actor.getSnapshot().context;
    },
    reach,
    /** Resolves once the session is in `state` again after having left it. */
    async reachAfter(leave: string, state: string, timeoutMs = 5_000) {
      await waitFor(actor, (s) => !s.matches(leave as never), { timeout: timeoutMs });
      return reach(state, timeoutMs);
    },
  };
}
