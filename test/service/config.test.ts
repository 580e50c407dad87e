import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROCESSABLE_HISTORY_TYPES, proto } from '@whiskeysockets/baileys';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, maxTimerMs } from '../../src/app/config.js';
import { historySyncFilter, toBaileysConfig, resolveSocketOptions } from '../../src/whatsapp/socket-options.js';

const goodKey = 'k3y-with-16-chars';
let scratch: string;
let aFile: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'wa-vigil-config-'));
  aFile = join(scratch, 'a-file');
  await writeFile(aFile, 'not a folder');
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

it('defaults to 127.0.0.1:3000 and ./sessions', () => {
  const config = loadConfig({});
  expect(config).toMatchObject({ host: '127.0.0.1', port: 3000, sessionsDir: './sessions', apiKey: null, logLevel: 'info', logFormat: null });
});

it('reads the reconnect policy from the environment', () => {
  const config = loadConfig({ RECONNECT_DELAYS_MS: '1000, 2000', MAX_RECONNECT_ATTEMPTS: '3', KEEPALIVE_INTERVAL_MS: '60000', RECONNECT_JITTER: '0.25' });
  expect(config.policy).toEqual({ reconnectDelaysMs: [1000, 2000], maxReconnectAttempts: 3, keepAliveIntervalMs: 60000, jitterRatio: 0.25 });
});

it('accepts MAX_RECONNECT_ATTEMPTS=0 (never give up) and the longest duration a timer holds', () => {
  const config = loadConfig({ MAX_RECONNECT_ATTEMPTS: '0', KEEPALIVE_INTERVAL_MS: String(maxTimerMs), RECONNECT_DELAYS_MS: String(maxTimerMs) });
  expect(config.policy).toMatchObject({ maxReconnectAttempts: 0, keepAliveIntervalMs: 2_147_483_647, reconnectDelaysMs: [2_147_483_647] });
});

describe('refuses every bad value, naming the variable', () => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ HOST: '0.0.0.0' }, 'HOST'],
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ RECONNECT_DELAYS_MS: '3s,10s' }, 'RECONNECT_DELAYS_MS'],
    [{ RECONNECT_DELAYS_MS: '0' }, 'RECONNECT_DELAYS_MS'],
    [{ RECONNECT_DELAYS_MS: '1000,0' }, 'RECONNECT_DELAYS_MS'],
    [{ RECONNECT_DELAYS_MS: '4294967296' }, 'RECONNECT_DELAYS_MS'],
    [{ RECONNECT_JITTER: '1.5' }, 'RECONNECT_JITTER'],
    [{ RECONNECT_JITTER: '-0.1' }, 'RECONNECT_JITTER'],
    [{ RECONNECT_JITTER: 'some' }, 'RECONNECT_JITTER'],
    [{ MAX_RECONNECT_ATTEMPTS: '-1' }, 'MAX_RECONNECT_ATTEMPTS'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ LOG_FORMAT: 'xml' }, 'LOG_FORMAT'],
    [{ BAILEYS_LOG_LEVEL: 'chatty' }, 'BAILEYS_LOG_LEVEL'],
    [{ WA_WS_URL: 'http://example' }, 'WA_WS_URL'],
    [{ WA_WS_URL: 'ws://' }, 'WA_WS_URL'],
    [{ INSPECT_WS_URL: 'notaurl' }, 'INSPECT_WS_URL'],
    [{ INSPECT_WS_URL: 'https://stately.ai' }, 'INSPECT_WS_URL'],
    [{ KEEPALIVE_INTERVAL_MS: '0' }, 'KEEPALIVE_INTERVAL_MS'],
    [{ KEEPALIVE_INTERVAL_MS: '4294967296' }, 'KEEPALIVE_INTERVAL_MS'],
    [{ HEALTH_CHECK_INTERVAL_MS: '2147483648' }, 'HEALTH_CHECK_INTERVAL_MS'],
    [{ WA_KEEPALIVE_INTERVAL_MS: '2147483648' }, 'WA_KEEPALIVE_INTERVAL_MS'],
    [{ CONNECT_TIMEOUT_MS: '0' }, 'CONNECT_TIMEOUT_MS'],
    [{ CONNECT_TIMEOUT_MS: '99999999999' }, 'CONNECT_TIMEOUT_MS'],
    [{ MAX_CONCURRENT_CONNECTS: '0' }, 'MAX_CONCURRENT_CONNECTS'],
    [{ MAX_HTTP_CONNECTIONS: '0' }, 'MAX_HTTP_CONNECTIONS'],
    [{ MAX_EVENT_STREAMS: 'many' }, 'MAX_EVENT_STREAMS'],
    [{ PRINT_QR: 'yes' }, 'PRINT_QR'],
    [{ MARK_ONLINE_ON_CONNECT: 'no' }, 'MARK_ONLINE_ON_CONNECT'],
    [{ SYNC_HISTORY: 'all' }, 'SYNC_HISTORY'],
    [{ BROWSER_NAME: '   ' }, 'BROWSER_NAME'],
    [{ BROWSER_NAME: 'x'.repeat(65) }, 'BROWSER_NAME'],
    [{ BROWSER_NAME: 'two\nlines' }, 'BROWSER_NAME'],
    [{ API_KEY: ' ' }, 'API_KEY'],
    [{ API_KEY: 'short-key' }, 'API_KEY'],
    [{ API_KEY: 'sixteen chars with spaces' }, 'API_KEY'],
    [{ HOST: '0.0.0.0', API_KEY: ' ' }, 'API_KEY'],
    [{ DATABASE_URL: 'mysql://wa:secret@db/wa' }, 'DATABASE_URL'],
    [{ ADVERTISE_URL: 'ftp://node-1' }, 'ADVERTISE_URL'],
    [{ LEASE_TTL_MS: '3000', LEASE_RENEW_MS: '2000' }, 'LEASE_RENEW_MS'],
    [{ ALLOWED_ORIGINS: 'crm.example.com' }, 'ALLOWED_ORIGINS'],
  ];
  it('a bad DATABASE_URL is refused without echoing it (it may hold a password)', () => {
    expect(() => loadConfig({ DATABASE_URL: 'mysql://wa:s3cret-pw@db/wa' })).toThrow('DATABASE_URL: must be a postgres:// URL');
    expect(() => loadConfig({ DATABASE_URL: 'mysql://wa:s3cret-pw@db/wa' })).not.toThrow(/s3cret-pw/);
    expect(loadConfig({ DATABASE_URL: 'postgres://wa:pw@db:5432/wa' })).toMatchObject({ leaseTtlMs: 15_000, leaseRenewIntervalMs: 5_000 });
    expect(loadConfig({})).toMatchObject({ databaseUrl: null, leaseTtlMs: 10_000, leaseRenewIntervalMs: 2_000 });
  });
  it.each(cases)('%j → %s', (env, variable) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(`^${variable}: `));
  });

  it('SESSIONS_DIR that is a file, or lies under one', () => {
    expect(() => loadConfig({ SESSIONS_DIR: aFile })).toThrow(/^SESSIONS_DIR: .* is not a directory/);
    expect(() => loadConfig({ SESSIONS_DIR: join(aFile, 'sessions') })).toThrow(/^SESSIONS_DIR: .*cannot be created/);
  });
});

it('accepts a SESSIONS_DIR that does not exist yet (it is created on first use)', () => {
  const dir = join(scratch, 'not', 'yet');
  expect(loadConfig({ SESSIONS_DIR: dir }).sessionsDir).toBe(dir);
});

it('booleans are exactly true|false|1|0', () => {
  expect(loadConfig({ PRINT_QR: '1' }).printQr).toBe(true);
  expect(loadConfig({ PRINT_QR: 'true' }).printQr).toBe(true);
  expect(loadConfig({ PRINT_QR: '0' }).printQr).toBe(false);
  expect(loadConfig({}).printQr).toBe(false);
  expect(loadConfig({}).markOnlineOnConnect).toBe(true);
  expect(loadConfig({ MARK_ONLINE_ON_CONNECT: 'false' }).markOnlineOnConnect).toBe(false);
});

it('accepts a public HOST when an API key of 16+ characters is set', () => {
  expect(loadConfig({ HOST: '0.0.0.0', API_KEY: goodKey }).host).toBe('0.0.0.0');
});

it('Baileys options: browser name, online marking and history sync reach the socket config', () => {
  const config = loadConfig({ BROWSER_NAME: 'Support desk', MARK_ONLINE_ON_CONNECT: 'false', SYNC_HISTORY: 'recent', LOG_FORMAT: 'pretty' });
  expect(config).toMatchObject({ browserName: 'Support desk', markOnlineOnConnect: false, syncHistory: 'recent', logFormat: 'pretty' });
  expect(loadConfig({})).toMatchObject({ browserName: 'WhatsApp Long Session', syncHistory: 'minimal' });
  const baileys = toBaileysConfig(resolveSocketOptions({ markOnlineOnConnect: false, browser: ['Support desk', 'Chrome', '1.0.0'] }));
  expect(baileys).toMatchObject({ markOnlineOnConnect: false, browser: ['Support desk', 'Chrome', '1.0.0'] });
});

describe('history sync', () => {
  const { HistorySyncType } = proto.HistorySync;
  const accepts = (mode: 'minimal' | 'recent' | 'full', syncType: number) => historySyncFilter(mode)({ syncType });

  it('minimal: no old messages, but not every sync refused (Baileys then warns of instability)', () => {
    expect(accepts('minimal', HistorySyncType.RECENT)).toBe(false);
    expect(accepts('minimal', HistorySyncType.FULL)).toBe(false);
    expect(accepts('minimal', HistorySyncType.ON_DEMAND)).toBe(false);
    expect(accepts('minimal', HistorySyncType.INITIAL_BOOTSTRAP)).toBe(true);
    // Baileys' own test for its "DISABLING ALL SYNC" warning.
    expect(PROCESSABLE_HISTORY_TYPES.every((syncType) => !accepts('minimal', syncType))).toBe(false);
  });

  it('recent is Baileys’ default (all but FULL); full takes everything', () => {
    expect(accepts('recent', HistorySyncType.RECENT)).toBe(true);
    expect(accepts('recent', HistorySyncType.FULL)).toBe(false);
    expect(accepts('full', HistorySyncType.FULL)).toBe(true);
  });
});

describe('the service exits 1 with one clear line on a bad value', () => {
  const run = (env: Record<string, string>) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 20_000 });

  it('PORT', () => {
    const result = run({ PORT: 'eighty' });
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe('wa-vigil: configuration error: PORT: must be a whole number from 0 to 65535, got "eighty"');
  });

  it('INSPECT_WS_URL that is not a URL: no stack trace', () => {
    const result = run({ INSPECT_WS_URL: 'notaurl' });
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe('wa-vigil: configuration error: INSPECT_WS_URL: must be a ws:// or wss:// URL, got "notaurl"');
  });

  it('SESSIONS_DIR that is a file', () => {
    const result = run({ SESSIONS_DIR: aFile });
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([`wa-vigil: configuration error: SESSIONS_DIR: ${aFile} is not a directory`]);
  });
});

describe('a bad DATABASE_URL: the message says what is wrong with it, never the value', () => {
  const password = 's3cret-pw';
  const refusal = (url: string) => {
    try {
      loadConfig({ DATABASE_URL: url });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as Error).message;
    }
    throw new Error(`${url} was accepted`);
  };

  it.each([
    [`postgres://wa:${password}@`, /^DATABASE_URL: has no host/],
    [`postgres://wa:${password}@/wa`, /^DATABASE_URL: has no host/],
    [`postgres://wa:${password}@db:99999/wa`, /^DATABASE_URL: has a bad port after host "db": it must be a number from 1 to 65535/],
    [`postgres://wa:${password}@db:0/wa`, /^DATABASE_URL: has a bad port after host "db"/],
    // The @ forgotten: the password sits where the port goes, and must not be echoed as one.
    [`postgres://wa:${password}/wa`, /^DATABASE_URL: has a bad port after host "wa"/],
    [`postgres://wa:${password}@db:5432`, /^DATABASE_URL: has no database name/],
    [`postgres://wa:${password}@db/`, /^DATABASE_URL: has no database name/],
    [`mysql://wa:${password}@db/wa`, /^DATABASE_URL: must be a postgres:\/\/ URL, not mysql:/],
  ])('%s', (url, expected) => {
    const message = refusal(url);
    expect(message).toMatch(expected);
    expect(message).toContain('expected postgres://user:password@host:5432/database');
    expect(message).not.toContain(password);
  });

  it('accepts a host and database, with or without a port, and a Unix socket folder instead of a host', () => {
    for (const url of ['postgres://wa:pw@db:5432/wa', 'postgresql://db/wa', 'postgres:///wa?host=/var/run/postgresql']) {
      expect(loadConfig({ DATABASE_URL: url }).databaseUrl).toBe(url);
    }
  });

  it('other URLs say what is missing too', () => {
    expect(() => loadConfig({ WA_WS_URL: 'ws://' })).toThrow(/^WA_WS_URL: has no host/);
    expect(() => loadConfig({ ADVERTISE_URL: 'http://node-1:http' })).toThrow(/^ADVERTISE_URL: has a bad port after host "node-1"/);
  });
});
