/**
 * What a webhook URL may be, and how one is shown.
 *
 * Accepted: http:// or https://, a host, a port a request can actually be sent
 * to, no credentials. Refused, each with the reason:
 * - `user:password@`: fetch refuses such a URL, so nothing could ever be
 *   delivered, and the password would sit in the subscription for anyone who
 *   lists it. Authenticate the receiver by the signature, or a token in the path.
 * - port 0, and the ports the Fetch standard blocks ("bad ports": 1, 7, 9, 25 …):
 *   fetch refuses them too, so such a subscription would fail forever.
 *
 * Shown (GET /webhooks, lastError, logs): `redactUrl` keeps the scheme, host,
 * port, path and the query's names, and replaces every query value with `***`
 * (a `?token=` is a secret as much as a password is) and any credentials.
 */

/** The Fetch standard's "bad ports": a fetch to any of them fails without a connection attempt. */
const blockedPorts = new Set([
  1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137,
  139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723,
  2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
]);

const mask = '***';

/** The URL, parsed, or what is wrong with it (a sentence that never repeats the URL). */
export function parseWebhookUrl(text: string): { url: URL } | { problem: string } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { problem: 'must be an http:// or https:// URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { problem: 'must be an http:// or https:// URL' };
  if (url.username !== '' || url.password !== '') {
    return { problem: 'must not carry credentials (user:password@): receivers authenticate deliveries by their signature' };
  }
  const port = effectivePort(url);
  if (port === 0 || blockedPorts.has(port)) return { problem: `port ${port} cannot receive webhooks (fetch refuses it)` };
  return { url };
}

/** Null when `text` is a URL a webhook can be delivered to; otherwise what is wrong with it. */
export function webhookUrlProblem(text: string): string | null {
  const parsed = parseWebhookUrl(text);
  return 'problem' in parsed ? parsed.problem : null;
}

/** The port a request to `url` goes to. */
export function effectivePort(url: URL): number {
  if (url.port !== '') return Number(url.port);
  return url.protocol === 'https:' ? 443 : 80;
}

/** The URL as it may be shown: credentials and query values masked, fragment dropped. */
export function redactUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'invalid URL';
  }
  if (url.username !== '') url.username = mask;
  if (url.password !== '') url.password = mask;
  url.hash = '';
  if (url.search === '') return url.href;
  const names = [...url.searchParams.keys()];
  url.search = '';
  // Built by hand: URLSearchParams would percent-encode the mask.
  return `${url.href}?${names.map((name) => `${encodeURIComponent(name)}=${mask}`).join('&')}`;
}

/** `message` with every appearance of the URL (or of its query or credentials) masked: error texts may quote it. */
export function redactMessage(message: string, text: string): string {
  let out = message.split(text).join(redactUrl(text));
  try {
    const url = new URL(text);
    const secrets = [url.password, url.username, ...url.searchParams.values(), url.search.slice(1)].filter((part) => part.length >= 3);
    for (const secret of secrets.sort((a, b) => b.length - a.length)) out = out.split(secret).join(mask);
  } catch {
    // Not a URL: nothing more to find.
  }
  return out;
}
