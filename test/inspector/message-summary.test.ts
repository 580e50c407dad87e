import { expect, it } from 'vitest';
import { summarizeMessages } from '../../src/inspector/message-summary.js';
import { newQueuedMessage, type OutgoingMessage } from '../../src/store/message-queue.js';

function message(n: number, change: Partial<OutgoingMessage> = {}): OutgoingMessage {
  const id = `3EB0${String(n).padStart(16, '0')}`;
  return { ...newQueuedMessage({ id, to: '15551111111@s.whatsapp.net', text: `secret ${n}`, createdAt: `2026-01-01T00:00:${String(n).padStart(2, '0')}.000Z` }), ...change };
}

it('counts the queued ones and lists the last ones newest first, with the time of their status', () => {
  const messages = [
    message(1, { status: 'read', sentAt: '2026-01-01T00:01:00.000Z', deliveredAt: '2026-01-01T00:02:00.000Z', readAt: '2026-01-01T00:03:00.000Z' }),
    message(2, { status: 'delivered', sentAt: '2026-01-01T00:01:00.000Z', deliveredAt: '2026-01-01T00:02:00.000Z' }),
    message(3, { status: 'failed', error: 'not_on_whatsapp' }),
    message(4),
    message(5),
  ];
  expect(summarizeMessages(messages)).toEqual({
    queued: 2,
    last: [
      { id: '3EB00000000000000005', status: 'queued', at: '2026-01-01T00:00:05.000Z' },
      { id: '3EB00000000000000004', status: 'queued', at: '2026-01-01T00:00:04.000Z' },
      { id: '3EB00000000000000003', status: 'failed', error: 'not_on_whatsapp', at: '2026-01-01T00:00:03.000Z' },
      { id: '3EB00000000000000002', status: 'delivered', at: '2026-01-01T00:02:00.000Z' },
      { id: '3EB00000000000000001', status: 'read', at: '2026-01-01T00:03:00.000Z' },
    ],
  });
});

it('shows at most the last ten, counts every queued one, and carries neither text nor recipient', () => {
  const messages = Array.from({ length: 25 }, (_, i) => message(i + 1));
  const summary = summarizeMessages(messages);
  expect(summary.queued).toBe(25);
  expect(summary.last.map((line) => line.id.slice(-2))).toEqual(['25', '24', '23', '22', '21', '20', '19', '18', '17', '16']);
  expect(JSON.stringify(summary)).not.toMatch(/secret|15551111111/);
});
