/**
 * The service as a real process (src/main.ts through tsx, or any command that
 * ends in it), with its log lines collected and its API URL read from the
 * "listening" line — for the cases that are about processes: crashes, signals,
 * two owners, pid namespaces.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { testApiKey } from './service-harness.js';

export interface ServiceProcess {
  child: ChildProcess;
  /** Every stdout line so far (pino JSON). */
  lines: string[];
  /** Resolves with the API URL once the service listens. */
  url: Promise<string>;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** The holder id it announced. */
  holder: Promise<string>;
  call(path: string, method?: string): Promise<{ status: number; body: Record<string, unknown> }>;
}

export const serviceCommand = [process.execPath, '--import', 'tsx', 'src/main.ts'];

export function spawnService(options: { sessionsDir: string; waUrl: string; env?: Record<string, string>; command?: string[] }): ServiceProcess {
  const [file, ...args] = options.command ?? serviceCommand;
  const child = spawn(file!, args, {
    env: {
      ...process.env,
      PORT: '0',
      API_KEY: testApiKey,
      SESSIONS_DIR: options.sessionsDir,
      WA_WS_URL: options.waUrl,
      LOG_LEVEL: 'info',
      RECONNECT_DELAYS_MS: '100',
      LEASE_TTL_MS: '1500',
      LEASE_RENEW_MS: '250',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const listening = new Promise<{ url: string; holder: string }>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      const match = /wa-vigil listening on (http:\/\/[^,]+), holder ([\w.-]+)/.exec(line);
      if (match) resolve({ url: match[1]!, holder: match[2]! });
    });
    void exited.then((code) => reject(new Error(`service exited with ${code} before listening`)));
  });
  createInterface({ input: child.stderr! }).on('line', (line) => lines.push(line));
  const url = listening.then((l) => l.url);
  const holder = listening.then((l) => l.holder);
  // A test that never asks for them (a process stopped before it listens) must not see an unhandled rejection.
  for (const promise of [listening, url, holder]) promise.catch(() => undefined);
  return {
    child,
    lines,
    url,
    exited,
    holder,
    call: async (path, method = 'GET') => {
      const res = await fetch((await url) + path, { method, headers: { 'x-api-key': testApiKey } });
      const text = await res.text();
      return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
    },
  };
}
