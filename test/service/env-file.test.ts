/**
 * ./.env: read with Node's own parser, the environment winning over it, a
 * missing file ignored, an unreadable one refused naming it.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/config-values.js';
import { loadEnvFile } from '../../src/app/env-file.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wa-vigil-env-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('fills what the environment does not set; what it sets wins, even when empty', async () => {
  const file = join(dir, 'app.env');
  await writeFile(file, ['# a comment', 'PORT=3001', 'BROWSER_NAME="Support desk # 2"', 'LOG_LEVEL=debug', 'API_KEY=from-the-file-0123456789', ''].join('\n'));
  const env: NodeJS.ProcessEnv = { PORT: '4000', API_KEY: '' };
  expect(loadEnvFile(file, env).sort()).toEqual(['BROWSER_NAME', 'LOG_LEVEL']);
  expect(env).toEqual({ PORT: '4000', API_KEY: '', BROWSER_NAME: 'Support desk # 2', LOG_LEVEL: 'debug' });
});

it('no file: nothing set, no error', () => {
  const env: NodeJS.ProcessEnv = {};
  expect(loadEnvFile(join(dir, 'missing.env'), env)).toEqual([]);
  expect(env).toEqual({});
});

it('a path that cannot be read as a file is a configuration error naming it', async () => {
  const folder = join(dir, 'folder.env');
  await mkdir(folder);
  expect(() => loadEnvFile(folder, {})).toThrow(ConfigError);
  expect(() => loadEnvFile(folder, {})).toThrow(`${folder}: cannot be read (EISDIR)`);
});
