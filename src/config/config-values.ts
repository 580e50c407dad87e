/**
 * Readers for one environment variable each. Every reader returns the fallback
 * when the variable is unset or empty, and otherwise either a checked value or
 * a ConfigError whose message names the variable and says what it must be.
 */
import { accessSync, constants, statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';

export type Env = Readonly<Record<string, string | undefined>>;

export class ConfigError extends Error {
  readonly code = 'ERR_CONFIG';
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

/**
 * The longest delay a Node timer can hold (2^31 − 1 ms, about 24.8 days). A
 * longer one silently fires after 1 ms: a keep-alive of 2^32 ms would probe in
 * a tight loop.
 */
export const maxTimerMs = 2 ** 31 - 1;

function raw(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

export function integer(env: Env, name: string, fallback: number, min: number, max: number): number;
export function integer(env: Env, name: string, fallback: number | undefined, min: number, max: number): number | undefined;
export function integer(env: Env, name: string, fallback: number | undefined, min: number, max: number): number | undefined {
  const text = raw(env, name);
  if (text === undefined) return fallback;
  const value = Number(text.trim());
  if (!/^\d+$/.test(text.trim()) || value < min || value > max) throw new ConfigError(name, `must be a whole number from ${min} to ${max}, got "${text}"`);
  return value;
}

/** A duration for a timer: 1 ms to maxTimerMs. */
export function durationMs<T extends number | undefined>(env: Env, name: string, fallback: T): number | T {
  return integer(env, name, fallback, 1, maxTimerMs) as number | T;
}

/** A comma-separated list of timer durations. */
export function durationListMs(env: Env, name: string): number[] | undefined {
  const text = raw(env, name);
  if (text === undefined) return undefined;
  const parts = text.split(',').map((p) => p.trim());
  const values = parts.map(Number);
  if (parts.some((p) => !/^\d+$/.test(p)) || values.some((v) => v < 1 || v > maxTimerMs)) {
    throw new ConfigError(name, `must be a comma-separated list of milliseconds, each from 1 to ${maxTimerMs}, got "${text}"`);
  }
  return values;
}

/** A decimal fraction from 0 to 1. */
export function ratio(env: Env, name: string): number | undefined {
  const text = raw(env, name);
  if (text === undefined) return undefined;
  const value = Number(text.trim());
  if (!/^(\d+(\.\d*)?|\.\d+)$/.test(text.trim()) || value > 1) throw new ConfigError(name, `must be a number from 0 to 1, got "${text}"`);
  return value;
}

/** Strictly true|false|1|0: a "yes" that silently meant false is how a setting gets lost. */
export function boolean(env: Env, name: string, fallback: boolean): boolean {
  const text = raw(env, name);
  if (text === undefined) return fallback;
  if (text === 'true' || text === '1') return true;
  if (text === 'false' || text === '0') return false;
  throw new ConfigError(name, `must be true, false, 1 or 0, got "${text}"`);
}

export function oneOf<T extends string>(env: Env, name: string, choices: readonly T[], fallback: T): T {
  const text = raw(env, name);
  if (text === undefined) return fallback;
  if (!(choices as readonly string[]).includes(text)) throw new ConfigError(name, `must be one of ${choices.join(', ')}, got "${text}"`);
  return text as T;
}

/**
 * A URL that parses and has one of `protocols` (e.g. ['ws:', 'wss:']); `shown` is how
 * the message names them. `echo: false` keeps the value out of the message (a password).
 */
export function parsedUrl(env: Env, name: string, protocols: readonly string[], shown: string, echo = true): URL | undefined {
  const text = raw(env, name);
  if (text === undefined) return undefined;
  const refuse = (problem?: string | null) =>
    new ConfigError(name, problem ? `${problem}; expected a ${shown} URL${echo ? `, got "${text}"` : ''}` : `must be a ${shown} URL${echo ? `, got "${text}"` : ''}`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw refuse(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? authorityProblem(text) : null);
  }
  if (!protocols.includes(url.protocol)) throw refuse();
  if (url.hostname === '') throw refuse('has no host');
  return url;
}

/** A ws:// or wss:// URL that parses. */
export function webSocketUrl(env: Env, name: string): string | undefined {
  return parsedUrl(env, name, ['ws:', 'wss:'], 'ws:// or wss://') && raw(env, name);
}

/** Printable text of 1 to maxLength characters, without control characters. */
export function label(env: Env, name: string, fallback: string, maxLength: number): string {
  const text = raw(env, name);
  if (text === undefined) return fallback;
  if (text.trim() === '' || text.length > maxLength || /[\u0000-\u001f\u007f]/.test(text)) {
    throw new ConfigError(name, `must be 1 to ${maxLength} printable characters`);
  }
  return text;
}

/**
 * A folder the service can write: an existing writable directory, or a path
 * whose nearest existing parent is one (the folder is created on first use).
 * Caught here, a file in its place is one line at start instead of a 500 on
 * the first request.
 */
export function writableDirectory(env: Env, name: string, fallback: string): string {
  const path = raw(env, name) ?? fallback;
  let candidate = resolve(path);
  for (;;) {
    const stats = statOrNull(candidate);
    if (stats) {
      if (!stats.isDirectory()) {
        const what = candidate === resolve(path) ? 'is not a directory' : `cannot be created: ${candidate} is not a directory`;
        throw new ConfigError(name, `${path} ${what}`);
      }
      try {
        accessSync(candidate, constants.W_OK | constants.X_OK);
      } catch {
        throw new ConfigError(name, `${candidate} is not writable`);
      }
      return path;
    }
    const parent = dirname(candidate);
    if (parent === candidate) throw new ConfigError(name, `${path} cannot be created`);
    candidate = parent;
  }
}

/** A path's stats, or null when it does not exist (or a file stands where a folder on its path should be). */
function statOrNull(path: string): Stats | null {
  try {
    return statSync(path, { throwIfNoEntry: false }) ?? null;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
    throw error;
  }
}

const postgresShape = 'postgres://user:password@host:5432/database';
const encodingHint = 'or a password with @ / ? # : in it that is not percent-encoded';

/**
 * What is wrong with the host and port of a scheme://[user[:password]@]host[:port]… URL,
 * or null when nothing is. The port is never repeated: in `postgres://user:secret/db`
 * (the @ forgotten) the "port" is a password.
 */
function authorityProblem(text: string): string | null {
  const parts = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(text);
  if (!parts) return 'has no "//" after the scheme';
  const authority = parts[1]!;
  const [, host, port] = /^(\[[^\]]*\]|[^:]*)(?::(.*))?$/.exec(authority.slice(authority.lastIndexOf('@') + 1))!;
  if (host === '') return `has no host (${encodingHint})`;
  if (port !== undefined && port !== '' && !(/^\d{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65535)) {
    return `has a bad port after host "${host}": it must be a number from 1 to 65535 (${encodingHint})`;
  }
  return null;
}

/**
 * A PostgreSQL connection URL, checked part by part so the message says what is
 * wrong — not a postgres:// URL, no host, a bad port, no database name — without
 * ever repeating the value (it may hold a password).
 */
export function postgresUrl(env: Env, name: string): string | undefined {
  const text = raw(env, name);
  if (text === undefined) return undefined;
  const refuse = (problem: string) => new ConfigError(name, `${problem}; expected ${postgresShape} (the value is not shown: it may hold a password)`);
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(text)?.[1]?.toLowerCase();
  if (scheme !== 'postgres' && scheme !== 'postgresql') throw refuse(`must be a postgres:// URL${scheme ? `, not ${scheme}:` : ''}`);
  let url: URL | null = null;
  try {
    url = new URL(text);
  } catch {
    // Said more precisely below.
  }
  // A Unix socket folder may stand in for the host: postgres:///db?host=/var/run/postgresql
  const socketOnly = url !== null && url.hostname === '' && Boolean(url.searchParams.get('host'));
  const problem = socketOnly ? null : authorityProblem(text);
  if (problem) throw refuse(problem);
  if (!url) throw refuse(`does not parse as a URL (${encodingHint.replace(/^or /, '')})`);
  if (decodeURIComponent(url.pathname.replace(/^\//, '')) === '') throw refuse('has no database name: add /<database> after the host');
  return text;
}
