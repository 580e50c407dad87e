/**
 * The service with a scripted connection instead of Baileys (test/support's
 * auto connection), so a browser test can run hundreds of sessions in a
 * second and inject faults by hand; plus a Chromium that records every
 * request the page makes. Loopback only.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { ConnectionEvent, ConnectionInput } from '../../machines/session.events.js';
import { loadConfig } from '../../src/app/config.js';
import { createLogger } from '../../src/logging/logger.js';
import { startService, type Service } from '../../src/app/service.js';
import { createAutoConnection, type Outcome } from '../support/auto-connection.js';
import { LogCapture, assertNoSecretsLogged, testApiKey } from '../support/service-harness.js';

export { testApiKey };

export interface ConsoleService {
  service: Service;
  logs: LogCapture;
  /** The socket of each live session, by `userId/sessionId`: send it a connection event. */
  inject(key: string, event: ConnectionEvent): void;
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }>;
  create(userId: string, sessionId?: string): Promise<void>;
}

export async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'wa-vigil-console-'));
}

/**
 * outcome: how each connection attempt goes ('open' by default);
 * port: a fixed port (to restart the service where the page expects it).
 */
export async function startConsoleService(options: {
  sessionsDir: string;
  port?: number;
  env?: Record<string, string>;
  outcome?: (input: ConnectionInput) => Outcome;
}): Promise<ConsoleService> {
  const logs = new LogCapture();
  const auto = createAutoConnection({ outcome: options.outcome });
  const config = loadConfig({
    PORT: String(options.port ?? 0),
    API_KEY: testApiKey,
    SESSIONS_DIR: options.sessionsDir,
    LOG_LEVEL: 'info',
    // Faults stay visible: a lost link backs off for a minute.
    RECONNECT_DELAYS_MS: '60000',
    MAX_CONCURRENT_CONNECTS: '64',
    ...options.env,
  });
  const started = await startService(config, createLogger({ level: 'info', destination: logs }), { connection: () => auto.logic });
  const service: Service = {
    ...started,
    stop: async () => {
      await started.stop();
      assertNoSecretsLogged(logs.text, [testApiKey]);
    },
  };
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(service.url + path, {
      method,
      headers: { authorization: `Bearer ${testApiKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const type = res.headers.get('content-type') ?? '';
    return { status: res.status, body: type.includes('json') ? ((await res.json()) as unknown) : await res.text() };
  };
  return {
    service,
    logs,
    call,
    inject: (key, event) => {
      const send = auto.sessions.get(key);
      if (!send) throw new Error(`no live connection for ${key}`);
      send(event);
    },
    create: async (userId, sessionId = 'default') => {
      const res = await call('POST', '/sessions', { userId, sessionId });
      if (res.status !== 201) throw new Error(`create ${userId}/${sessionId}: HTTP ${res.status}`);
    },
  };
}

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

/** Every URL the page asked for, to prove none left loopback. */
export function recordRequests(page: Page): string[] {
  const urls: string[] = [];
  page.on('request', (request) => urls.push(request.url()));
  return urls;
}

export async function openConsole(browser: Browser, url: string, viewport = { width: 1400, height: 900 }, hash = ''): Promise<{ page: Page; requests: string[] }> {
  const page = await browser.newPage({ viewport, timezoneId: 'Europe/Berlin' });
  const requests = recordRequests(page);
  await page.goto(`${url}/inspector${hash}`);
  await page.locator('#key-input').fill(testApiKey);
  await page.locator('#key-form button').click();
  await page.locator('#connection[data-state="live"]').waitFor();
  return { page, requests };
}

/**
 * Requests to `pathEnd` the service is handling at once, at most, from now on: counted
 * where they arrive (the page's own request events lag behind its fetches).
 */
export function trackInFlight(service: Service, pathEnd: string): { max: () => number; sent: () => number; stop: () => void } {
  let open = 0;
  let max = 0;
  let sent = 0;
  const onRequest = (request: IncomingMessage, response: ServerResponse) => {
    if (!request.url?.endsWith(pathEnd)) return;
    sent += 1;
    max = Math.max(max, ++open);
    response.once('close', () => (open -= 1));
  };
  service.api.server.on('request', onRequest);
  return { max: () => max, sent: () => sent, stop: () => void service.api.server.off('request', onRequest) };
}
