/**
 * Why the service could not start, in one line an operator can act on: the
 * port in use, the address not on this machine, the sessions folder it cannot
 * read, the database that refused — instead of a stack trace. The line never
 * carries the database URL (it may hold a password): only its host and port.
 */
export interface StartTarget {
  host: string;
  port: number;
  sessionsDir: string;
  databaseUrl: string | null;
}

export interface StartFailure {
  /** The system or PostgreSQL error code when there is one (EADDRINUSE, ECONNREFUSED, 28P01…). */
  code: string | null;
  /** One line, no stack. */
  message: string;
}

interface SystemError {
  code?: unknown;
  syscall?: unknown;
  path?: unknown;
  message?: unknown;
  errors?: unknown;
}

export function describeStartFailure(error: unknown, target: StartTarget): StartFailure {
  const e = (typeof error === 'object' && error !== null ? error : {}) as SystemError;
  // A host name with several addresses fails with an AggregateError carrying each attempt.
  const first = Array.isArray(e.errors) && e.errors.length > 0 ? (e.errors[0] as SystemError) : e;
  const code = typeof e.code === 'string' ? e.code : typeof first.code === 'string' ? first.code : null;
  const message = oneLine(typeof e.message === 'string' && e.message ? e.message : typeof first.message === 'string' ? first.message : String(error));
  const where = `${target.host}:${target.port}`;
  if (e.syscall === 'listen' || first.syscall === 'listen') {
    if (code === 'EADDRINUSE') return { code, message: `port ${target.port} is already in use on ${target.host} (set PORT to another one, or stop what holds it)` };
    if (code === 'EACCES') return { code, message: `not allowed to listen on ${where} (ports below 1024 need privileges; set PORT)` };
    if (code === 'EADDRNOTAVAIL') return { code, message: `cannot listen on ${where}: ${target.host} is not an address of this machine (set HOST)` };
    return { code, message: `cannot listen on ${where}: ${message}` };
  }
  if (target.databaseUrl && isDatabaseError(code, first)) {
    return { code, message: `the database at ${databaseHost(target.databaseUrl)} ${databaseProblem(code, message)}` };
  }
  if (typeof first.path === 'string' && (code === 'EACCES' || code === 'EPERM' || code === 'ENOTDIR' || code === 'EROFS' || code === 'ENOSPC')) {
    return { code, message: `the sessions folder cannot be used: ${first.path}: ${code} (SESSIONS_DIR is ${target.sessionsDir})` };
  }
  return { code, message };
}

const connectionCodes = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET']);

function isDatabaseError(code: string | null, first: SystemError): boolean {
  if (code === null) return false;
  // PostgreSQL's own codes are five characters, digits and capitals (28P01: bad password, 3D000: no such database).
  return connectionCodes.has(code) || (/^[0-9A-Z]{5}$/.test(code) && first.syscall === undefined);
}

function databaseProblem(code: string | null, message: string): string {
  switch (code) {
    case 'ECONNREFUSED':
      return 'refused the connection (ECONNREFUSED): is PostgreSQL running there?';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot be found (${code}): check the host name in DATABASE_URL`;
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `cannot be reached (${code})`;
    default:
      return `refused: ${message}`;
  }
}

/** host:port of a postgres:// URL, never its user or password. */
function databaseHost(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || '5432'}`;
  } catch {
    return 'DATABASE_URL';
  }
}

function oneLine(text: string): string {
  return text.split('\n')[0]!.trim();
}
