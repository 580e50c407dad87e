#!/usr/bin/env node
/**
 * `npm run licenses`: writes THIRD_PARTY_LICENSES from package-lock.json — every
 * package a deployment installs (`npm ci --omit=dev`), with the licence its
 * package declares. `--check` only compares, and exits 1 when the file is not
 * what the lockfile says (the test suite runs it, so a dependency change without
 * a regenerated file fails).
 *
 * Plain JavaScript, no dependencies: it reads the lockfile, not node_modules, so
 * it lists the same thing on every machine (platform-only packages included,
 * marked as such).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const target = join(root, 'THIRD_PARTY_LICENSES');

export function render(lock) {
  const rows = [];
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === '' || entry.dev || entry.link) continue;
    const name = entry.name ?? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    const platform = [entry.os, entry.cpu, entry.libc].filter(Boolean).map((list) => list.join('/')).join(' ');
    rows.push({ name, version: entry.version, license: entry.license ?? 'UNKNOWN (no licence declared)', platform });
  }
  rows.sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version));
  const counts = new Map();
  for (const row of rows) counts.set(row.license, (counts.get(row.license) ?? 0) + 1);
  const summary = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const width = Math.max(...rows.map((row) => `${row.name}@${row.version}`.length));
  return [
    `Third-party software that ${lock.name} installs to run (npm ci --omit=dev): ${rows.length} packages.`,
    'Generated from package-lock.json by `npm run licenses`; do not edit by hand.',
    'Licences are as each package declares them. A package marked with a platform is installed only there.',
    'What the GPL-3.0 and LGPL-3.0 entries mean for a deployment: README.md, section "Licence".',
    '',
    'Licences',
    ...summary.map(([license, count]) => `  ${String(count).padStart(4)}  ${license}`),
    '',
    'Packages',
    ...rows.map((row) => `  ${`${row.name}@${row.version}`.padEnd(width)}  ${row.license}${row.platform ? `  (only on ${row.platform})` : ''}`),
    '',
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const text = render(JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')));
  if (process.argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(target, 'utf8');
    } catch {
      // Missing: as stale as a wrong one.
    }
    if (current !== text) {
      process.stderr.write('THIRD_PARTY_LICENSES is not what package-lock.json says: run `npm run licenses` and commit it\n');
      process.exit(1);
    }
  } else {
    writeFileSync(target, text);
  }
}
