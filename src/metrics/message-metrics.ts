/**
 * Message metrics, added to the service's registry:
 *
 *   wa_vigil_messages_sent_total{result}      counter: outgoing messages the server acknowledged (sent) or that failed
 *   wa_vigil_messages_received_total          counter: contacts' messages that became message.received events
 *   wa_vigil_message_ack_seconds              histogram: accepted by the API → acknowledged by WhatsApp's server
 *   wa_vigil_messages_queued                  gauge: messages waiting in this process's sessions' queues
 */
import type { EventEmitter } from 'node:events';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** An ack within a second is the healthy case; minutes mean the session was not open. */
const ackBuckets = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800];

export interface MessageSource extends EventEmitter {
  queueDepth(): number;
}

/** Registers the metrics; returns the way to stop listening. */
export function registerMessageMetrics(registry: Registry, source: MessageSource): () => void {
  const registers = [registry];
  const sent = new Counter({ name: 'wa_vigil_messages_sent_total', help: 'Outgoing messages acknowledged by the server (sent) or failed.', labelNames: ['result'], registers });
  const received = new Counter({ name: 'wa_vigil_messages_received_total', help: 'Contacts’ messages that became message.received events.', registers });
  const ack = new Histogram({ name: 'wa_vigil_message_ack_seconds', help: 'Accepted by the API to acknowledged by WhatsApp’s server.', buckets: ackBuckets, registers });
  new Gauge({
    name: 'wa_vigil_messages_queued',
    help: 'Messages waiting in the queues of the sessions this process runs.',
    registers,
    collect() {
      this.set(source.queueDepth());
    },
  });
  const onSent = (result: 'sent' | 'failed', acceptToAckMs: number | null) => {
    sent.inc({ result });
    if (acceptToAckMs !== null) ack.observe(acceptToAckMs / 1000);
  };
  const onReceived = () => received.inc();
  source.on('sent', onSent);
  source.on('received', onReceived);
  return () => {
    source.off('sent', onSent);
    source.off('received', onReceived);
  };
}
