// Event streams over fetch (EventSource cannot send the API key header), and
// the fleet connection that greys the page out and reconnects with backoff.

/** Waits between reconnects, in ms; the last repeats. Jitter up to +20 %. */
export const reconnectDelaysMs = [500, 1000, 2000, 4000, 8000, 10000];
/** The server sends a heartbeat every 15 s: this much silence means the link is gone. */
export const silenceLimitMs = 40000;

export class HttpError extends Error {
  constructor(status, path) {
    super(`${path}: HTTP ${status}`);
    this.status = status;
  }
}

/**
 * Reads `path` as text/event-stream, calling onEvent(type, data) per event.
 * Resolves when the server ends the stream; rejects on HTTP errors, network
 * errors, abort, or silence longer than silenceLimitMs.
 */
export async function readStream(path, apiKey, signal, onEvent) {
  const res = await fetch(path, { headers: { 'x-api-key': apiKey }, signal, cache: 'no-store' });
  if (!res.ok) throw new HttpError(res.status, path);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let watchdog = null;
  const arm = () => {
    clearTimeout(watchdog);
    watchdog = setTimeout(() => reader.cancel(new Error('silent')).catch(() => {}), silenceLimitMs);
  };
  arm();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      arm();
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
  }
}

/**
 * Keeps one stream open: on loss it calls onOffline(retryInMs), waits (with
 * backoff) and opens it again; the first event of each new stream calls
 * onOnline(). A 401 stops it and calls onUnauthorized().
 */
export class LiveStream {
  constructor({ path, apiKey, onEvent, onOnline, onOffline, onUnauthorized }) {
    Object.assign(this, { path, apiKey, onEvent, onOnline, onOffline, onUnauthorized });
    this.failures = 0;
    this.stopped = false;
    this.controller = null;
    this.retryTimer = null;
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
    this.controller?.abort();
    this.connect();
  }

  connect() {
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
    }).then(
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
    this.onOffline(delay);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }
}
