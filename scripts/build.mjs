#!/usr/bin/env node
/**
 * `npm run build` (and the pre-scripts of start, sim, demo, migrate-sessions, cluster:demo):
 * compiles src/ into dist/ only when a source changed, and never twice at once.
 *
 * - Incremental: `tsc -b` keeps dist/.tsbuildinfo and does nothing when every input is
 *   as it was (a second or two instead of twenty).
 * - One build at a time: two `npm start` in one clone (the README's two-node example)
 *   would otherwise run two compilers writing the same files of dist/. The second
 *   waits for the first (scripts/build-lock.mjs), then finds nothing to do.
 *
 * Plain JavaScript on purpose: it runs before anything is compiled.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { acquireLock } from './build-lock.mjs';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const dist = join(root, 'dist');
const buildInfo = join(dist, '.tsbuildinfo');
/** What the npm scripts run: with one missing, tsc -b's record of dist/ cannot be trusted (it checks sources, not outputs). */
const entryPoints = ['src/main.js', 'src/sim/main.js', 'src/demo.js', 'src/tools/migrate-sessions.js'].map((file) => join(dist, file));

let release;
try {
  release = acquireLock(join(dist, '.build-lock'), { onWait: () => process.stderr.write('build: waiting for another build of this folder to finish\n') });
} catch (error) {
  process.stderr.write(`build: ${error.message}\n`);
  process.exit(1);
}
let status = 1;
try {
  if (!entryPoints.every((file) => existsSync(file))) rmSync(buildInfo, { force: true });
  let tsc;
  try {
    tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  } catch {
    throw new Error('TypeScript is not installed (an `npm ci --omit=dev` install): build where dev dependencies are, or run `node dist/src/main.js` on a built dist/');
  }
  status = spawnSync(process.execPath, [tsc, '-b', join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root }).status ?? 1;
} catch (error) {
  process.stderr.write(`build: ${error.message}\n`);
} finally {
  release();
}
process.exit(status);
