/**
 * Every node serves the whole API, streams included: GET /sessions/:u/:s/events on a
 * node that does not run the session relays its owner's stream — the live view first,
 * then each transition as the owner sees it — instead of calling a session that runs
 * elsewhere `terminated` and then saying nothing. The console of any node shows it the same way:
 * as the node running it announced it on the cluster's event stream.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { pgCluster, type ClusterNode } from '../support/pg-cluster.js';
import { testApiKey } from '../support/service-harness.js';
import { waitUntil } from '../../fixtures/wait.js';
import { openSse } from '../webhooks/support/sse.js';

interface View {
  userId: string;
  state: string;
  owner: string | null;
  terminatedReason: string | null;
}

const cluster = pgCluster();
beforeAll(() => cluster.start(), 120_000);
afterAll(() => cluster.stop());

it('a session owned by node B, followed on node A: its live view first, then its stop as B sees it', async () => {
  const a = await cluster.node();
  const b = await cluster.node();
  const holderOf = (node: ClusterNode) => cluster.holderOf(node);
  const holders = new Map([[await holderOf(a), a], [await holderOf(b), b]]);
  // `qr…` users wait for a QR (the harness's fake connection): a state that lasts until stopped.
  expect((await a.call('POST', '/sessions', { userId: 'qrfollow' })).status).toBeLessThan(300);
  // Placement may hand it to the other node once. Until both nodes name the same owner, each is
  // asked in turn, and none may ever call it terminated: it waits for an owner, it did not end.
  let owning: typeof a | undefined;
  const seen: string[] = [];
  await waitUntil(async () => {
    const views = await Promise.all([a, b].map(async (svc) => (await svc.call('GET', '/sessions/qrfollow/default')).body as unknown as { owner: string | null; status: string }));
    seen.push(...views.map((view) => view.status ?? 'unlisted'));
    const [fromA, fromB] = views as [{ owner: string | null; status: string }, { owner: string | null; status: string }];
    owning = fromA.owner ? holders.get(fromA.owner) : undefined;
    return owning !== undefined && fromA.owner === fromB.owner && fromA.status === 'connecting.awaitingQr' && fromB.status === 'connecting.awaitingQr';
  }, 15_000);
  expect(seen.filter((status) => status === 'terminated')).toEqual([]);
  const other = owning === a ? b : a;

  const followed = await openSse(`${other.service.url}/sessions/qrfollow/default/events`);
  cluster.onStop(() => followed.close());
  expect(followed.status).toBe(200);
  await waitUntil(() => followed.messages.length > 0, 5_000);
  expect(followed.messages[0]).toMatchObject({ event: 'transition', data: { status: 'connecting.awaitingQr', owner: await holderOf(owning!) } });

  // The console on the other node lists it as its owner runs it, from the cluster's events, not as ended there.
  const console = await openSse(`${other.service.url}/inspector/fleet`);
  cluster.onStop(() => console.close());
  const consoleView = () => {
    const views = console.messages.flatMap((m) => (m.event === 'sessions' ? (m.data as unknown as View[]) : m.event === 'changes' ? (m.data.views as View[]) : []));
    return views.filter((v) => v.userId === 'qrfollow').at(-1);
  };
  // Listed at once; shown as its owner runs it once this node's placement has seen who that is.
  const owner = await holderOf(owning!);
  await waitUntil(() => consoleView() !== undefined, 5_000);
  await waitUntil(() => consoleView()?.owner === owner, 10_000);
  expect(consoleView()).toMatchObject({ state: 'connecting' });

  // Counted once over the cluster: by its owner; the other node's metrics leave another node's session out.
  const gauge = async (svc: typeof a, state: string) => {
    const text = await (await fetch(`${svc.service.url}/metrics`, { headers: { 'x-api-key': testApiKey } })).text();
    return Number(new RegExp(`^wa_vigil_sessions\\{state="${state}"\\} (\\d+)$`, 'm').exec(text)?.[1]);
  };
  expect((await gauge(a, 'connecting')) + (await gauge(b, 'connecting'))).toBe(1);
  expect((await gauge(a, 'terminated')) + (await gauge(b, 'terminated'))).toBe(0);

  // Stopped through the owner: the follower and the console on the other node hear it.
  expect((await owning!.call('POST', '/sessions/qrfollow/default/stop')).status).toBe(202);
  await waitUntil(() => followed.messages.some((m) => m.data.state === 'terminated'), 5_000);
  const ended = followed.messages.find((m) => m.data.state === 'terminated')!;
  expect(ended.data).toMatchObject({ terminatedReason: 'stopped' });
  expect(followed.messages.every((m) => m.event === 'transition')).toBe(true);
  await waitUntil(() => consoleView()?.state === 'terminated', 5_000);
  expect(consoleView()).toMatchObject({ terminatedReason: 'stopped', owner: await holderOf(owning!) });
}, 60_000);
