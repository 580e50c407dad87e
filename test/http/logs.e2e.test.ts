/**
 * Logs as an operator meets them: JSON for shippers, pretty lines at a
 * terminal, ISO times, quiet request logging, every session line naming its
 * session, and Baileys' expected closes never at error.
 */
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { describe, expect, it } from 'vitest';
import { RequestLogController } from '../../src/http/request-log.js';
import { createLogger, defaultLogFormat } from '../../src/logging/logger.js';
import { baileysLogger } from '../../src/whatsapp/baileys-logger.js';
import { LogCapture, startTestService } from '../support/service-harness.js';
import { simulatorPerTest } from '../support/simulator-fixture.js';

const isoTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const pinoLevel = { debug: 20, info: 30, warn: 40, error: 50 };

describe('log format', () => {
  it('is pretty at a terminal and JSON otherwise', () => {
    expect(defaultLogFormat(true)).toBe('pretty');
    expect(defaultLogFormat(false)).toBe('json');
  });

  it('json: one object per line with an ISO time', () => {
    const out = new LogCapture();
    createLogger({ format: 'json', destination: out }).info({ userId: 'ann', sessionId: 'work' }, 'Session open for user ann');
    const line = JSON.parse(out.lines[0]!);
    expect(line).toMatchObject({ level: 30, msg: 'Session open for user ann', userId: 'ann', sessionId: 'work' });
    expect(line.time).toMatch(isoTime);
  });

  it('pretty: a human line with an ISO time that names the session first, without colours when asked', () => {
    const out = new LogCapture();
    createLogger({ format: 'pretty', colorize: false, destination: out }).info({ userId: 'ann', sessionId: 'work' }, 'Session open for user ann');
    expect(out.lines).toHaveLength(1);
    expect(() => JSON.parse(out.lines[0]!)).toThrow();
    expect(out.lines[0]).toMatch(/^\[\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z\] INFO.*\[ann\/work\] Session open for user ann/);
  });
});

describe('request logs', () => {
  it('a slow answer or a 5xx is a warning; a fine one is debug', async () => {
    const out = new LogCapture();
    const logger = createLogger({ format: 'json', level: 'debug', destination: out });
    const app = Fastify({ loggerInstance: logger as FastifyBaseLogger, logController: new RequestLogController(500) });
    app.get('/fast', async () => ({ ok: true }));
    app.get('/slow', async () => new Promise((resolve) => setTimeout(() => resolve({ ok: true }), 550)));
    app.get('/broken', async (_request, reply) => reply.code(502).send({ error: 'bad_gateway', message: 'upstream' }));
    for (const url of ['/fast', '/slow', '/broken']) await app.inject({ method: 'GET', url });
    await app.close();
    const lines = out.lines.map((l) => JSON.parse(l) as { level: number; msg: string; url: string });
    expect(lines.map((l) => [l.url, l.level, l.msg])).toEqual([
      ['/fast', pinoLevel.debug, 'Request completed'],
      ['/slow', pinoLevel.warn, 'Slow request'],
      ['/broken', pinoLevel.warn, 'Request ended in a server error'],
    ]);
  });
});

describe('Baileys’ logger', () => {
  const closeError = (statusCode: number) => Object.assign(new Error('Connection Closed'), { output: { statusCode } });

  it('moves the closes every session goes through (515, 428) from error to info, and keeps real errors at error', () => {
    const out = new LogCapture();
    const logger = baileysLogger(createLogger({ format: 'json', level: 'info', destination: out }).child({ component: 'baileys' }));
    logger.error({ fullErrorNode: { tag: 'stream:error', attrs: { code: '515' } } }, 'stream errored out');
    logger.error({ err: closeError(428) }, "unexpected error in 'init queries'");
    logger.child({ userId: 'ann' }).error({ err: closeError(500) }, 'stream errored out');
    logger.error({ fullErrorNode: { tag: 'stream:error', attrs: { code: '503' } } }, 'stream errored out');
    const levels = out.lines.map((l) => (JSON.parse(l) as { level: number }).level);
    expect(levels).toEqual([pinoLevel.info, pinoLevel.info, pinoLevel.error, pinoLevel.error]);
    expect(JSON.parse(out.lines[2]!)).toMatchObject({ userId: 'ann', component: 'baileys' });
  });
});

describe('the service’s log lines, against the simulator', () => {
  const t = simulatorPerTest();

  it('pairing (515) and an operator stop (428) are never logged at error; every session line names its session; no sync warning', async () => {
    const logs = new LogCapture();
    const api = await startTestService({ sim: t.sim, sessionsDir: t.dir, logs, env: { BAILEYS_LOG_LEVEL: 'warn' } });
    t.stopAfter(() => api.service.stop());
    await api.call('POST', '/sessions', { userId: 'ann', sessionId: 'work' });
    await api.waitForState('ann', 'work', 'connecting.awaitingQr');
    const qr = (await api.call('GET', '/sessions/ann/work/qr?format=raw')).body.qr as unknown as string;
    t.sim.scanQr(qr);
    await api.waitForState('ann', 'work', 'open');
    await api.call('POST', '/sessions/ann/work/stop');
    await api.waitForState('ann', 'work', 'terminated');

    const lines = logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.some((l) => l.component === 'baileys')).toBe(true);
    expect(lines.filter((l) => (l.level as number) >= pinoLevel.error)).toEqual([]);
    const sessionLines = lines.filter((l) => l.component === 'baileys' || typeof l.state === 'string');
    expect(sessionLines.length).toBeGreaterThan(5);
    for (const line of sessionLines) expect(line, String(line.msg)).toMatchObject({ userId: 'ann', sessionId: 'work' });
    for (const line of lines) expect(line.time).toMatch(isoTime);
    // The default history sync keeps the minimal sync Baileys needs, so it does not warn of instability.
    expect(logs.text).not.toContain('DISABLING ALL SYNC');
  });

  it('requests log one line: debug when fine, info when refused, and never with their query string', async () => {
    const logs = new LogCapture();
    const api = await startTestService({ sim: t.sim, sessionsDir: t.dir, logs });
    t.stopAfter(() => api.service.stop());
    await api.call('GET', '/health?token=not-for-logs');
    await api.call('GET', '/sessions/nobody/here?token=not-for-logs');

    const requestLines = logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.component === 'http' && 'statusCode' in l);
    expect(requestLines).toEqual([
      expect.objectContaining({ level: pinoLevel.debug, method: 'GET', url: '/health', statusCode: 200 }),
      expect.objectContaining({ level: pinoLevel.info, method: 'GET', url: '/sessions/nobody/here', statusCode: 404 }),
    ]);
    expect(logs.text).not.toContain('not-for-logs');
  });
});
