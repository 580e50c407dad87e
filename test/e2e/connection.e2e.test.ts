import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConnectAdmission } from '../../src/service/admission.js';
import { WaSimulator } from '../../src/sim/wa-simulator.js';
import { memoryAuth, registeredCreds } from '../../fixtures/memory-auth.js';
import { startLiveSession } from '../support/live-session.js';
import { waitUntil } from '../../fixtures/wait.js';

let sim: WaSimulator;
let sessions: ReturnType<typeof startLiveSession>[] = [];

beforeEach(async () => {
  sim = await new WaSimulator().start();
  sessions = [];
});

afterEach(async () => {
  for (const s of sessions) s.actor.stop();
  await sim.stop();
});

function live(options: Omit<Parameters<typeof startLiveSession>[0], 'sim'>) {
  const session = startLiveSession({ sim, ...options });
  sessions.push(session);
  return session;
}

describe('real Baileys against the simulator', () => {
  it('a registered device logs in and goes open, reporting who it is', async () => {
    const s = live({ auth: memoryAuth(registeredCreds('15550004444', 7)) });
    await s.reach('open');
    expect(s.context.me?.id).toBe('15550004444:7@s.whatsapp.net');
    expect(sim.loggedIn('15550004444:7@s.whatsapp.net')).toHaveLength(1);
  });

  it('a fresh device shows the QR, and unscanned QRs end as qrTimeout', async () => {
    sim.behaviour.qrRefCount = 2;
    const s = live({ auth: memoryAuth(), socket: { qrTimeoutMs: 150 } });
    await s.reach('connecting.awaitingQr');
    const [connection] = sim.openConnections;
    expect(s.context.qr).toContain(connection!.refs[0]);
    const done = await s.reach('terminated');
    expect(done.context.terminatedReason).toBe('qrTimeout');
    expect(s.states).not.toContain('backingOff');
  });

  it('a scanned QR pairs, restarts (515) and is open again within a second, without backing off', async () => {
    const auth = memoryAuth();
    const s = live({ auth });
    const showing = await s.reach('connecting.awaitingQr');
    const startedAt = Date.now();
    const device = sim.scanQr(showing.context.qr!);
    await s.reach('open');
    expect(Date.now() - startedAt).toBeLessThan(1_000);
    expect(s.states).not.toContain('backingOff');
    expect(s.context.me?.id).toBe(device.jid);
    expect(auth.state.creds.me?.id).toBe(device.jid);
    expect(s.context.connectionCount).toBe(2);
    expect(s.context.lastDisconnect?.statusCode).toBe(515);
  });

  const finalFaults = [
    ['failure 401', (c: WaSimulator['openConnections'][number]) => c.failure(401), 'loggedOut'],
    ['failure 403', (c: WaSimulator['openConnections'][number]) => c.failure(403), 'forbidden'],
    ['conflict', (c: WaSimulator['openConnections'][number]) => c.conflict(), 'replaced'],
    ['downgrade', (c: WaSimulator['openConnections'][number]) => c.downgrade(), 'multideviceMismatch'],
  ] as const;
  for (const [name, inflict, reason] of finalFaults) {
    it(`${name} ends the session as ${reason}`, async () => {
      const s = live({ auth: memoryAuth(registeredCreds()) });
      await s.reach('open');
      inflict(sim.openConnections[0]!);
      const done = await s.reach('terminated');
      expect(done.context.terminatedReason).toBe(reason);
      expect(s.credentialWipes).toBe(reason === 'loggedOut' ? 1 : 0);
      expect(sim.counters.connectionsAccepted).toBe(1);
    });
  }

  const lostLinks = [
    ['a clean close', (c: WaSimulator['openConnections'][number]) => c.close(), 428],
    ['a TCP reset', (c: WaSimulator['openConnections'][number]) => c.reset(), 428],
    ['stream error 503', (c: WaSimulator['openConnections'][number]) => c.streamError(503), 503],
    ['an unknown stream error', (c: WaSimulator['openConnections'][number]) => c.unknownStreamError(), 500],
  ] as const;
  for (const [name, inflict, statusCode] of lostLinks) {
    it(`${name} (${statusCode}) backs off, then reconnects to open`, async () => {
      const s = live({ auth: memoryAuth(registeredCreds()) });
      await s.reach('open');
      inflict(sim.openConnections[0]!);
      await s.reach('backingOff');
      expect(s.context.lastDisconnect?.statusCode).toBe(statusCode);
      await s.reachAfter('backingOff', 'open');
      expect(s.states).toEqual(['connecting', 'open', 'backingOff', 'connecting', 'open']);
      expect(sim.loggedIn()).toHaveLength(1);
    });
  }

  it('stream error 515 while open reconnects at once, not counted', async () => {
    const s = live({ auth: memoryAuth(registeredCreds()) });
    await s.reach('open');
    sim.openConnections[0]!.streamError(515);
    await s.reachAfter('open', 'open');
    expect(s.states).toEqual(['connecting', 'open', 'connecting', 'open']);
    expect(s.context.attempt).toBe(0);
  });

  it('an unanswered handshake fails with 408 after connectTimeoutMs and backs off', async () => {
    sim.behaviour.noHandshakeReply = true;
    const s = live({ auth: memoryAuth(registeredCreds()), socket: { connectTimeoutMs: 300 } });
    await s.reach('backingOff');
    expect(s.context.lastDisconnect?.statusCode).toBe(408);
  });

  it('HTTP 403 at the upgrade (where Baileys alone hangs silently) closes the attempt at once, as an outage', async () => {
    sim.rejectUpgrades = true;
    const s = live({ auth: memoryAuth(registeredCreds()), policy: { connectDeadlineMs: 60_000 } });
    await s.reach('backingOff', 2_000);
    expect(s.context.lastDisconnect).toEqual({ statusCode: undefined, message: 'HTTP 403 at the WebSocket upgrade' });
    expect(sim.counters.upgradesRejected).toBe(1);
    // No server frame ever came: an outage, which spends nothing of the give-up budget.
    expect(s.context).toMatchObject({ lastFailureReachedServer: false, spentAttempts: 0 });
    expect(s.connectionEvents).not.toContain('CONNECTION.REACHED');
    sim.rejectUpgrades = false;
    await s.reach('open');
  });

  it('a handshake the server never answers is cut by the connect deadline, as an outage', async () => {
    sim.behaviour.noHandshakeReply = true;
    const s = live({ auth: memoryAuth(registeredCreds()), policy: { connectDeadlineMs: 400 }, socket: { connectTimeoutMs: 60_000 } });
    await s.reach('backingOff');
    expect(s.context.lastDisconnect?.message).toBe('connect deadline passed');
    expect(s.context).toMatchObject({ lastFailureReachedServer: false, spentAttempts: 0 });
  });

  it('a login that never comes is cut by the connect deadline, then recovers once the server answers', async () => {
    sim.behaviour.withholdLogin = true;
    const s = live({ auth: memoryAuth(registeredCreds()), policy: { connectDeadlineMs: 400 } });
    await s.reach('backingOff');
    expect(s.context.lastDisconnect?.message).toBe('connect deadline passed');
    // The handshake was answered: WhatsApp was reached, not an outage (the budget counts the
    // reconnections that follow such a failure; this was the first connect).
    expect(s.context).toMatchObject({ lastFailureReachedServer: true, spentAttempts: 0 });
    expect(s.connectionEvents.slice(0, 2)).toEqual(['CONNECTION.ADMITTED', 'CONNECTION.REACHED']);
    sim.behaviour.withholdLogin = false;
    await s.reach('open');
  });

  it('a slow server (every reply delayed) and a delayed login still end open, inside the connect deadline', async () => {
    sim.behaviour.replyDelayMs = 150;
    sim.behaviour.loginDelayMs = 300;
    const s = live({ auth: memoryAuth(registeredCreds()) });
    await s.reach('open');
    expect(s.states).toEqual(['connecting', 'open']);
  });

  it('a slow probe answer past probeTimeoutMs counts as a failed probe', async () => {
    const s = live({ auth: memoryAuth(registeredCreds()), policy: { keepAliveIntervalMs: 200, probeTimeoutMs: 100 } });
    await s.reach('open');
    sim.behaviour.replyDelayMs = 400;
    await s.reach('degraded');
    expect(s.logs.some((r) => r.msg.includes('Keep-alive ping failed'))).toBe(true);
  });

  it('answered probes are not news; the first answer after failures restores the session', async () => {
    const s = live({ auth: memoryAuth(registeredCreds()), policy: { keepAliveIntervalMs: 150, probeTimeoutMs: 100, degradedProbeIntervalMs: 150, degradedTimeoutMs: 60_000 } });
    await s.reach('open');
    await waitUntil(() => sim.openConnections[0]!.counters.pingsAnswered >= 2, 3_000);
    // Once per attempt each (admitted, first server frame, open); answered probes add nothing.
    expect(s.connectionEvents).toEqual(['CONNECTION.ADMITTED', 'CONNECTION.REACHED', 'CONNECTION.OPEN']);

    sim.behaviour.replyDelayMs = 400;
    await s.reach('degraded');
    sim.behaviour.replyDelayMs = 0;
    await s.reachAfter('degraded', 'open');
    const answered = sim.openConnections[0]!.counters.pingsAnswered;
    await waitUntil(() => sim.openConnections[0]!.counters.pingsAnswered >= answered + 2, 3_000);

    expect(s.states).toEqual(['connecting', 'open', 'degraded', 'open']);
    const probeEvents = s.connectionEvents.filter((type) => type.startsWith('PING.'));
    expect(probeEvents.at(-1)).toBe('PING.RESTORED');
    expect(probeEvents.filter((type) => type === 'PING.RESTORED')).toHaveLength(1);
    expect(s.logs.filter((r) => r.msg.includes('link recovered'))).toHaveLength(1);
  });

  it('a blackholed link: probe fails → degraded → backingOff → reconnect → open', async () => {
    const s = live({ auth: memoryAuth(registeredCreds()), policy: { keepAliveIntervalMs: 300 } });
    await s.reach('open');
    sim.openConnections[0]!.blackhole();
    await s.reach('degraded');
    await s.reach('backingOff');
    expect(s.context.lastDisconnect?.message).toBe('keep-alive probes unanswered');
    await s.reach('open');
    expect(s.states).toEqual(['connecting', 'open', 'degraded', 'backingOff', 'connecting', 'open']);
  });

  it('a deafened link: silence earns a probe, the unanswered probe cuts the socket (408), then it reconnects', async () => {
    const s = live({ auth: memoryAuth(registeredCreds()), staleLinkAfterMs: 300, deadLinkProbeTimeoutMs: 500, socket: { keepAliveIntervalMs: 200 } });
    await s.reach('open');
    const connection = sim.openConnections[0]!;
    connection.blackhole({ stopReading: true });
    await s.reach('backingOff');
    expect(s.context.lastDisconnect).toMatchObject({ statusCode: 408 });
    expect(s.context.lastDisconnect?.message).toContain('probe unanswered');
    expect(s.context.lastDisconnect?.message).toContain('link presumed dead');
    await s.reach('open');
    expect(sim.counters.connectionsAccepted).toBe(2);
  });

  it('answers up to 10 s late never cut a link whose keep-alive is 200 ms', async () => {
    const s = live({ auth: memoryAuth(registeredCreds()), staleLinkAfterMs: 200, socket: { keepAliveIntervalMs: 200 } });
    await s.reach('open');
    const connection = sim.openConnections[0]!;
    sim.behaviour.replyDelayMs = 10_000;
    const pingsBefore = connection.counters.pingsAnswered;
    // Long enough for the first late answers to arrive and for a probe's deadline (12 s) to pass.
    await new Promise((resolve) => setTimeout(resolve, 12_600));
    expect(connection.counters.pingsAnswered - pingsBefore).toBeGreaterThan(10);
    expect(connection.counters.framesOut).toBeGreaterThan(0);
    expect(s.states).toEqual(['connecting', 'open']);
    expect(s.connectionEvents).not.toContain('CONNECTION.CLOSED');
    expect(sim.counters.connectionsAccepted).toBe(1);
  }, 20_000);

  it('a wall-clock jump (VM resume, NTP step) does not cut a healthy link', async () => {
    const s = live({ auth: memoryAuth(registeredCreds()), staleLinkAfterMs: 300, deadLinkProbeTimeoutMs: 500, socket: { keepAliveIntervalMs: 200 } });
    await s.reach('open');
    const realNow = Date.now.bind(Date);
    const jump = vi.spyOn(Date, 'now').mockImplementation(() => realNow() + 3_600_000);
    try {
      await new Promise((resolve) => setTimeout(resolve, 1_200));
    } finally {
      jump.mockRestore();
    }
    expect(s.states).toEqual(['connecting', 'open']);
    expect(sim.counters.connectionsAccepted).toBe(1);
    expect(sim.openConnections[0]!.counters.pingsAnswered).toBeGreaterThanOrEqual(3);
  });

  it('a creds.update from a stopped attempt\'s dying socket writes nothing', async () => {
    const auth = memoryAuth(registeredCreds());
    const s = live({ auth });
    await s.reach('open');
    const socket = s.sockets[0]!;
    s.actor.send({ type: 'STOP' });
    const saves = auth.saves;
    socket.ev.emit('creds.update', { me: { id: '15550009999:1@s.whatsapp.net' } });
    await new Promise((resolve) => setImmediate(resolve));
    expect(auth.saves).toBe(saves);
  });

  it('probes answered by the server keep the session open', async () => {
    const s = live({ auth: memoryAuth(registeredCreds()), policy: { keepAliveIntervalMs: 100 } });
    await s.reach('open');
    await new Promise((resolve) => setTimeout(resolve, 450));
    expect(s.actor.getSnapshot().matches('open')).toBe(true);
    expect(sim.openConnections[0]!.counters.pingsAnswered).toBeGreaterThanOrEqual(3);
  });

  it('LOGOUT unlinks the device at the server and wipes credentials', async () => {
    const s = live({ auth: memoryAuth(registeredCreds('15550005555', 2)) });
    await s.reach('open');
    const loggedOut = new Promise((resolve) => sim.once('logout', resolve));
    s.actor.send({ type: 'LOGOUT' });
    await loggedOut;
    expect(sim.isLinked('15550005555:2@s.whatsapp.net')).toBe(false);
    expect(s.credentialWipes).toBe(1);
  });

  it('STOP leaves no socket at the simulator and no handle in the process', async () => {
    const handlesBefore = countHandles();
    const s = live({ auth: memoryAuth(registeredCreds()) });
    await s.reach('open');
    s.actor.send({ type: 'STOP' });
    await waitUntil(() => sim.openConnections.length === 0, 3_000);
    await waitUntil(() => countHandles() <= handlesBefore, 3_000);
    expect(sim.openConnections).toHaveLength(0);
    expect(countHandles()).toBeLessThanOrEqual(handlesBefore);
  });
});

/** Sockets and timers the process holds (vitest's own are in the baseline). */
function countHandles(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'Timeout').length;
}

describe('outages and admission (issue #10: 4, 5)', () => {
  it('a WhatsApp outage (connections refused) never ends a session; it opens again once the server is back', async () => {
    const s = live({ auth: memoryAuth(registeredCreds()), policy: { maxReconnectAttempts: 2, reconnectDelaysMs: [50, 100] } });
    await s.reach('open');
    const { port } = new URL(sim.url);
    await sim.stop();
    // Far more refused attempts than the budget of 2.
    await waitUntil(() => s.context.connectionCount >= 8, 10_000);
    expect(s.actor.getSnapshot().status).toBe('active');
    expect(s.states).not.toContain('terminated');
    expect(s.context).toMatchObject({ spentAttempts: 0, lastFailureReachedServer: false });
    expect(s.context.retryDelayMs ?? 100).toBe(100);

    sim = await new WaSimulator({ port: Number(port) }).start();
    await s.reach('open', 5_000);
    expect(s.context.lastFailureReachedServer).toBeNull();
  });

  it('with one admission slot and a hung connect, the queued sessions are never charged a connect deadline', async () => {
    sim.behaviour.noHandshakeReply = true; // each admitted connect hangs until its deadline
    const admission = new ConnectAdmission(1);
    const queued = [1, 2, 3].map((n) =>
      live({ userId: `q${n}`, auth: memoryAuth(registeredCreds(`1555000100${n}`, n)), admission, policy: { connectDeadlineMs: 400, maxReconnectAttempts: 1 } }),
    );
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const deadlines = (s: (typeof queued)[number]) => s.logs.filter((r) => r.msg.includes('Connect deadline')).length;
    const admitted = (s: (typeof queued)[number]) => s.connectionEvents.filter((type) => type === 'CONNECTION.ADMITTED').length;
    for (const s of queued) expect(deadlines(s)).toBeLessThanOrEqual(admitted(s));
    const total = queued.reduce((sum, s) => sum + deadlines(s), 0);
    expect(total).toBeGreaterThanOrEqual(2);
    expect(total).toBeLessThanOrEqual(sim.counters.connectionsAccepted);
    expect(queued.some((s) => s.states.includes('terminated'))).toBe(false);

    sim.behaviour.noHandshakeReply = false;
    await Promise.all(queued.map((s) => s.reach('open', 10_000)));
  }, 20_000);
});
