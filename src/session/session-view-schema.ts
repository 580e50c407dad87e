/**
 * A session as the API, the SSE streams, the events and the console show it:
 * one JSON schema, from which both the `SessionView` type and the API's
 * documentation and serialisation come.
 */
import { sessionStates } from '../../machines/session.states.js';
import { nullable, type Static } from '../schema/static.js';

const dateTime = { type: 'string', format: 'date-time' } as const;

export const sessionFaultSchema = {
  type: 'object',
  description: 'Only on a session whose stored state is damaged (it is not started): what is wrong. `code` is also its terminatedReason.',
  required: ['code', 'message'],
  properties: {
    code: { type: 'string', enum: ['corrupt_meta', 'corrupt_credentials'] },
    message: { type: 'string' },
  },
} as const;

export const sessionViewSchema = {
  type: 'object',
  description: 'A session as the service sees it.',
  // Fields added later still reach the client: a response schema must not silently drop them.
  additionalProperties: true,
  required: ['userId', 'sessionId', 'state', 'status', 'attempt', 'nextRetryAt', 'openSince', 'createdAt', 'reconnects', 'lastDisconnect', 'terminatedReason', 'me', 'owner'],
  properties: {
    userId: { type: 'string' },
    sessionId: { type: 'string' },
    state: { type: 'string', enum: sessionStates, description: 'The machine’s top-level state' },
    status: { type: 'string', description: 'The full state path, e.g. connecting.awaitingQr', example: 'open.stable' },
    attempt: { type: 'integer', description: 'Reconnection attempts since the last open' },
    nextRetryAt: nullable({ ...dateTime, description: 'While backing off: when the next attempt starts' }),
    openSince: nullable({ ...dateTime, description: 'While connected: since when' }),
    createdAt: dateTime,
    reconnects: { type: 'integer', description: 'Connections after the first, over the session’s life' },
    lastDisconnect: nullable({
      type: 'object',
      required: ['statusCode', 'message', 'at'],
      properties: {
        statusCode: nullable({ type: 'integer' }),
        message: nullable({ type: 'string' }),
        at: nullable(dateTime),
      },
    }),
    terminatedReason: nullable({ type: 'string' }),
    me: nullable({ type: 'object', required: ['id'], properties: { id: { type: 'string' } } }),
    owner: nullable({ type: 'string', description: 'The process (holder id) that owns the session, this one or another; null when nobody does' }),
    error: sessionFaultSchema,
  },
} as const;

export type SessionView = Static<typeof sessionViewSchema>;
export type SessionFault = Static<typeof sessionFaultSchema>;
