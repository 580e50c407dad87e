/** Reads a server-sent event stream (GET /events) and hands each event's JSON data on. */
export interface StreamReader {
  /** Stops reading. */
  cancel(): Promise<void>;
}

export async function readEventStream(url: string, onData: (data: unknown) => void): Promise<StreamReader> {
  const response = await fetch(url);
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  void (async () => {
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const data = buffer
          .slice(0, end)
          .split('\n')
          .find((line) => line.startsWith('data:'));
        buffer = buffer.slice(end + 2);
        if (data) onData(JSON.parse(data.slice(5)));
      }
    }
  })();
  return { cancel: () => reader.cancel().catch(() => undefined) };
}
