/** A minimal SSE client over fetch: collects `{id, event, data}` until aborted. */
import { testApiKey } from '../../support/service-harness.js';

export interface SseMessage {
  id: string | null;
  event: string;
  data: Record<string, unknown>;
}

export interface SseClient {
  messages: SseMessage[];
  status: number;
  close(): void;
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  const aborts = new AbortController();
  const res = await fetch(url, { headers: { authorization: `Bearer ${testApiKey}`, ...headers }, signal: aborts.signal });
  const messages: SseMessage[] = [];
  if (res.body) {
    void (async () => {
      const decoder = new TextDecoder();
      let buffer = '';
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const fields = new Map<string, string>();
            for (const line of block.split('\n')) {
              if (line.startsWith(':')) continue;
              const colon = line.indexOf(': ');
              fields.set(line.slice(0, colon), line.slice(colon + 2));
            }
            if (fields.has('data')) messages.push({ id: fields.get('id') ?? null, event: fields.get('event') ?? 'message', data: JSON.parse(fields.get('data')!) as Record<string, unknown> });
          }
        }
      } catch {
        // aborted
      }
    })();
  }
  return { messages, status: res.status, close: () => aborts.abort() };
}
