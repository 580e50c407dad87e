/** One delivery attempt: a signed POST of one event, judged by retry-policy.ts. */
import { signedHeaders } from './signature.js';
import { verdictFor, type Verdict } from './retry-policy.js';

export interface Attempt {
  verdict: Verdict;
  /** The HTTP status, null when no answer came. */
  status: number | null;
  /** Why it failed, for lastError and the log; never the body sent. */
  message: string;
}

export async function postEvent(url: string, secret: string, eventId: string, body: string, timeoutMs: number, signal: AbortSignal): Promise<Attempt> {
  const headers = { 'content-type': 'application/json', 'user-agent': 'wa-vigil-webhooks', ...signedHeaders(secret, eventId, body, Date.now()) };
  try {
    const response = await fetch(url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) });
    // Read and discard the answer so the connection can be reused.
    await response.arrayBuffer().catch(() => undefined);
    return { verdict: verdictFor(response.status, response.headers.get('retry-after'), Date.now()), status: response.status, message: `HTTP ${response.status}` };
  } catch (error) {
    const name = (error as Error).name;
    const message = name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : describe(error);
    return { verdict: { kind: 'retry', retryAfterMs: null }, status: null, message };
  }
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
}
