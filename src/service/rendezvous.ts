/**
 * Rendezvous (highest random weight) hashing: every node ranks the live nodes
 * for a session the same way, with no coordination, and a node that joins or
 * leaves moves only the sessions it wins or held — about 1/N of them.
 */
import { createHash } from 'node:crypto';
import { keyString, type SessionKey } from '../store/session-key.js';

function weight(holder: string, key: SessionKey): bigint {
  return createHash('sha256').update(holder).update('\0').update(keyString(key)).digest().readBigUInt64BE(0);
}

/** The holder that should own `key` among `holders` (null when there are none). */
export function preferredHolder(holders: readonly string[], key: SessionKey): string | null {
  let best: string | null = null;
  let bestWeight = -1n;
  for (const holder of holders) {
    const w = weight(holder, key);
    if (w > bestWeight || (w === bestWeight && best !== null && holder < best)) {
      best = holder;
      bestWeight = w;
    }
  }
  return best;
}
