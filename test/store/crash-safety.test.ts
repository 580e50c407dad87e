import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BufferJSON } from '@whiskeysockets/baileys';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openFileAuthState } from '../../src/store/files/file-auth-state.js';
import { removeDir, tempSessionsDir } from '../support/service-harness.js';

const trials = Number(process.env.CRASH_TRIALS ?? 50);
/** Each trial starts a Node process under tsx (about a second, more on a busy machine): the bound grows with the trials. */
const perTrialBudgetMs = 3_000;
let dir: string;

beforeAll(async () => {
  dir = await tempSessionsDir();
});
afterAll(async () => {
  await removeDir(dir);
});

function killMidWrite(folder: string, afterMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/auth-writer.ts', folder], { stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout.once('data', () => setTimeout(() => child.kill('SIGKILL'), afterMs));
    child.once('exit', () => resolve());
    child.once('error', reject);
  });
}

it(`kill -9 at random moments during credential writes never leaves a torn or unreadable file (${trials} trials)`, async () => {
  const folder = join(dir, 'crash', 'session');
  let filesChecked = 0;
  for (let trial = 0; trial < trials; trial++) {
    await killMidWrite(folder, 5 + Math.floor(Math.random() * 60));
    for (const file of await readdir(folder)) {
      if (!file.endsWith('.json')) continue;
      const text = await readFile(join(folder, file), 'utf8');
      expect(() => JSON.parse(text, BufferJSON.reviver), `${file} after trial ${trial}`).not.toThrow();
      filesChecked += 1;
    }
    // and the service can open what the crash left
    const reopened = await openFileAuthState(folder);
    expect(reopened.existed).toBe(true);
    expect(Buffer.isBuffer(reopened.state.creds.noiseKey.private)).toBe(true);
  }
  expect(filesChecked).toBeGreaterThan(trials);
  const leftovers = (await readdir(folder)).filter((f) => f.endsWith('.tmp'));
  expect(leftovers).toEqual([]);
}, 30_000 + trials * perTrialBudgetMs);
