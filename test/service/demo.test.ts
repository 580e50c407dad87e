/**
 * `npm run demo` keeps its promise: one paired session goes open, one new
 * session shows a QR, its URLs and commands are printed, and Ctrl-C ends it cleanly, removing its temp folder. (Run from source here.)
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { afterEach, expect, it } from 'vitest';
import { waitUntil } from '../../fixtures/wait.js';

// A demo left running by a failed assertion would hold its ports and folder after the run.
let leftover: { kill(signal: NodeJS.Signals): boolean; exitCode: number | null } | null = null;
afterEach(() => {
  if (leftover && leftover.exitCode === null) leftover.kill('SIGKILL');
  leftover = null;
});

it('starts the simulator and the service with one open and one QR-waiting session, prints its URLs, stops on SIGINT and removes its temp folder', async () => {
  const env: Record<string, string | undefined> = { ...process.env, PORT: '0', LOG_LEVEL: 'warn' };
  delete env.SESSIONS_DIR;
  const demo = spawn(process.execPath, ['--import', 'tsx', 'src/demo.ts'], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  leftover = demo;
  const output: string[] = [];
  const api = await new Promise<string>((resolve, reject) => {
    createInterface({ input: demo.stdout! }).on('line', (line) => {
      output.push(line);
      const match = /^\s+API:\s+(http:\/\/\S+)/.exec(line);
      if (match) resolve(match[1]!);
    });
    demo.once('exit', (code) => reject(new Error(`demo exited with ${code}`)));
  });
  const statuses = async () => {
    const sessions = (await (await fetch(`${api}/sessions`)).json()) as Array<{ sessionId: string; status: string }>;
    return Object.fromEntries(sessions.map((s) => [s.sessionId, s.status]));
  };
  await waitUntil(async () => {
    const now = await statuses();
    return now.paired?.startsWith('open') === true && now.new === 'connecting.awaitingQr';
  }, 15_000);
  // One message each way between demo/paired and the demo contact's simulated phone.
  await waitUntil(() => output.some((line) => line.includes('one message each way')), 20_000);
  const printed = output.join('\n');
  expect(printed).toContain(`curl -X POST ${api}/sessions/demo/paired/messages`);
  expect(printed).toContain('/faults/close');
  expect(printed).toContain(`${api}/docs`);
  expect(printed).toContain(`curl -f -o qr.png ${api}/sessions/demo/new/qr`);
  expect(printed).toMatch(/control: http:\/\/127\.0\.0\.1:\d+/);
  const sessionsDir = /sessions\/:\s+(\S+)\s+\(temporary/.exec(printed)?.[1];
  expect(sessionsDir && existsSync(sessionsDir)).toBe(true);

  const exited = new Promise<number | null>((resolve) => demo.once('exit', (code) => resolve(code)));
  demo.kill('SIGINT');
  expect(await exited).toBe(0);
  expect(existsSync(sessionsDir!)).toBe(false);
}, 60_000);
