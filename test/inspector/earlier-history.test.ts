/**
 * The log from before this process (src/inspector/earlier-history.ts): which
 * outbox events become entries, in what order, with what labels and seqs.
 */
import { expect, it } from 'vitest';
import type { FleetEvent } from '../../src/outbox/fleet-event.js';
import type { SessionEventsQuery } from '../../src/outbox/outbox.js';
import { outboxHistory } from '../../src/inspector/earlier-history.js';

const key = { userId: 'u', sessionId: 's' };
let n = 0;
function event(type: FleetEvent['type'], node: string, payload: Record<string, unknown>): FleetEvent {
  n += 1;
  return { id: `id-${String(n).padStart(4, '0')}`, type, ...key, node, time: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(), payload };
}
const drop = { statusCode: 428, message: 'Connection Terminated', at: '2026-01-01T00:00:05.000Z' };

/** An outbox holding `events` (oldest first) that answers as the contract says, and remembers what it was asked. */
function outbox(events: FleetEvent[]) {
  const asked: SessionEventsQuery[] = [];
  return {
    asked,
    async sessionEvents(_key: typeof key, query: SessionEventsQuery) {
      asked.push(query);
      return events
        .filter((e) => (!query.types || query.types.includes(e.type)) && (query.beforeId === undefined || e.id < query.beforeId))
        .reverse()
        .slice(0, query.limit);
    },
  };
}

it('turns earlier processes’ status events into transitions, oldest first, with negative seqs and the disconnect once', async () => {
  const stored = [
    // A deleted session's events: the one made again under its ids starts clean.
    event('session.status', 'gone', { state: 'open', status: 'open.stable', previousState: 'connecting', attempt: 0, lastDisconnect: null }),
    event('session.removed', 'gone', {}),
    event('session.status', 'old', { state: 'connecting', status: 'connecting.queued', previousState: null, attempt: 0, lastDisconnect: null }),
    event('session.status', 'old', { state: 'open', status: 'open.settling', previousState: 'connecting', attempt: 0, lastDisconnect: null }),
    event('session.status', 'old', { state: 'backingOff', status: 'backingOff', previousState: 'open', attempt: 1, lastDisconnect: drop }),
    event('session.status', 'old', { state: 'terminated', status: 'terminated', previousState: 'backingOff', attempt: 1, lastDisconnect: drop, terminatedReason: 'stopped' }),
    event('session.restored', 'older-start', { state: 'connecting', status: 'connecting.queued' }),
    event('session.status', 'me', { state: 'open', status: 'open.settling', previousState: 'connecting', attempt: 0, lastDisconnect: drop }),
  ];
  const source = outbox(stored);
  const { entries, nextBeforeId } = await outboxHistory(source, 'me')(key, {});
  // The read met the removal: nothing older belongs to this session.
  expect(nextBeforeId).toBeNull();
  expect(entries.map((entry) => entry.label)).toEqual(['connecting', 'connecting → open', 'open → backingOff · 428 Connection Terminated', 'backingOff → terminated · stopped', 'restored as connecting']);
  expect(entries.map((entry) => entry.seq)).toEqual([-5, -4, -3, -2, -1]);
  expect(entries.map((entry) => entry.from)).toEqual([null, 'connecting.queued', 'open.settling', 'backingOff', null]);
  expect(entries.every((entry) => entry.earlier && entry.kind === 'transition' && entry.context === undefined)).toBe(true);
  expect(entries[2]).toMatchObject({ statusCode: 428, message: 'Connection Terminated', facts: { attempt: 1, lastDisconnect: drop } });
  expect(entries[3]!.statusCode).toBeUndefined();
  // QR events are never asked for: their text must not reach the console.
  expect(source.asked[0]!.types).not.toContain('session.qr');

  // Only those before the hub's first entry.
  const { entries: before } = await outboxHistory(source, 'me')(key, { before: { at: stored[4]!.time } });
  expect(before.map((entry) => entry.to)).toEqual(['connecting.queued', 'open.settling']);
});

it('pages back by the outbox id where the last read stopped, seqs below the page before, until nothing is older', async () => {
  const stored = [
    event('session.status', 'old', { state: 'connecting', status: 'connecting.queued', previousState: null }),
    ...Array.from({ length: 6 }, (_, i) =>
      event('session.status', 'old', i % 2 === 0 ? { state: 'open', status: 'open.stable', previousState: 'connecting' } : { state: 'connecting', status: 'connecting.queued', previousState: 'open' }),
    ),
    // The newest three are this process's own (in its hub): read, not shown, but the next page starts below them.
    ...Array.from({ length: 3 }, () => event('session.status', 'me', { state: 'open', status: 'open.stable', previousState: 'connecting' })),
  ];
  const history = outboxHistory(outbox(stored), 'me', 4);
  const first = await history(key, {});
  expect(first.entries.map((entry) => entry.at)).toEqual([stored[6]!.time]);
  expect(first.entries.map((entry) => entry.seq)).toEqual([-1]);
  expect(first.nextBeforeId).toBe(stored[6]!.id);

  const second = await history(key, { beforeId: first.nextBeforeId!, seqBelow: -1 });
  expect(second.entries.map((entry) => entry.at)).toEqual(stored.slice(2, 6).map((e) => e.time));
  expect(second.entries.map((entry) => entry.seq)).toEqual([-5, -4, -3, -2]);
  expect(second.nextBeforeId).toBe(stored[2]!.id);

  const last = await history(key, { beforeId: second.nextBeforeId!, seqBelow: -5 });
  expect(last.entries.map((entry) => entry.label)).toEqual(['connecting', 'connecting → open']);
  expect(last.entries.map((entry) => entry.seq)).toEqual([-7, -6]);
  // Fewer than a page: the oldest retained event has been read.
  expect(last.nextBeforeId).toBeNull();
});
