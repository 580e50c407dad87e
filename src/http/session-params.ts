/**
 * The JSON schema of a session's ids in a route, shared by every route that
 * takes them (the /sessions API and the inspector feed): a bad id is a 400
 * naming the field before any handler runs, and never reaches the disk.
 */
import { idPattern } from '../store/session-key.js';

export const idSchema = { type: 'string', pattern: idPattern.source, minLength: 1, maxLength: 64 } as const;

export const sessionParamsSchema = {
  type: 'object',
  required: ['userId', 'sessionId'],
  properties: { userId: idSchema, sessionId: idSchema },
} as const;

export interface SessionParams {
  userId: string;
  sessionId: string;
}
