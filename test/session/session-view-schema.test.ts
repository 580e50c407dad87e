/**
 * The session view's type is its schema's: a field added to one is in the other (checked by the
 * type checker in `npm test`), and what the service builds for a session is what the schema says.
 */
import { expect, expectTypeOf, it } from 'vitest';
import type { SessionState } from '../../machines/session.states.js';
import { sessionViewSchema, type SessionFault, type SessionView } from '../../src/session/session-view-schema.js';
import { toSessionView } from '../../src/session/session-view.js';
import { SessionFacts } from '../../src/session/session-facts.js';

it('the type follows the schema: enums, nullables, required and optional fields', () => {
  expectTypeOf<SessionView['state']>().toEqualTypeOf<SessionState>();
  expectTypeOf<SessionView['nextRetryAt']>().toEqualTypeOf<string | null>();
  expectTypeOf<SessionView['lastDisconnect']>().toEqualTypeOf<{ statusCode: number | null; message: string | null; at: string | null } | null>();
  expectTypeOf<SessionView['error']>().toEqualTypeOf<SessionFault | undefined>();
  expectTypeOf<SessionFault['code']>().toEqualTypeOf<'corrupt_meta' | 'corrupt_credentials'>();
  expectTypeOf<keyof SessionView>().toEqualTypeOf<keyof typeof sessionViewSchema.properties>();
});

it('a stored session nobody runs has every required field, and nothing the schema does not name', () => {
  const view = toSessionView(
    {
      key: { userId: 'ann', sessionId: 'main' },
      meta: { userId: 'ann', sessionId: 'main', createdAt: '2026-12-07T10:00:00.000Z', shouldRun: false, terminatedReason: 'stopped' },
      metaKnown: true,
      facts: new SessionFacts({ reconnectAttempts: 0, closesByStatusCode: new Map() }),
      owner: null,
      ownedElsewhere: false,
      fault: { code: 'corrupt_credentials', message: 'creds.json: not JSON' },
    },
    null,
  );
  expect(Object.keys(view).sort()).toEqual([...sessionViewSchema.required, 'error'].sort());
  expect(view.state).toBe('terminated');
  expect(view.terminatedReason).toBe('corrupt_credentials');
});
