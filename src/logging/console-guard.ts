/**
 * Keeps `console.*` out of the service's output.
 *
 * libsignal (pulled in by Baileys) prints whole Signal session objects — its
 * "Closing session:" info line and siblings, with the session as an argument — whenever a contact's
 * session is replaced — a reinstalled phone, a new device, a retry. Those objects
 * hold the ratchet's private key and the root key, and the lines break a JSON log
 * stream. Nothing in this process is allowed to write around the logger, so the
 * entry point replaces the console methods once: each call becomes one logger line
 * at debug carrying only the call's text — strings, numbers and booleans, and an
 * Error's name and message. Any other argument (an object, a Buffer, an array) is
 * left out and counted, never inspected: inspecting it is what leaked the keys.
 */
import type { Logger } from 'pino';

/** The console methods libraries call; each is routed to the logger. */
const consoleMethodNames = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;

/** The text of one console call without its objects: `Closing session: [1 object left out]`. */
export function consoleText(args: readonly unknown[]): string {
  const parts: string[] = [];
  let leftOut = 0;
  for (const arg of args) {
    if (typeof arg === 'string') parts.push(arg);
    else if (typeof arg === 'number' || typeof arg === 'boolean' || typeof arg === 'bigint') parts.push(String(arg));
    else if (arg instanceof Error) parts.push(`${arg.name}: ${arg.message}`);
    else if (arg === undefined || arg === null) parts.push(String(arg));
    else leftOut += 1;
  }
  if (leftOut > 0) parts.push(`[${leftOut} ${leftOut === 1 ? 'object' : 'objects'} left out]`);
  return parts.join(' ');
}

/**
 * Routes every `console.*` call of this process to `logger` at debug, text only.
 * Returns a function that puts the original methods back (tests).
 */
export function routeConsoleToLogger(logger: Logger): () => void {
  const target = console as unknown as Record<string, (...args: unknown[]) => void>;
  const originals = consoleMethodNames.map((name) => [name, target[name]] as const);
  for (const name of consoleMethodNames) {
    target[name] = (...args: unknown[]) => logger.debug({ source: 'console', method: name }, consoleText(args));
  }
  return () => {
    for (const [name, original] of originals) target[name] = original!;
  };
}
