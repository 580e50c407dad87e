/**
 * One delivery attempt: a signed POST of one event, judged by retry-policy.ts.
 *
 * Bounded in every dimension, whatever the receiver does:
 * - time: one deadline (`timeoutMs`) covers connecting, the answer's headers and
 *   its body; when it passes, the request is cut and the attempt has failed;
 * - memory: the answer's body is read and thrown away, never kept, and at most
 *   `maxResponseBytes` of it: past that, or at the deadline, the connection is
 *   closed. The verdict is the status alone, so a 2xx whose body never ends is
 *   still delivered. A receiver streaming forever costs one chunk of memory and
 *   at most `timeoutMs` of its own subscription's time, nothing more.
 */
import { signedHeaders } from './signature.js';
import { verdictFor, type Verdict } from './retry-policy.js';

/** Answer bytes read (to let the connection be reused) before it is closed instead. */
export const maxResponseBytes = 16 * 1024;

export interface Attempt {
  verdict: Verdict;
  /** The HTTP status, null when no answer came. */
  status: number | null;
  /** Why it failed, for lastError and the log; never the body sent. */
  message: string;
  /** Bytes of the answer's body read (and discarded). */
  responseBytes: number;
}

class DeadlineError extends Error {
  override name = 'DeadlineError';
}

export async function postEvent(url: string, secret: string, eventId: string, body: string, timeoutMs: number, signal: AbortSignal): Promise<Attempt> {
  const headers = { 'content-type': 'application/json', 'user-agent': 'wa-vigil-webhooks', ...signedHeaders(secret, eventId, body, Date.now()) };
  // One controller per attempt, cut by the deadline or by the worker's signal;
  // no AbortSignal.any on the long-lived worker signal, which would keep a reference per attempt.
  const cut = new AbortController();
  const timer = setTimeout(() => cut.abort(new DeadlineError()), timeoutMs);
  const onStop = () => cut.abort(signal.reason);
  if (signal.aborted) onStop();
  else signal.addEventListener('abort', onStop, { once: true });
  let responseBytes = 0;
  try {
    const response = await fetch(url, { method: 'POST', headers, body, redirect: 'manual', signal: cut.signal });
    responseBytes = await discardBody(response, cut.signal);
    return { verdict: verdictFor(response.status, response.headers.get('retry-after'), Date.now()), status: response.status, message: `HTTP ${response.status}`, responseBytes };
  } catch (error) {
    const message = cut.signal.reason instanceof DeadlineError ? `no complete answer within ${timeoutMs} ms` : describe(error);
    return { verdict: { kind: 'retry', retryAfterMs: null }, status: null, message, responseBytes };
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onStop);
  }
}

/**
 * Reads the body up to the cap, keeping nothing; returns the bytes read. Past
 * the cap, or when `cut` fires, the stream is cancelled (the connection closed).
 */
async function discardBody(response: Response, cut: AbortSignal): Promise<number> {
  const reader = response.body?.getReader();
  if (!reader) return 0;
  let bytes = 0;
  let aborted: () => void = () => {};
  // A read waiting on a silent receiver ends when the deadline does, whatever the stream does about the abort.
  const stopped = new Promise<never>((_resolve, reject) => {
    aborted = () => reject(cut.reason instanceof Error ? cut.reason : new DeadlineError());
    if (cut.aborted) aborted();
    else cut.addEventListener('abort', aborted, { once: true });
  });
  stopped.catch(() => undefined);
  try {
    while (bytes <= maxResponseBytes) {
      const chunk = await Promise.race([reader.read(), stopped]);
      if (chunk.done) return bytes;
      bytes += chunk.value.byteLength;
    }
    return bytes;
  } catch {
    // The status is in: a body cut by the deadline or broken off does not change what the receiver answered.
    return bytes;
  } finally {
    cut.removeEventListener('abort', aborted);
    // Not awaited: cancelling a stream that errored or ended may never settle, and nothing depends on it.
    reader.cancel().catch(() => undefined);
  }
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
}
