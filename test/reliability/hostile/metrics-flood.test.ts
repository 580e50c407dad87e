/**
 * A flood on /metrics (open when API_KEY is unset) against a service holding
 * 100 sessions: a thousand concurrent scrapes share one rendering, the event
 * loop stays inside the self-fence margin (LEASE_TTL_MS − LEASE_RENEW_MS), and
 * not one socket is stopped. The flood comes from a child process, so only the
 * service's own work is on this event loop.
 */
import { spawn } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../../../src/app/config.js';
import { createLogger } from '../../../src/logging/logger.js';
import { defaultRenewIntervalMs } from '../../../src/service/placement.js';
import { startService, type Service } from '../../../src/app/service.js';
import { defaultLeaseTtlMs } from '../../../src/store/files/file-ownership.js';
import { createAutoConnection } from '../../support/auto-connection.js';
import { LogCapture, removeDir, tempSessionsDir } from '../../support/service-harness.js';
import { waitUntil } from '../../../fixtures/wait.js';
import { cachedRender } from '../../../src/http/metrics.js';

const sessions = 100;
const concurrent = 1_000;
// The defaults: the self-fence margin they leave (TTL − renew interval, 8 s) is the contract under test.
const leaseTtlMs = defaultLeaseTtlMs;
const leaseRenewMs = defaultRenewIntervalMs;

let dir: string;
let service: Service;
const logs = new LogCapture();
const connection = createAutoConnection();

/** As an operator runs it on loopback: no API_KEY (so /metrics is open), info logs, sessions on fake sockets. */
beforeAll(async () => {
  dir = await tempSessionsDir();
  const config = loadConfig({ PORT: '0', SESSIONS_DIR: dir, LOG_LEVEL: 'info', RECONNECT_DELAYS_MS: '100' });
  service = await startService(config, createLogger({ level: 'info', format: 'json', destination: logs }), { connection: () => connection.logic });
  for (let i = 0; i < sessions; i += 1) {
    const res = await fetch(`${service.url}/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId: `flood${i}` }) });
    expect(res.status).toBe(201);
  }
  await waitUntil(() => service.registry.list().filter((view) => view.state === 'open').length === sessions, 30_000);
}, 60_000);
afterAll(async () => {
  await service.stop();
  await removeDir(dir);
});

/** `count` concurrent GET /metrics, each on its own connection, from another process: the statuses seen. */
function flood(url: string, count: number): Promise<Record<string, number>> {
  const script = `
    const http = require('node:http');
    const statuses = {};
    let left = ${count};
    for (let i = 0; i < ${count}; i++) {
      const req = http.get(process.argv[1] + '/metrics', { agent: false }, (res) => {
        res.resume();
        res.on('end', () => done(String(res.statusCode)));
      });
      req.on('error', (e) => done(e.code || 'error'));
    }
    function done(key) {
      statuses[key] = (statuses[key] || 0) + 1;
      if (--left === 0) process.stdout.write(JSON.stringify(statuses));
    }`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script, url], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('exit', () => resolve(JSON.parse(out || '{}') as Record<string, number>));
  });
}

it(`${concurrent} concurrent GET /metrics against ${sessions} sessions: every socket keeps running, the leases are never fenced`, async () => {
  const startedBefore = connection.started;
  const logsBefore = logs.lines.length;
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const statuses = await flood(service.url, concurrent);
  lag.disable();
  // Two renew intervals after the flood: a fence armed during it would have fired by now.
  await new Promise((resolve) => setTimeout(resolve, 2 * leaseRenewMs));

  process.stdout.write(`metrics flood: event-loop delay max ${Math.round(lag.max / 1e6)} ms, p99 ${Math.round(lag.percentile(99) / 1e6)} ms (self-fence margin ${leaseTtlMs - leaseRenewMs} ms)\n`);
  expect(statuses).toEqual({ 200: concurrent });
  const fenced = logs.lines.slice(logsBefore).filter((line) => line.includes('Ownership not renewed in time') || line.includes('lease lost'));
  expect(fenced).toEqual([]);
  expect(connection.started).toBe(startedBefore);
  expect(service.registry.list().filter((view) => view.state === 'open')).toHaveLength(sessions);
});

it('the /metrics renderer: concurrent requests share one render, a rendering serves for its interval, a change makes it stale', async () => {
  let now = 0;
  let renders = 0;
  let finish: (() => void) | null = null;
  const cache = cachedRender(
    () =>
      new Promise<string>((resolve) => {
        renders += 1;
        finish = () => resolve(`render ${renders}`);
      }),
    1_000,
    () => now,
  );
  const burst = Array.from({ length: 500 }, () => cache.render());
  finish!();
  expect(new Set(await Promise.all(burst))).toEqual(new Set(['render 1']));
  now = 999;
  expect(await cache.render()).toBe('render 1');
  cache.invalidate();
  const afterChange = cache.render();
  finish!();
  expect(await afterChange).toBe('render 2');
  now = 2_100;
  const later = cache.render();
  finish!();
  expect(await later).toBe('render 3');
  expect(renders).toBe(3);
});
