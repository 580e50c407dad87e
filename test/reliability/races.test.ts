/**
 * Operations racing each other and the restore, as a busy API sees them: 60
 * paired sessions being restored while creates, starts, stops, restarts and
 * deletes arrive in random order, plus 20 fresh sessions each created and then
 * deleted and started at the same moment. Whatever the order, the service must
 * answer no 5xx, keep exactly one socket per open session and never two logins
 * for one account, list exactly the folders on disk, and leave no socket
 * logged in once everything is deleted.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { WaSimulator } from '../../src/sim/wa-simulator.js';
import type { SessionView } from '../../src/session/session-view.js';
import { writeBaileysAuthFolder } from '../../fixtures/baileys-folder.js';
import { removeDir, startTestService, tempSessionsDir } from '../support/service-harness.js';
import { waitUntil } from '../../fixtures/wait.js';

const pairedCount = 60;
const freshCount = 20;
let sim: WaSimulator;
let dir: string;
let api: Awaited<ReturnType<typeof startTestService>>;

/** A small seeded generator: the same "random" order on every run. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

beforeAll(async () => {
  sim = await new WaSimulator().start();
  dir = await tempSessionsDir();
  for (let i = 0; i < pairedCount; i++) await writeBaileysAuthFolder(dir, 'fleet', `p${i}`, `1555100${String(i).padStart(4, '0')}`, 1);
});
afterAll(async () => {
  await api?.service.stop();
  await sim.stop();
  await removeDir(dir);
});

async function onDisk(): Promise<string[]> {
  const users = (await readdir(dir)).filter((name) => !name.startsWith('.'));
  const keys: string[] = [];
  for (const user of users) for (const session of await readdir(join(dir, user))) keys.push(`${user}/${session}`);
  return keys.sort();
}

async function settled(): Promise<SessionView[]> {
  let views: SessionView[] = [];
  await waitUntil(async () => {
    views = (await api.call('GET', '/sessions')).body as unknown as SessionView[];
    // A paired id deleted and created again has fresh credentials: it waits for its QR.
    return views.every((v) => v.state === 'open' || v.state === 'terminated' || v.status === 'connecting.awaitingQr');
  }, 15_000);
  return views;
}

it('random operations during restore: no 5xx, one socket per open session, never two logins, listing = folders', async () => {
  const random = seeded(20261129);
  api = await startTestService({ sim, sessionsDir: dir, env: { MAX_CONCURRENT_CONNECTS: '4' } });
  const paired = Array.from({ length: pairedCount }, (_, i) => `p${i}`);
  const kinds = ['start', 'stop', 'restart', 'delete', 'create'] as const;
  const requests: Promise<number[]>[] = [];
  const status = (call: Promise<{ status: number }>) => call.then((answer) => [answer.status]);
  for (let round = 0; round < 150; round++) {
    const id = paired[Math.floor(random() * paired.length)]!;
    const kind = kinds[Math.floor(random() * kinds.length)]!;
    if (kind === 'delete') requests.push(status(api.call('DELETE', `/sessions/fleet/${id}`)));
    else if (kind === 'create') requests.push(status(api.call('POST', '/sessions', { userId: 'fleet', sessionId: id })));
    else requests.push(status(api.call('POST', `/sessions/fleet/${id}/${kind}`)));
  }
  for (let i = 0; i < freshCount; i++) {
    // create, then delete and start at the same moment.
    requests.push(
      api.call('POST', '/sessions', { userId: 'fresh', sessionId: `f${i}` }).then(async (created) => {
        const both = await Promise.all([api.call('DELETE', `/sessions/fresh/f${i}`), api.call('POST', `/sessions/fresh/f${i}/start`)]);
        return [created.status, ...both.map((answer) => answer.status)];
      }),
    );
  }
  const statuses = (await Promise.all(requests)).flat();
  expect(statuses.filter((code) => code >= 500 || code === 0)).toEqual([]);
  // Every fresh create succeeds; a create of a paired id succeeds only after a delete of it won the race.
  expect(statuses.filter((code) => code === 201).length).toBeGreaterThanOrEqual(freshCount);

  const views = await settled();
  await new Promise((resolve) => setTimeout(resolve, 300));
  const open = views.filter((v) => v.state === 'open');
  const loggedIn = sim.loggedIn().map((c) => c.jid);
  expect(loggedIn).toHaveLength(open.length);
  expect(new Set(loggedIn).size).toBe(loggedIn.length);
  for (const view of open) expect(loggedIn).toContain(view.me?.id);
  expect(sim.counters.maxConcurrentLoginsPerDevice).toBe(1);
  expect(views.map((v) => `${v.userId}/${v.sessionId}`).sort()).toEqual(await onDisk());
  // Every fresh session was deleted after its create: none is left, whatever the start did.
  expect(views.filter((v) => v.userId === 'fresh')).toEqual([]);
}, 90_000);

it('after deleting everything, no socket stays logged in and nothing is left on disk', async () => {
  const views = (await api.call('GET', '/sessions')).body as unknown as SessionView[];
  const deletes = await Promise.all(views.map((v) => api.call('DELETE', `/sessions/${v.userId}/${v.sessionId}`)));
  expect(deletes.filter((d) => d.status !== 204)).toEqual([]);
  await waitUntil(() => sim.loggedIn().length === 0, 5_000);
  expect((await api.call('GET', '/sessions')).body).toEqual([]);
  expect(await onDisk()).toEqual([]);
}, 30_000);
