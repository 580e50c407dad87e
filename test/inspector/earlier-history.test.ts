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
      return events.filter((e) => !query.types || query.types.includes(e.type)).reverse().slice(0, query.limit);
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
  const entries = await outboxHistory(source, 'me')(key, null);
  expect(entries.map((entry) => entry.label)).toEqual(['connecting', 'connecting → open', 'open → backingOff · 428 Connection Terminated', 'backingOff → terminated · stopped', 'restored as connecting']);
  expect(entries.map((entry) => entry.seq)).toEqual([-5, -4, -3, -2, -1]);
  expect(entries.map((entry) => entry.from)).toEqual([null, 'connecting.queued', 'open.settling', 'backingOff', null]);
  expect(entries.every((entry) => entry.earlier && entry.kind === 'transition' && entry.context === undefined)).toBe(true);
  expect(entries[2]).toMatchObject({ statusCode: 428, message: 'Connection Terminated', facts: { attempt: 1, lastDisconnect: drop } });
  expect(entries[3]!.statusCode).toBeUndefined();
  // QR events are never asked for: their text must not reach the console.
  expect(source.asked[0]!.types).not.toContain('session.qr');

  // Only those before the hub's first entry.
  const before = await outboxHistory(source, 'me')(key, { at: stored[4]!.time });
  expect(before.map((entry) => entry.to)).toEqual(['connecting.queued', 'open.settling']);
});
