/**
 * src/session/ sits below the registry and everything that listens to it: what a
 * session's view and its changes are is defined there, so it may import the
 * machine and the store, never the layers built on it.
 */
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const folder = fileURLToPath(new URL('../../src/session/', import.meta.url));
const higherLayers = ['service', 'http', 'events', 'inspector', 'metrics', 'messages', 'webhooks'];

it('src/session/ imports nothing from the layers above it', async () => {
  const files = (await readdir(folder)).filter((name) => name.endsWith('.ts'));
  expect(files.length).toBeGreaterThan(0);
  for (const file of files) {
    const text = await readFile(folder + file, 'utf8');
    const imports = [...text.matchAll(/from '([^']+)'/g)].map((m) => m[1]!);
    const upward = imports.filter((path) => higherLayers.some((layer) => path.startsWith(`../${layer}/`)));
    expect(upward, file).toEqual([]);
  }
});
