/**
 * Whether a webhook URL points at this service itself. Such a subscription
 * loops: every event it is sent can cause new events (a POST to
 * /sessions/…/restart restarts a session on each of its own status events).
 *
 * A URL is this service when
 * - its host and port are an origin the service is reached by (ADVERTISE_URL), or
 * - its port is one the service listens on and its host is this machine: a
 *   loopback address (127.0.0.0/8, ::1), the unspecified address (0.0.0.0, ::),
 *   an address of one of its network interfaces, `localhost` (and `*.localhost`),
 *   its host name, or a name that resolves to any of these.
 *
 * The check runs when a subscription is created; a DNS name that starts
 * resolving here later is not caught (the operator's own DNS, not a receiver's
 * doing). WEBHOOK_ALLOW_SELF=true turns it off (a receiver on the same host
 * and port behind a path router, say).
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import { effectivePort } from './webhook-url.js';

export interface SelfAddresses {
  /** Ports the service listens on. */
  ports: readonly number[];
  /** Origins the service is reached by (ADVERTISE_URL), as URLs. */
  origins: readonly string[];
}

/** A host name's addresses; [] when it does not resolve. */
export type Resolver = (host: string) => Promise<string[]>;

/** A name that does not answer within this is taken as not this machine. */
const resolveTimeoutMs = 2_000;

export const systemResolver: Resolver = async (host) => {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string[]>((resolve) => (timer = setTimeout(() => resolve([]), resolveTimeoutMs)));
  const answer = lookup(host, { all: true }).then(
    (found) => found.map((entry) => entry.address),
    () => [] as string[],
  );
  try {
    return await Promise.race([answer, timeout]);
  } finally {
    clearTimeout(timer);
  }
};

/** The host as an address or a lower-case name, without IPv6 brackets or a trailing dot. */
function bareHost(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();
}

/** An address of this machine (loopback, unspecified, or one of its interfaces'). */
export function isLocalAddress(address: string): boolean {
  const plain = unmapped(address.toLowerCase());
  if (isIP(plain) === 4 && (plain.startsWith('127.') || plain === '0.0.0.0')) return true;
  if (plain === '::1' || plain === '::' || plain === '0:0:0:0:0:0:0:1' || plain === '0:0:0:0:0:0:0:0') return true;
  for (const entries of Object.values(networkInterfaces())) {
    for (const entry of entries ?? []) if (entry.address.toLowerCase().split('%')[0] === plain) return true;
  }
  return false;
}

/** An IPv4-mapped IPv6 address (`::ffff:127.0.0.1`, or `::ffff:7f00:1` as URLs write it) as plain IPv4. */
function unmapped(address: string): string {
  const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (dotted) return dotted[1]!;
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(address);
  if (!hex) return address;
  const [high, low] = [parseInt(hex[1]!, 16), parseInt(hex[2]!, 16)];
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
}

function isLocalName(host: string): boolean {
  return host === 'localhost' || host.endsWith('.localhost') || host === hostname().toLowerCase();
}

function matchesOrigin(url: URL, origins: readonly string[]): boolean {
  return origins.some((origin) => {
    try {
      const self = new URL(origin);
      return bareHost(self) === bareHost(url) && effectivePort(self) === effectivePort(url);
    } catch {
      return false;
    }
  });
}

/** Decided without DNS: an advertised origin, a local address or a local name on a listening port. */
export function pointsAtSelfLiterally(url: URL, self: SelfAddresses): boolean {
  if (matchesOrigin(url, self.origins)) return true;
  if (!self.ports.includes(effectivePort(url))) return false;
  const host = bareHost(url);
  return isIP(host) ? isLocalAddress(host) : isLocalName(host);
}

/** pointsAtSelfLiterally, or a name on a listening port that resolves to this machine. */
export async function pointsAtSelf(url: URL, self: SelfAddresses, resolve: Resolver = systemResolver): Promise<boolean> {
  if (pointsAtSelfLiterally(url, self)) return true;
  const host = bareHost(url);
  if (isIP(host) || !self.ports.includes(effectivePort(url))) return false;
  return (await resolve(host)).some(isLocalAddress);
}
