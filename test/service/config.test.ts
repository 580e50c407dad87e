import { spawnSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

it('defaults to 127.0.0.1:3000 and ./sessions', () => {
  const config = loadConfig({});
  expect(config).toMatchObject({ host: '127.0.0.1', port: 3000, sessionsDir: './sessions', apiKey: null, logLevel: 'info' });
});

it('reads the reconnect policy from the environment', () => {
  const config = loadConfig({ RECONNECT_DELAYS_MS: '1000, 2000', MAX_RECONNECT_ATTEMPTS: '3', KEEPALIVE_INTERVAL_MS: '60000' });
  expect(config.policy).toEqual({ reconnectDelaysMs: [1000, 2000], maxReconnectAttempts: 3, keepAliveIntervalMs: 60000 });
});

it.each([
  [{ HOST: '0.0.0.0' }, 'HOST'],
  [{ PORT: 'eighty' }, 'PORT'],
  [{ PORT: '70000' }, 'PORT'],
  [{ RECONNECT_DELAYS_MS: '3s,10s' }, 'RECONNECT_DELAYS_MS'],
  [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
  [{ WA_WS_URL: 'http://example' }, 'WA_WS_URL'],
  [{ KEEPALIVE_INTERVAL_MS: '0' }, 'KEEPALIVE_INTERVAL_MS'],
])('refuses %j naming %s', (env, variable) => {
  expect(() => loadConfig(env)).toThrow(ConfigError);
  expect(() => loadConfig(env)).toThrow(new RegExp(`^${variable}`));
});

it('accepts a public HOST when an API key is set', () => {
  expect(loadConfig({ HOST: '0.0.0.0', API_KEY: 'k' }).host).toBe('0.0.0.0');
});

it('the service exits 1 with one clear line on a bad value', () => {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env: { ...process.env, PORT: 'eighty' }, encoding: 'utf8' });
  expect(run.status).toBe(1);
  expect(run.stderr.trim()).toBe('wa-vigil: configuration error: PORT: must be a whole number from 0 to 65535, got "eighty"');
});
