/**
 * `.env`: variables for the service from a file in the folder it starts in, the
 * way most deployment guides hand them over. A variable already in the
 * environment wins over the file, so `PORT=3001 npm start` overrides a `.env`
 * that says 3000. The file is parsed by Node's own `.env` parser (the one behind
 * `node --env-file`); a missing file is not an error, an unreadable or
 * unparsable one is a configuration error naming it.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { ConfigError } from '../config/config-values.js';

export const envFileName = '.env';

/** Fills `env` from `path` where it has no value yet; returns the names it set (empty when there is no file). */
export function loadEnvFile(path: string = envFileName, env: NodeJS.ProcessEnv = process.env): string[] {
  let text: string;
  try {
    text = readFileSync(resolve(path), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return [];
    throw new ConfigError(path, `cannot be read (${code ?? String(error)})`);
  }
  const set: string[] = [];
  for (const [name, value] of Object.entries(parseEnv(text))) {
    if (env[name] !== undefined) continue;
    env[name] = value;
    set.push(name);
  }
  return set;
}
