/**
 * What the fleet tells the outside world: one event per fact, the same shape
 * on a webhook and on GET /events.
 *
 *   session.status      a session's top-level state changed, or it was disconnected
 *   session.qr          a new QR waits to be scanned (its text only for subscribers that asked)
 *   session.terminated  a session ended (payload.reason)
 *   session.restored    this process restored the session at boot
 *   session.owner       the session moved to another process (node)
 *   session.removed     the session was deleted
 *   message.received    a contact's message arrived (payload: id, chat, from, type, text…)
 *   message.status      an outgoing message's status changed (payload: id, to, status, error?)
 */
export const eventTypes = [
  'session.status',
  'session.qr',
  'session.terminated',
  'session.restored',
  'session.owner',
  'session.removed',
  'message.received',
  'message.status',
] as const;
export type EventType = (typeof eventTypes)[number];

export interface FleetEvent {
  /** Sortable, unique: receivers deduplicate by it (see event-id.ts). */
  id: string;
  type: EventType;
  userId: string;
  sessionId: string;
  /** The holder (process) that emitted it. */
  node: string;
  /** ISO 8601, UTC. */
  time: string;
  payload: Record<string, unknown>;
}

export function isEventType(value: string): value is EventType {
  return (eventTypes as readonly string[]).includes(value);
}

/**
 * The event as one subscriber may see it: a QR's text is a pairing secret,
 * kept only for those that asked for it (`includeQr`).
 */
export function visibleTo(event: FleetEvent, includeQr: boolean): FleetEvent {
  if (event.type !== 'session.qr' || includeQr || !('qr' in event.payload)) return event;
  const { qr: _qr, ...payload } = event.payload;
  return { ...event, payload };
}

/** An event filter: null means every type. */
export function wants(types: readonly EventType[] | null, event: FleetEvent): boolean {
  return types === null || types.includes(event.type);
}
