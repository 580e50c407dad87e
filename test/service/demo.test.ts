/**
 * `npm run demo` keeps its promise: one paired session goes open, one new
 * session shows a QR, and Ctrl-C ends it cleanly. (Run from source here.)
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { expect, it } from 'vitest';
import { removeDir, tempSessionsDir } from '../support/service-harness.js';
import { waitUntil } from '../support/wait.js';

it('starts the simulator and the service with one open and one QR-waiting session, and stops on SIGINT', async () => {
  const sessionsDir = await tempSessionsDir();
  const demo = spawn(process.execPath, ['--import', 'tsx', 'src/demo.ts'], {
    env: { ...process.env, PORT: '0', LOG_LEVEL: 'warn', SESSIONS_DIR: sessionsDir },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
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
  expect(output.join('\n')).toContain('/faults/close');

  const exited = new Promise<number | null>((resolve) => demo.once('exit', (code) => resolve(code)));
  demo.kill('SIGINT');
  expect(await exited).toBe(0);
  await removeDir(sessionsDir);
}, 30_000);
