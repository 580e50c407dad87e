/**
 * The real service (store, registry, Fastify) on a temp sessions/ folder, wired
 * to a simulator, with every log line captured.
 */
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/app/config.js';
import { createLogger } from '../../src/logging/logger.js';
import { startService, type Service, type ServiceExtras } from '../../src/app/service.js';
import type { SessionView } from '../../src/session/session-view.js';
import { WaSimulator } from '../../src/sim/wa-simulator.js';
import { testApiKey } from '../../fixtures/api-key.js';

export { testApiKey } from '../../fixtures/api-key.js';
export { removeDir, tempSessionsDir } from '../../fixtures/temp-dir.js';


export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  }
  get text(): string {
    return this.lines.join('\n');
  }
}

export function assertNoSecretsLogged(text: string, secrets: string[]): void {
  for (const secret of secrets) {
    for (const form of [secret, Buffer.from(secret).toString('hex'), Buffer.from(secret).toString('base64')]) {
      if (text.includes(form)) throw new Error(`a secret reached the logs (${secret.slice(0, 6)}…)`);
    }
  }
}


export async function startTestService(options: { sim: WaSimulator; sessionsDir: string; env?: Record<string, string>; logs?: LogCapture; extra?: ServiceExtras }) {
  const logs = options.logs ?? new LogCapture();
  const config = loadConfig({
    PORT: '0',
    API_KEY: testApiKey,
    SESSIONS_DIR: options.sessionsDir,
    WA_WS_URL: options.sim.url,
    WA_ROOT_PUBLIC_KEY: options.sim.rootPublicKeyHex,
    LOG_LEVEL: 'debug',
    RECONNECT_DELAYS_MS: '100,200',
    CONNECT_TIMEOUT_MS: '2000',
    // A dead holder's sessions are taken over within a second and a half in tests (10 s by default).
    LEASE_TTL_MS: '1500',
    LEASE_RENEW_MS: '250',
    ...options.env,
  });
  const started: Service = await startService(config, createLogger({ level: 'debug', format: 'json', destination: logs }), options.extra);
  // R4 across every test that runs the service: when it stops, its logs must hold
  // neither the API key nor any QR ref the simulator issued (plain or hex-dumped).
  const service: Service = {
    ...started,
    stop: async () => {
      await started.stop();
      assertNoSecretsLogged(logs.text, [testApiKey, ...options.sim.issuedRefs]);
    },
  };
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = { authorization: `Bearer ${testApiKey}` }) => {
    const res = await fetch(service.url + path, {
      method,
      headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const type = res.headers.get('content-type') ?? '';
    const payload: unknown = type.includes('json') ? await res.json() : type.includes('image') ? Buffer.from(await res.arrayBuffer()) : await res.text();
    return { status: res.status, body: payload as Record<string, unknown> & SessionView, type };
  };
  /** Polls the API until the session's status starts with `status`. */
  const waitForState = async (userId: string, sessionId: string, status: string, timeoutMs = 5_000): Promise<SessionView> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { body } = await call('GET', `/sessions/${userId}/${sessionId}`);
      if (typeof body.status === 'string' && (body.status === status || body.status.startsWith(`${status}.`))) return body;
      if (Date.now() > deadline) throw new Error(`session ${userId}/${sessionId} is ${body.status}, not ${status}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  };
  return { service, logs, call, waitForState };
}

