/**
 * WhatsApp (or the network) gone for a while: refused connections are not the
 * sessions' fault. They spend no give-up budget, nobody ends `terminated`, all
 * are open again within seconds of the server's return, and a restart
 * afterwards restores every one. The first session that gets through wakes the
 * others at once instead of leaving them to the schedule's cap.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { WaSimulator } from '../../src/sim/wa-simulator.js';
import type { SessionView } from '../../src/session/session-view.js';
import { writeBaileysAuthFolder } from '../../fixtures/baileys-folder.js';
import { removeDir, startTestService, tempSessionsDir } from '../support/service-harness.js';
import { waitUntil } from '../../fixtures/wait.js';

const names = ['o0', 'o1', 'o2', 'o3', 'o4'];
let sim: WaSimulator;
let dir: string;
const stops: (() => Promise<void>)[] = [];

beforeEach(async () => {
  sim = await new WaSimulator().start();
  dir = await tempSessionsDir();
  for (const [i, name] of names.entries()) await writeBaileysAuthFolder(dir, 'out', name, `155500055${i}`, 1);
});
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
  await sim.stop();
  await removeDir(dir);
});

/** The simulator goes away (connections refused) and comes back on the same port, with the same accounts. */
async function outage(ms: number): Promise<void> {
  const port = Number(new URL(sim.url).port);
  await sim.stop();
  await new Promise((resolve) => setTimeout(resolve, ms));
  sim = await new WaSimulator({ port }).start();
}

async function start(env: Record<string, string>) {
  const api = await startTestService({ sim, sessionsDir: dir, env });
  stops.push(() => api.service.stop());
  const states: string[] = [];
  api.service.registry.on('change', ({ after }: { after: SessionView }) => states.push(after.status));
  const allOpen = async () => names.every((name) => api.service.registry.get('out', name).state === 'open');
  return { api, states, allOpen };
}

it('a 12 s outage with MAX_RECONNECT_ATTEMPTS=3: no session ends, all open again within seconds, a restart restores all', async () => {
  const { api, states, allOpen } = await start({ MAX_RECONNECT_ATTEMPTS: '3', RECONNECT_DELAYS_MS: '200,400' });
  await waitUntil(allOpen, 10_000);
  await outage(12_000);
  const backAt = Date.now();
  await waitUntil(allOpen, 10_000);
  expect(Date.now() - backAt).toBeLessThan(5_000);
  // Dozens of refused attempts per session, and not one termination.
  expect(states.filter((s) => s === 'backingOff').length).toBeGreaterThan(names.length * 10);
  expect(states.filter((s) => s.startsWith('terminated'))).toEqual([]);
  for (const name of names) expect(api.service.registry.get('out', name).lastDisconnect).not.toBeNull();

  await stops.pop()!();
  const again = await start({ MAX_RECONNECT_ATTEMPTS: '3', RECONNECT_DELAYS_MS: '200,400' });
  await waitUntil(again.allOpen, 10_000);
}, 60_000);

it('after an outage the first session through wakes the others at once, not after the cap', async () => {
  // A 60 s cap: without the wake-up the others would wait up to a minute.
  const { api, allOpen } = await start({ MAX_RECONNECT_ATTEMPTS: '3', RECONNECT_DELAYS_MS: '100,60000' });
  await waitUntil(allOpen, 10_000);
  await outage(1_500);
  await waitUntil(() => names.every((name) => api.service.registry.get('out', name).state === 'backingOff'), 5_000);
  // An operator restarts one session; it gets through, and the fleet wakes the rest.
  const wokenAt = Date.now();
  expect((await api.call('POST', '/sessions/out/o0/restart')).status).toBe(202);
  await waitUntil(allOpen, 5_000);
  expect(Date.now() - wokenAt).toBeLessThan(5_000);
  expect(sim.counters.maxConcurrentLoginsPerDevice).toBe(1);
}, 30_000);

it('a flapping link (every open dropped within a second) never ends a session', async () => {
  const { api, states } = await start({ MAX_RECONNECT_ATTEMPTS: '2', RECONNECT_DELAYS_MS: '50,100' });
  await waitUntil(() => names.every((name) => api.service.registry.get('out', name).state === 'open'), 10_000);
  const allOpen = () => names.every((name) => api.service.registry.get('out', name).state === 'open');
  for (let flap = 0; flap < 8; flap++) {
    // Dropped once the session itself saw the open (a drop before that is a failed attempt, not a flap).
    await waitUntil(allOpen, 5_000);
    sim.closeAll();
    await waitUntil(() => sim.loggedIn().length === 0, 5_000);
  }
  await waitUntil(allOpen, 10_000);
  expect(states.filter((s) => s.startsWith('terminated'))).toEqual([]);
}, 60_000);
