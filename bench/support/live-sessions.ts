/**
 * Session actors on real Baileys sockets with credentials in memory: what the
 * benchmarks start by the hundred.
 */
import { pino } from 'pino';
import { createActor, waitFor, type Actor } from 'xstate';
import { sessionMachine, type SessionMachine } from '../../machines/session.machine.js';
import type { SessionPolicy } from '../../machines/session.policy.js';
import { ConnectAdmission } from '../../src/service/admission.js';
import { simulatorRootPublicKey } from '../../src/sim/certificates.js';
import { createConnectionLogic, defaultStaleLinkAfterMs } from '../../src/whatsapp/connection.actor.js';
import { resolveSocketOptions, type WhatsAppSocketOptions } from '../../src/whatsapp/socket-options.js';
import { memoryAuth, registeredCreds } from '../../fixtures/memory-auth.js';

export interface LiveSessionsOptions {
  url: string;
  /** Several simulators: session i connects to urls[i % length] (overrides url). */
  urls?: string[];
  count: number;
  policy?: Partial<SessionPolicy>;
  socket?: Partial<WhatsAppSocketOptions>;
  maxConcurrentConnects?: number;
  /** One admission shared by every session (as the service's fleet does); built from maxConcurrentConnects when absent. */
  admission?: ConnectAdmission;
  staleLinkAfterMs?: number;
  deadLinkProbeTimeoutMs?: number;
  /** Phone numbers start here, so runs in one simulator do not collide. */
  phoneBase?: number;
}

export function startLiveSessions(options: LiveSessionsOptions): Actor<SessionMachine>[] {
  const auths = new Map<string, ReturnType<typeof memoryAuth>>();
  const admission = options.admission ?? (options.maxConcurrentConnects ? new ConnectAdmission(options.maxConcurrentConnects) : undefined);
  const urls = options.urls ?? [options.url];
  const machines = urls.map((url) => {
    // Every simulator signs its certificate chain with the shared simulator root (src/sim/certificates.ts).
    const socketOptions = resolveSocketOptions({ waWebSocketUrl: url, waRootPublicKey: simulatorRootPublicKey, ...options.socket });
    const connection = createConnectionLogic({
      openAuthState: async (userId) => auths.get(userId)!,
      socketOptions,
      baileysLogger: pino({ level: 'silent' }),
      staleLinkAfterMs: options.staleLinkAfterMs ?? defaultStaleLinkAfterMs(socketOptions),
      ...(options.deadLinkProbeTimeoutMs === undefined ? {} : { deadLinkProbeTimeoutMs: options.deadLinkProbeTimeoutMs }),
      ...(admission ? { admission } : {}),
    });
    return sessionMachine.provide({ actors: { connection } });
  });
  const base = options.phoneBase ?? 15551000000;
  return Array.from({ length: options.count }, (_, i) => {
    const userId = `b${base + i}`;
    auths.set(userId, memoryAuth(registeredCreds(String(base + i), 1)));
    return createActor(machines[i % machines.length]!, { input: { userId, sessionId: 'main', policy: options.policy } }).start();
  });
}

export async function allReach(actors: Actor<SessionMachine>[], state: string, timeoutMs = 120_000): Promise<void> {
  await Promise.all(actors.map((a) => waitFor(a, (s) => s.matches(state as never), { timeout: timeoutMs })));
}
