// Bulk actions: one operation on many sessions, paced, summarised once.
//
// The page asks the ordinary API once per session (POST /sessions/:u/:s/restart …):
// there is no bulk route, so what an operator can do to many is exactly what they
// can do to one, with the same checks and the same forwarding to the owning node.

/**
 * At most this many requests in flight: 2,000 sessions must not be 2,000 requests at
 * once (each would count its timeout from the start, and a service in an incident
 * would take them all at once). Four, because that is all the browser would run anyway:
 * Chromium opens six connections per host over HTTP/1.1 and the page's two live feeds
 * (the fleet, the selected session) hold two; more would only wait in its queue.
 * Measured: 199 restarts in about 6 s on a shared 2-core machine, never more than 4 at the service.
 */
export const bulkConcurrency = 4;

/** What each bulk action says: in the confirmation, while it runs, and once done. */
export const bulkActions = {
  stop: { verb: 'Stop', doing: 'Stopping', consequence: 'They stay stopped; their credentials are kept.' },
  restart: { verb: 'Restart', doing: 'Restarting', consequence: 'Each one’s socket is closed and a new one opened.' },
};

/** "1 session", "37 sessions". */
export const sessionCount = (n) => `${n} session${n === 1 ? '' : 's'}`;

/**
 * Runs act(key) for every key, at most `concurrency` at once, in the order given.
 * onProgress({done, failed}) after each answer. A failure is counted and the run goes
 * on; an error with `stop: true` (a 401: the key was refused) ends it, and the keys
 * never tried are returned as `skipped`. An aborted `signal` (the operator's Cancel)
 * ends it the same way: no new request is sent, and the ones already sent are awaited —
 * the service may have acted on them, so the summary counts what really happened.
 * Resolves with {done, failed: [{key, error}], skipped, halted, cancelled}.
 */
export async function runPaced(keys, act, { concurrency = bulkConcurrency, onProgress = (_progress) => {}, signal = undefined } = {}) {
  let next = 0;
  let halted = null;
  const done = [];
  const failed = [];
  const worker = async () => {
    while (next < keys.length && !halted && !signal?.aborted) {
      const key = keys[next++];
      try {
        await act(key);
        done.push(key);
      } catch (error) {
        if (error?.stop) halted = error;
        failed.push({ key, error });
      }
      onProgress({ done: done.length, failed: failed.length });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, keys.length) }, worker));
  const skipped = keys.slice(next);
  return { done, failed, skipped, halted, cancelled: skipped.length > 0 && Boolean(signal?.aborted) };
}

/**
 * "Restart: 37 done", "Stop: 2 done, 1 failed (first: a/b: session a/b is terminated)",
 * "Restart: 4 done, 36 not tried (cancelled)".
 */
export function summary(action, { done, failed, skipped, cancelled = false }) {
  const parts = [`${done.length} done`];
  if (failed.length > 0) parts.push(`${failed.length} failed (first: ${failed[0].key}: ${failed[0].error?.message ?? failed[0].error})`);
  if (skipped.length > 0) parts.push(`${skipped.length} not tried${cancelled ? ' (cancelled)' : ''}`);
  return `${bulkActions[action].verb}: ${parts.join(', ')}`;
}
