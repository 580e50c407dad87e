/**
 * THIRD_PARTY_LICENSES is current with the lockfile, and says what a deployment
 * needs to know: the GPL-3.0 package Baileys pulls in.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';

it('THIRD_PARTY_LICENSES is what `npm run licenses` writes from package-lock.json', () => {
  const check = spawnSync(process.execPath, ['scripts/licenses.mjs', '--check'], { encoding: 'utf8' });
  expect(check.stderr).toBe('');
  expect(check.status).toBe(0);
});

it('lists every package a production install gets, with its licence, libsignal as GPL-3.0', () => {
  const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as { packages: Record<string, { dev?: boolean; version?: string }> };
  const shipped = Object.entries(lock.packages).filter(([path, entry]) => path !== '' && !entry.dev);
  const text = readFileSync('THIRD_PARTY_LICENSES', 'utf8');
  expect(text).toContain(`${shipped.length} packages`);
  expect(text).toMatch(/^ {2}libsignal@\d[^ ]* +GPL-3\.0$/m);
  expect(text).toMatch(/^ {2}@whiskeysockets\/baileys@7\.0\.0-rc14 +MIT$/m);
  expect(text).not.toMatch(/^ {2}(vitest|typescript|eslint)@/m);
  expect(readFileSync('LICENSE', 'utf8')).toMatch(/^MIT License/);
});
