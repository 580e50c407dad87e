/**
 * One owner per session, through the real service and the simulator: a second
 * service on the same sessions/ changes nothing it does not own, a dead owner's
 * sessions are taken over, a lost lease stops the socket, and racing requests
 * on one session are applied one at a time.
 */
import { readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { WaSimulator } from '../../src/sim/wa-simulator.js';
import { FileOwnership } from '../../src/store/files/file-ownership.js';
import type { Lease } from '../../src/store/ownership.js';
import { writeBaileysAuthFolder } from '../../fixtures/baileys-folder.js';
import { LogCapture, removeDir, startTestService, tempSessionsDir } from '../support/service-harness.js';
import { waitUntil } from '../../fixtures/wait.js';

let sim: WaSimulator;
let dir: string;
const services: Awaited<ReturnType<typeof startTestService>>[] = [];

beforeEach(async () => {
  sim = await new WaSimulator().start();
  dir = await tempSessionsDir();
});
afterEach(async () => {
  for (const s of services.splice(0)) await s.service.stop();
  await sim.stop();
  await removeDir(dir);
});

const registeredFolder = (userId: string, sessionId: string, phone = '15550001212') => writeBaileysAuthFolder(dir, userId, sessionId, phone, 4);

async function service() {
  const started = await startTestService({ sim, sessionsDir: dir });
  services.push(started);
  return started;
}

it('a second service on the same sessions/ refuses start, stop, logout and delete of a session the first owns, naming the owner', async () => {
  const folder = await registeredFolder('lee', 'main');
  const first = await service();
  await first.waitForState('lee', 'main', 'open');
  const owner = first.service.registry.ownership.holder;
  const credsBefore = await readFile(join(folder, 'creds.json'), 'utf8');

  const second = await service();
  await second.service.restored;
  expect((await second.call('GET', '/sessions/lee/main')).body).toMatchObject({ owner, terminatedReason: 'ownedElsewhere' });
  for (const [method, path] of [
    ['POST', '/sessions/lee/main/start'],
    ['POST', '/sessions/lee/main/stop'],
    ['POST', '/sessions/lee/main/logout'],
    ['POST', '/sessions/lee/main/restart'],
    ['DELETE', '/sessions/lee/main'],
  ] as const) {
    const answer = await second.call(method, path);
    expect(answer.status, `${method} ${path}`).toBe(409);
    expect(answer.body).toMatchObject({ error: 'owned_elsewhere', owner });
  }
  expect(await readFile(join(folder, 'creds.json'), 'utf8')).toBe(credsBefore);
  // A dropped-in Baileys folder has no session.json until its owner writes one; the second wrote none.
  expect(await readdir(folder)).not.toContain('session.json');
  expect((await first.call('GET', '/sessions/lee/main')).body.state).toBe('open');
  expect(sim.counters.logins).toBe(1);
  expect(sim.counters.maxConcurrentLoginsPerDevice).toBe(1);
});

it('when the owning process goes silent, the other takes its session over within the lease TTL, and the old one stops its socket', async () => {
  await registeredFolder('kim', 'main');
  const first = await service();
  await first.waitForState('kim', 'main', 'open');
  const second = await service();
  // The first process's heartbeat stops moving (as if SIGSTOPped) while it still checks its leases.
  const ownership = first.service.registry.ownership;
  const renew = ownership.renew.bind(ownership);
  ownership.renew = async (leases: readonly Lease[]) => {
    const lost: Lease[] = [];
    for (const lease of leases) await ownership.confirm(lease).catch(() => lost.push(lease));
    return lost;
  };
  try {
    await second.waitForState('kim', 'main', 'open', 6_000);
  } finally {
    ownership.renew = renew;
  }
  // The first learns on its next renew (a live process whose heartbeat was made stale cannot know sooner).
  const secondHolder = second.service.registry.ownership.holder;
  await waitUntil(() => first.service.registry.get('kim', 'main').owner === secondHolder, 3_000);
  expect(first.service.registry.get('kim', 'main').state).toBe('terminated');
  expect(sim.loggedIn()).toHaveLength(1);
  // The session is the second's: its own logout works and reaches the phone.
  expect((await second.call('POST', '/sessions/kim/main/logout')).status).toBe(202);
});

it('a lease taken by another holder stops the socket within a renew tick, and nothing more is written', async () => {
  const folder = await registeredFolder('ivy', 'main');
  const api = await service();
  await api.waitForState('ivy', 'main', 'open');
  const leaseFile = (await readdir(folder)).find((f) => f.startsWith('lease.'))!;
  const epoch = Number(leaseFile.split('.')[1]);
  // Another holder, alive, claims the next epoch (what a takeover writes).
  const other = new FileOwnership(dir, { holder: 'other-holder' });
  await other.start();
  await writeFile(join(folder, `lease.${epoch + 1}`), JSON.stringify({ epoch: epoch + 1, holder: 'other-holder' }));
  await waitUntil(() => sim.loggedIn().length === 0, 3_000);
  const credsAt = (await stat(join(folder, 'creds.json'))).mtimeMs;
  expect(api.service.registry.get('ivy', 'main')).toMatchObject({ state: 'terminated', owner: 'other-holder' });
  expect((await api.call('POST', '/sessions/ivy/main/start')).status).toBe(409);
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect((await stat(join(folder, 'creds.json'))).mtimeMs).toBe(credsAt);
});

it('POST /sessions for a session that is on disk but not registered yet is 409 and leaves its files alone', async () => {
  const api = await service();
  const folder = await registeredFolder('joe', 'main');
  const created = await api.call('POST', '/sessions', { userId: 'joe', sessionId: 'main' });
  expect(created.status).toBe(409);
  // The folder is adopted as it is (restored, its credentials used), never overwritten with fresh ones.
  await api.waitForState('joe', 'main', 'open');
  expect(sim.counters.pairings).toBe(0);
  expect(sim.loggedIn()[0]?.jid).toBe('15550001212:4@s.whatsapp.net');
  expect(await readdir(folder)).toContain('creds.json');
});

it('five concurrent start requests make one actor and one socket', async () => {
  await registeredFolder('ned', 'main');
  const api = await service();
  await api.waitForState('ned', 'main', 'open');
  await api.call('POST', '/sessions/ned/main/stop');
  await api.waitForState('ned', 'main', 'terminated');
  const answers = await Promise.all(Array.from({ length: 5 }, () => api.call('POST', '/sessions/ned/main/start')));
  expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 202, 202]);
  await api.waitForState('ned', 'main', 'open');
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(sim.loggedIn()).toHaveLength(1);
  expect(sim.counters.maxConcurrentLoginsPerDevice).toBe(1);
  expect(sim.counters.logins).toBe(2);
});

it('five concurrent creates of one id: one 201, four 409, one socket', async () => {
  const api = await service();
  const answers = await Promise.all(Array.from({ length: 5 }, () => api.call('POST', '/sessions', { userId: 'olga' })));
  expect(answers.map((a) => a.status).sort()).toEqual([201, 409, 409, 409, 409]);
  await api.waitForState('olga', 'default', 'connecting.awaitingQr');
  expect(sim.openConnections).toHaveLength(1);
});

it('delete racing start, and logout racing start, leave no socket and no 5xx', async () => {
  const api = await service();
  for (let i = 0; i < 5; i++) {
    await registeredFolder('race', `d${i}`, `155500030${i}`);
    await registeredFolder('race', `l${i}`, `155500040${i}`);
  }
  await waitUntil(() => sim.loggedIn().length === 10, 8_000);
  const answers = await Promise.all(
    Array.from({ length: 5 }, (_, i) => [
      api.call('DELETE', `/sessions/race/d${i}`),
      api.call('POST', `/sessions/race/d${i}/start`),
      api.call('POST', `/sessions/race/l${i}/logout`),
      api.call('POST', `/sessions/race/l${i}/start`),
      api.call('POST', `/sessions/race/l${i}/logout`),
    ]).flat(),
  );
  expect(answers.filter((a) => a.status >= 500)).toEqual([]);
  await new Promise((resolve) => setTimeout(resolve, 500));
  // Deleted first, then start found nothing: no folder, no socket. Logged out last: no socket.
  expect(await readdir(join(dir, 'race'))).toEqual(['l0', 'l1', 'l2', 'l3', 'l4']);
  expect(sim.loggedIn()).toHaveLength(0);
  for (let i = 0; i < 5; i++) expect(api.service.registry.get('race', `l${i}`).terminatedReason).toBe('loggedOut');
});

it('a pairing code is refused (409) for a paired session, and its identity is never touched', async () => {
  const folder = await registeredFolder('pat', 'main');
  sim.behaviour.loginDelayMs = 1_500;
  const api = await service();
  await api.waitForState('pat', 'main', 'connecting');
  const asked = await api.call('POST', '/sessions/pat/main/pairing-code', { phoneNumber: '4915112345678' });
  expect(asked.status).toBe(409);
  expect(asked.body.error).toBe('not_pairing');
  await api.waitForState('pat', 'main', 'open');
  expect(JSON.parse(await readFile(join(folder, 'creds.json'), 'utf8')).me.id).toBe('15550001212:4@s.whatsapp.net');
});

it('logging out a stopped session reaches WhatsApp first, so the phone unlinks the device too', async () => {
  const folder = await registeredFolder('uma', 'main');
  const api = await service();
  await api.waitForState('uma', 'main', 'open');
  await api.call('POST', '/sessions/uma/main/stop');
  await api.waitForState('uma', 'main', 'terminated');
  let unlinked = 0;
  sim.on('logout', () => (unlinked += 1));
  const answer = await api.call('POST', '/sessions/uma/main/logout');
  expect(answer.status).toBe(202);
  expect(answer.body.terminatedReason).toBe('loggedOut');
  expect(unlinked).toBe(1);
  expect(await readdir(folder)).not.toContain('creds.json');
  expect(api.logs.text).not.toContain('Logged out without reaching WhatsApp');
});

it('DELETE ?logout=true unlinks the device before removing the session', async () => {
  await registeredFolder('vic', 'main');
  const api = await service();
  await api.waitForState('vic', 'main', 'open');
  let unlinked = 0;
  sim.on('logout', () => (unlinked += 1));
  expect((await api.call('DELETE', '/sessions/vic/main?logout=true')).status).toBe(204);
  expect(unlinked).toBe(1);
  expect(await readdir(dir)).not.toContain('vic');
  expect((await api.call('GET', '/sessions/vic/main')).status).toBe(404);
  expect((await api.call('DELETE', '/sessions/vic/main?logout=maybe')).status).toBe(400);
});

it('a dangling lease link in one session is reported and that session left alone; the others run, the listing answers', async () => {
  const logs = new LogCapture();
  await registeredFolder('amy', 'main');
  const broken = await registeredFolder('amy', 'linked', '15550001313');
  await symlink(join(dir, 'no-such-lease'), join(broken, 'lease.9'));
  const api = await startTestService({ sim, sessionsDir: dir, logs });
  services.push(api);
  await api.waitForState('amy', 'main', 'open');
  // Twenty renew ticks of 250 ms: the broken session is tried again each tick, at the cost of one
  // failed read (that each try is bounded, never a spin, is test/store/file-ownership.test.ts's rule).
  await new Promise((resolve) => setTimeout(resolve, 5_000));
  const listing = await api.call('GET', '/sessions');
  expect(listing.status).toBe(200);
  expect((listing.body as unknown as { sessionId: string }[]).map((s) => s.sessionId).sort()).toEqual(['linked', 'main']);
  expect((await api.call('GET', '/sessions/amy/linked')).body.state).not.toBe('open');
  expect(sim.loggedIn()).toHaveLength(1);
  expect(logs.lines.filter((line) => line.includes('Session lease cannot be read'))).toHaveLength(1);
  // Still served after twenty ticks: the open session answers, the broken one is still reported, not retried into a crash.
  expect((await api.call('GET', '/sessions/amy/main')).body.state).toBe('open');
});
