/**
 * The session machine's top-level states, named once: a session view's `state`,
 * the metrics' `state` label and the API's enum are typed by this list, and a
 * test holds it equal to the machine's own (test/machine/session-states.test.ts).
 */
export const sessionStates = ['connecting', 'open', 'degraded', 'backingOff', 'terminated'] as const;

export type SessionState = (typeof sessionStates)[number];
