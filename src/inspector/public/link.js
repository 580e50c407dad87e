// Linking a device from the console: a QR dialog that follows its session.
//
// WhatsApp replaces a pending QR every ~20 s (60 s for the first); a picture
// fetched once is soon a code nobody can scan, and after a scan it is worse
// than nothing. So the dialog keeps its own feed of the session open
// (/inspector/sessions/:u/:s/feed, the one the page follows) and fetches the
// image again whenever the feed says a new QR was issued: an `entry` whose
// event is CONNECTION.QR (a rotation changes no field of the `view`, so only
// the log entry tells), a `view` that enters awaitingQr, and each (re)connect
// of the feed (a QR may have rotated while it was down). The QR text never
// travels on a feed: only its PNG, from GET /sessions/:u/:s/qr, and only
// while the dialog is open.

import { readStream } from './feed.js';

/** After "linked" the dialog stays this long, so the operator reads it, then closes by itself. */
export const linkedCloseMs = 2500;
/** A feed that ended or failed while the dialog is open is opened again after this long. */
const refollowMs = 1000;
const awaitingQr = 'connecting.awaitingQr';
/** The session's QR event, as the machine names it (the feed's `entry.event`). */
const qrEvent = 'CONNECTION.QR';

const time = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });

function sameBytes(a, b) {
  return Boolean(b) && a.length === b.length && a.every((byte, i) => byte === b[i]);
}

export function sessionPath(key) {
  const [userId, sessionId] = key.split('/');
  return `/sessions/${encodeURIComponent(userId)}/${encodeURIComponent(sessionId)}`;
}

function feedPath(key) {
  const [userId, sessionId] = key.split('/');
  return `/inspector/sessions/${encodeURIComponent(userId)}/${encodeURIComponent(sessionId)}/feed`;
}

/** WhatsApp's "restart required": how a connection ends right after its QR was scanned (pair-success). */
const restartRequired = 515;

/** What the dialog says while no QR is pending: by the session's state, whether its code was just scanned, whether one was shown. */
function noQrText(v, { scanned, shown }) {
  if (v.state === 'terminated') return `No QR: the session has ended (${v.terminatedReason ?? 'unknown'}). Start it again for a new QR.`;
  if (v.state === 'backingOff') return `No QR pending: the session is backing off (attempt ${v.attempt}). A new QR appears here when it reconnects.`;
  if (scanned) return 'Scanned: WhatsApp is linking the device…';
  if (shown === 0) return 'connecting… its QR appears here as soon as WhatsApp issues it.';
  return 'No QR pending: the session is connecting. A new QR appears here if one is needed.';
}

/**
 * phase (also `data-phase` on the dialog, for people reading the DOM and for tests):
 *   waiting   no QR pending (yet); the text says why
 *   showing   the image is the session's QR as of the last word from the feed
 *   linked    the session opened: no image, a clear message, closes after linkedCloseMs
 *   removed   the session was deleted
 * `data-feed` is `live` or `lost`: without a live feed, the code shown may have been replaced.
 */
export class QrDialog {
  /**
   * api(path, init) → Response (throws {status, message} on errors, like app.js's);
   * apiKey() → the key for the feed; onLinked(key, view); onUnauthorized(); onPairing(key).
   */
  constructor({ dialog, image, text, pairingButton, startButton, api, apiKey, onLinked, onUnauthorized, onPairing }) {
    this.dialog = dialog;
    this.image = image;
    this.text = text;
    this.pairingButton = pairingButton;
    this.startButton = startButton;
    this.api = api;
    this.apiKey = apiKey;
    this.onLinked = onLinked;
    this.onUnauthorized = onUnauthorized;
    this.onPairing = onPairing;
    this.key = null;
    this.view = null;
    this.abort = null;
    this.closeTimer = null;
    this.fetching = false;
    this.again = false;
    /** Bumped whenever a pending QR stops being pending: a fetch begun before then may bring back a dead code. */
    this.epoch = 0;
    this.shown = 0;
    this.scanned = false;
    /** The PNG on screen, to tell a new QR from the same one fetched again. */
    this.bytes = null;
    // Closed by the operator (Close, Escape) or by us: either way nothing is followed any more.
    dialog.addEventListener('close', () => this.stop());
    // An expired QR ended the session: start it from here, and the dialog shows the next QR as it comes.
    startButton.addEventListener('click', () => this.start());
    pairingButton.addEventListener('click', () => {
      const key = this.key;
      this.dialog.close();
      if (key) this.onPairing(key);
    });
  }

  get phase() {
    return this.dialog.dataset.phase;
  }

  /** Shows the dialog for `key` and follows it until it is closed or the session opens. */
  open(key) {
    this.stop();
    this.key = key;
    this.view = null;
    this.shown = 0;
    this.scanned = false;
    this.epoch += 1;
    this.dialog.dataset.key = key;
    this.setPhase('waiting', `${key}: waiting for the session's QR…`);
    this.dialog.dataset.feed = 'lost';
    if (!this.dialog.open) this.dialog.showModal();
    const controller = new AbortController();
    this.abort = controller;
    this.follow(key, controller.signal);
    this.refresh();
  }

  stop() {
    this.abort?.abort();
    this.abort = null;
    clearTimeout(this.closeTimer);
    this.closeTimer = null;
    this.dropImage();
  }

  close() {
    this.stop();
    if (this.dialog.open) this.dialog.close();
  }

  setPhase(phase, message) {
    this.dialog.dataset.phase = phase;
    this.text.textContent = message;
    // A pairing code is another way to link an unlinked session: offered while that is what it needs.
    const ended = this.view?.state === 'terminated';
    this.pairingButton.hidden = phase === 'linked' || phase === 'removed' || ended;
    this.startButton.hidden = phase !== 'waiting' || !ended;
  }

  async start() {
    const key = this.key;
    this.startButton.disabled = true;
    try {
      await this.api(`${sessionPath(key)}/start`, { method: 'POST' });
      if (this.key === key && this.phase === 'waiting') this.text.textContent = `${key}: started; waiting for its QR…`;
    } catch (error) {
      if (error?.status === 401) {
        this.close();
        return this.onUnauthorized();
      }
      if (this.key === key) this.text.textContent = `${key}: ${String(error?.message ?? error)}`;
    } finally {
      this.startButton.disabled = false;
    }
  }

  dropImage() {
    this.bytes = null;
    if (this.image.src.startsWith('blob:')) URL.revokeObjectURL(this.image.src);
    this.image.removeAttribute('src');
    this.image.hidden = true;
  }

  async follow(key, signal) {
    while (!signal.aborted) {
      try {
        await readStream(feedPath(key), this.apiKey(), signal, (type, data) => this.onFeed(type, data));
      } catch (error) {
        if (signal.aborted) return;
        if (error?.status === 401) {
          this.close();
          return this.onUnauthorized();
        }
        if (error?.status === 404) {
          this.stop();
          return this.setPhase('removed', `${key}: this session was removed.`);
        }
      }
      if (signal.aborted) return;
      // The code on screen may be replaced while nobody tells us: say so until the feed is back.
      this.dialog.dataset.feed = 'lost';
      if (this.phase === 'showing') this.text.textContent = `${key}: no word from the service — this QR may have been replaced; it is fetched again when the service answers.`;
      await new Promise((resolve) => setTimeout(resolve, refollowMs));
    }
  }

  onFeed(type, data) {
    if (type === 'view') return this.onView(data);
    if (type === 'history') {
      // The feed is (back) up: whatever was issued while it was down is fetched now.
      this.dialog.dataset.feed = 'live';
      return this.refresh();
    }
    if (type === 'entry' && data.event === qrEvent) this.refresh();
  }

  onView(v) {
    const before = this.view;
    this.view = v;
    if (this.phase === 'linked') return;
    if (v.state === 'open' || v.state === 'degraded') return this.linked(v);
    if (v.status === awaitingQr) {
      if (before?.status !== awaitingQr) this.refresh();
      return;
    }
    // No QR is pending: the picture is a dead code (scanned, expired or replaced) and
    // must not stay on screen to be scanned again; a fetch already on its way is void.
    this.epoch += 1;
    this.dropImage();
    // Left awaitingQr with a restart request: the code was scanned (until a QR is shown again).
    if (before?.status === awaitingQr && v.lastDisconnect?.statusCode === restartRequired) this.scanned = true;
    this.setPhase('waiting', `${this.key}: ${noQrText(v, this)}`);
  }

  linked(v) {
    this.epoch += 1;
    const key = this.key;
    this.abort?.abort();
    this.abort = null;
    this.dropImage();
    this.setPhase('linked', `✓ Linked: ${key} is open${v.me?.id ? ` as ${v.me.id}` : ''}. This dialog closes by itself.`);
    this.onLinked(key, v);
    this.closeTimer = setTimeout(() => this.close(), linkedCloseMs);
  }

  /** Fetches the QR now; calls that arrive during a fetch make one more after it, so the last word always wins. */
  async refresh() {
    if (this.fetching) {
      this.again = true;
      return;
    }
    this.fetching = true;
    try {
      do {
        this.again = false;
        await this.fetchOnce();
      } while (this.again && this.abort);
    } finally {
      this.fetching = false;
    }
  }

  async fetchOnce() {
    const key = this.key;
    const epoch = this.epoch;
    const current = () => this.key === key && this.epoch === epoch && this.abort && this.phase !== 'linked';
    try {
      const res = await this.api(`${sessionPath(key)}/qr`, { cache: 'no-store' });
      const bytes = new Uint8Array(await res.arrayBuffer());
      if (!current()) return;
      // The same code again (several notices of one QR, a feed reconnect): nothing to swap or count.
      if (this.image.hidden || !sameBytes(bytes, this.bytes)) {
        const url = URL.createObjectURL(new Blob([bytes], { type: 'image/png' }));
        const old = this.image.src;
        this.image.src = url;
        // Swapped once the new picture is decoded, so the dialog never flashes empty between codes.
        await this.image.decode().catch(() => {});
        if (old.startsWith('blob:')) URL.revokeObjectURL(old);
        if (!current()) return this.dropImage();
        this.bytes = bytes;
        this.image.hidden = false;
        this.shown += 1;
        this.scanned = false;
        this.since = new Date();
        this.dialog.dataset.qrCount = String(this.shown);
      }
      const which = this.shown > 1 ? ` QR ${this.shown}, on screen since ${time.format(this.since)}.` : '';
      this.setPhase('showing', `${key}: scan with WhatsApp → Linked devices → Link a device. A new QR from WhatsApp replaces this one here by itself.${which}`);
    } catch (error) {
      if (error?.status === 401) {
        this.close();
        return this.onUnauthorized();
      }
      if (!current()) return;
      this.dropImage();
      // 404: none pending (not yet, or no longer): the view says which.
      if (error?.status === 404) this.setPhase('waiting', `${key}: ${this.view && this.view.status !== awaitingQr ? noQrText(this.view, this) : "waiting for the session's QR…"}`);
      else this.setPhase('waiting', `${key}: ${String(error?.message ?? error)}`);
    }
  }
}
