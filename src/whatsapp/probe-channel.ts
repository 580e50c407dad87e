/**
 * Answered keep-alive probes, published on a diagnostics channel: whoever
 * wants their round-trip times (the metrics) subscribes, and the connection
 * actor needs to know nothing about who listens. A channel with no
 * subscriber costs a boolean check.
 */
import { channel } from 'node:diagnostics_channel';

export interface ProbeRoundTrip {
  userId: string;
  sessionId: string;
  roundTripMs: number;
}

export const probeChannelName = 'wa-vigil:probe-round-trip';
const probes = channel(probeChannelName);

export function publishProbeRoundTrip(probe: ProbeRoundTrip): void {
  if (probes.hasSubscribers) probes.publish(probe);
}

/** Returns the way to stop listening. */
export function onProbeRoundTrip(listener: (probe: ProbeRoundTrip) => void): () => void {
  const handler = (message: unknown) => listener(message as ProbeRoundTrip);
  probes.subscribe(handler);
  return () => probes.unsubscribe(handler);
}
