// Event streams over fetch (EventSource cannot send the API key header), and
// the fleet connection that greys the page out and reconnects with backoff.

/** Waits between reconnects, in ms; the last repeats. Jitter up to +20 %. */
export const reconnectDelaysMs = [500, 1000, 2000, 4000, 8000, 10000];
/**
 * The server sends `: keep-alive` every 2 s (src/http/event-stream.ts): after this
 * much silence the page says its data is stale (two beats missed is no accident)…
 */
export const staleAfterMs = 5000;
/** …and after this much it drops the stream and connects again. */
export const silenceLimitMs = 10000;

export class HttpError extends Error {
  constructor(status, path) {
    super(`${path}: HTTP ${status}`);
    this.status = status;
  }
}

/**
 * Reads `path` as text/event-stream, calling onEvent(type, data) per event and
 * onHeard() per chunk (a keep-alive comment too: it proves the link, not news).
 * Resolves when the server ends the stream; rejects on HTTP errors, network
 * errors, abort, or silence longer than silenceLimitMs.
 */
export async function readStream(path, apiKey, signal, onEvent, onHeard = () => {}) {
  // The watchdog runs from the request on: a server that never even answers the
  // headers is as silent as one that stops mid-stream.
  const inner = new AbortController();
  const onAbort = () => inner.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  let watchdog = null;
  const arm = () => {
    clearTimeout(watchdog);
    watchdog = setTimeout(() => inner.abort(new Error('silent')), silenceLimitMs);
  };
  arm();
  try {
    const res = await fetch(path, { headers: { 'x-api-key': apiKey }, signal: inner.signal, cache: 'no-store' });
    if (!res.ok) throw new HttpError(res.status, path);
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      arm();
      onHeard();
      buffer += decoder.decode(value, { stream: true });
      const blocks = buffer.split('\n\n');
      buffer = blocks.pop();
      for (const block of blocks) {
        const type = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (type && data) onEvent(type, JSON.parse(data));
      }
    }
  } finally {
    clearTimeout(watchdog);
    signal.removeEventListener('abort', onAbort);
  }
}

/**
 * Keeps one stream open: on loss it calls onOffline(retryAt), waits (with
 * backoff) until that Date.now() and opens it again; the first event of each
 * new stream calls onOnline(). A 401 stops it and calls onUnauthorized().
 * heardAt is when the last byte arrived (null before the first): how old the
 * page's picture is.
 */
export class LiveStream {
  constructor({ path, apiKey, onEvent, onOnline, onOffline, onUnauthorized }) {
    this.path = path;
    this.apiKey = apiKey;
    this.onEvent = onEvent;
    this.onOnline = onOnline;
    this.onOffline = onOffline;
    this.onUnauthorized = onUnauthorized;
    this.failures = 0;
    this.stopped = false;
    this.controller = null;
    this.retryTimer = null;
    this.retryAt = null;
    this.heardAt = null;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.controller?.abort();
  }

  /** Reconnect now (a person pressed "retry"). */
  retryNow() {
    clearTimeout(this.retryTimer);
    this.retryAt = null;
    this.controller?.abort();
    this.connect();
  }

  connect() {
    this.retryAt = null;
    const controller = new AbortController();
    this.controller = controller;
    let first = true;
    readStream(this.path, this.apiKey, controller.signal, (type, data) => {
      if (first) {
        first = false;
        this.failures = 0;
        this.onOnline();
      }
      this.onEvent(type, data);
    }, () => (this.heardAt = Date.now())).then(
      () => this.lost(controller, null),
      (error) => this.lost(controller, error),
    );
  }

  lost(controller, error) {
    if (this.stopped || controller !== this.controller) return;
    if (error?.status === 401) {
      this.stopped = true;
      this.onUnauthorized();
      return;
    }
    const base = reconnectDelaysMs[Math.min(this.failures, reconnectDelaysMs.length - 1)];
    const delay = Math.round(base * (1 + Math.random() * 0.2));
    this.failures += 1;
    this.retryAt = Date.now() + delay;
    this.onOffline(this.retryAt);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }
}
