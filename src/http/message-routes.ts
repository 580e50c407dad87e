/**
 * The message routes: send (202 queued, 200 for an id already accepted), read a
 * message's status, list a session's messages, and ask WhatsApp which numbers
 * are on it. A message is never answered 2xx before it is stored.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Messaging } from '../messages/messaging.js';
import { RecipientError } from '../messages/recipient.js';
import { messageStatuses, type MessageStatus, type OutgoingMessage } from '../store/message-queue.js';
import { nullable } from '../schema/static.js';
import { errors, sessionErrors } from './route-docs.js';
import { sessionParamsSchema as sessionParams, type SessionParams } from './session-params.js';

/** One message's text: WhatsApp's own limit is 65,536 characters. */
export const maxTextLength = 65_536;
/** Numbers per contacts check: one usync query. */
export const maxNumbersPerCheck = 50;

const messageIdSchema = { type: 'string', pattern: '^[0-9A-F]{16,32}$' } as const;

const messageSchema = {
  type: 'object',
  description: 'An outgoing message: its status, never its text.',
  additionalProperties: true,
  properties: {
    id: { type: 'string', description: 'The WhatsApp message id: what the contact’s phone sees, and the idempotency key', example: '3EB0A1B2C3D4E5F60718' },
    to: { type: 'string', description: 'The recipient’s JID', example: '15551234567@s.whatsapp.net' },
    status: {
      type: 'string',
      enum: messageStatuses,
      description: 'queued: accepted, not yet acknowledged by WhatsApp’s server; sent: the server acknowledged it; delivered/read: the phone’s receipts; failed: see error',
    },
    error: { type: 'string', description: 'With failed: expired, not_on_whatsapp, no_lid, server_error_<code>' },
    createdAt: { type: 'string', format: 'date-time' },
    sentAt: { type: 'string', format: 'date-time' },
    deliveredAt: { type: 'string', format: 'date-time' },
    readAt: { type: 'string', format: 'date-time' },
    attempts: { type: 'integer', description: 'Times it was written to a socket (a resend keeps the id: the phone shows it once)' },
  },
} as const;

/** What the API shows of a message: its status, never its content. */
export function messageView(message: OutgoingMessage) {
  return {
    id: message.id,
    to: message.to,
    status: message.status,
    ...(message.error ? { error: message.error } : {}),
    createdAt: message.createdAt,
    ...(message.sentAt ? { sentAt: message.sentAt } : {}),
    ...(message.deliveredAt ? { deliveredAt: message.deliveredAt } : {}),
    ...(message.readAt ? { readAt: message.readAt } : {}),
    attempts: message.attempts,
  };
}

function badRecipient(reply: FastifyReply, field: string, error: unknown): FastifyReply | never {
  if (error instanceof RecipientError) return reply.code(400).send({ error: 'invalid_request', message: `${field}: ${error.message}` });
  throw error;
}

export function messageRoutes(app: FastifyInstance, messaging: Messaging): void {
  app.post<{ Params: SessionParams; Body: { to: string; text: string; id?: string } }>(
    '/sessions/:userId/:sessionId/messages',
    {
      schema: {
        summary: 'Send a text: 202 once it is stored in the session’s queue (200 with the existing message for an id sent before)',
        tags: ['messages'],
        params: sessionParams,
        body: {
          type: 'object',
          required: ['to', 'text'],
          additionalProperties: false,
          properties: {
            to: { type: 'string', minLength: 1, maxLength: 64 },
            text: { type: 'string', minLength: 1, maxLength: maxTextLength },
            id: messageIdSchema,
          },
        },
        response: { 202: messageSchema, 200: messageSchema, ...sessionErrors, ...errors(409, 413, 415, 429) },
      },
    },
    async (request, reply) => {
      try {
        const { created, message } = await messaging.send(request.params, request.body);
        return reply.code(created ? 202 : 200).send(messageView(message));
      } catch (error) {
        return badRecipient(reply, 'body.to', error);
      }
    },
  );

  app.get<{ Params: SessionParams; Querystring: { status?: MessageStatus } }>(
    '/sessions/:userId/:sessionId/messages',
    {
      schema: {
        summary: 'The session’s outgoing messages, oldest first; ?status=queued is its queue',
        tags: ['messages'],
        params: sessionParams,
        querystring: { type: 'object', additionalProperties: false, properties: { status: { type: 'string', enum: [...messageStatuses] } } },
        response: { 200: { type: 'array', items: messageSchema }, ...sessionErrors },
      },
    },
    async (request) => (await messaging.list(request.params, request.query.status)).map(messageView),
  );

  app.get<{ Params: SessionParams & { id: string } }>(
    '/sessions/:userId/:sessionId/messages/:id',
    {
      schema: {
        summary: 'One outgoing message’s status',
        tags: ['messages'],
        params: { ...sessionParams, required: [...sessionParams.required, 'id'], properties: { ...sessionParams.properties, id: messageIdSchema } },
        response: { 200: messageSchema, ...sessionErrors },
      },
    },
    async (request) => messageView(await messaging.get(request.params, request.params.id)),
  );

  app.post<{ Params: SessionParams; Body: { numbers: string[] } }>(
    '/sessions/:userId/:sessionId/contacts/check',
    {
      schema: {
        summary: 'Which numbers are on WhatsApp, with their JID and LID (the session must be open)',
        tags: ['messages'],
        params: sessionParams,
        body: {
          type: 'object',
          required: ['numbers'],
          additionalProperties: false,
          properties: { numbers: { type: 'array', minItems: 1, maxItems: maxNumbersPerCheck, items: { type: 'string', pattern: '^\\+?[0-9]{6,15}$' } } },
        },
        response: {
          200: {
            type: 'array',
            items: {
              type: 'object',
              properties: { number: { type: 'string' }, onWhatsApp: { type: 'boolean' }, jid: nullable({ type: 'string' }), lid: nullable({ type: 'string' }) },
            },
          },
          ...sessionErrors,
          ...errors(409, 413, 415),
        },
      },
    },
    async (request, reply) => {
      try {
        return await messaging.checkContacts(request.params, request.body.numbers);
      } catch (error) {
        return badRecipient(reply, 'body.numbers', error);
      }
    },
  );
}
