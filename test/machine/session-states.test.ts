import { expect, it } from 'vitest';
import { sessionMachine } from '../../machines/session.machine.js';
import { sessionStates } from '../../machines/session.states.js';

it('names every top-level state of the session machine, in order, and nothing else', () => {
  expect(Object.keys(sessionMachine.root.states)).toEqual([...sessionStates]);
});
