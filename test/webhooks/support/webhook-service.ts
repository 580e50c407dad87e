/**
 * The real service in-process (store, registry, outbox, webhooks, Fastify) on a
 * temp folder, with fake connections that need no WhatsApp: `qr*` users show a
 * QR, every other session opens at once. Retries are in milliseconds.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig } from '../../../src/app/config.js';
import { createLogger } from '../../../src/logging/logger.js';
import { startService, type Service } from '../../../src/app/service.js';
import { createAutoConnection } from '../../support/auto-connection.js';
import { LogCapture, testApiKey } from '../../support/service-harness.js';

export const webhookSecret = 'receiver-secret-0123456789';

export async function startWebhookService(sessionsDir: string, env: Record<string, string> = {}) {
  const logs = new LogCapture();
  const connection = createAutoConnection({ outcome: (input) => (input.userId.startsWith('qr') ? 'qr' : 'open') });
  const config = loadConfig({
    PORT: '0',
    API_KEY: testApiKey,
    SESSIONS_DIR: sessionsDir,
    LOG_LEVEL: 'debug',
    RECONNECT_DELAYS_MS: '100',
    LEASE_TTL_MS: '1500',
    LEASE_RENEW_MS: '250',
    WEBHOOK_RETRY_FIRST_MS: '20',
    WEBHOOK_RETRY_MAX_MS: '100',
    ...env,
  });
  const service: Service = await startService(config, createLogger({ level: 'debug', format: 'json', destination: logs }), { connection: () => connection.logic });
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(service.url + path, {
      method,
      headers: { authorization: `Bearer ${testApiKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as Record<string, unknown> & Array<Record<string, unknown>> };
  };
  return { service, logs, connection, call };
}

/** The events in the outbox folder (its segment files), in order. */
export async function outboxEvents(sessionsDir: string): Promise<Array<{ id: string; type: string; userId: string; payload: Record<string, unknown> }>> {
  const folder = join(sessionsDir, '.outbox');
  const names = (await readdir(folder).catch(() => [] as string[])).filter((n) => /^[0-9A-Z]{26}\.events$/.test(n));
  const texts = await Promise.all(names.map((name) => readFile(join(folder, name), 'utf8')));
  return texts
    .flatMap((text) => text.split('\n').filter(Boolean))
    .map((line) => JSON.parse(line) as { id: string; type: string; userId: string; payload: Record<string, unknown> })
    .sort((a, b) => (a.id < b.id ? -1 : 1));
}

/** The ids of the events in the outbox folder, in order. */
export async function outboxIds(sessionsDir: string): Promise<string[]> {
  return (await outboxEvents(sessionsDir)).map((e) => e.id);
}
