import { expect, it } from 'vitest';
import { startSession } from '../support/session-harness.js';

it('the lines ops grep for are logged at info or above, with the structured fields', () => {
  const s = startSession();
  s.close(428);
  s.clock.advance(3_000);
  s.open();
  s.clock.advance(3_600_000, 60_000);
  s.actor.send({ type: 'STOP' });
  for (const words of ['Reconnection attempt', 'Keep-alive ping', 'Session health check', 'Socket healthy', 'Session milestone', 'Cleared health check interval', 'Cleared keep-alive interval']) {
    const lines = s.logsMatching(words);
    expect(lines.length, words).toBeGreaterThan(0);
    for (const line of lines) {
      expect(['info', 'warn', 'error'], `${words} at ${line.level}`).toContain(line.level);
      expect(line.fields).toMatchObject({ userId: 'u1', sessionId: 's1' });
      expect(typeof line.fields.state).toBe('string');
      expect(typeof line.fields.attempt).toBe('number');
    }
  }
});
