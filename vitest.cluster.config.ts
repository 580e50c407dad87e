import { defineConfig } from 'vitest/config';

// The cluster test runs three node processes with 90 real Baileys sessions: alone, after the
// rest of the suite (vitest.config.ts excludes it), so lease timings are not at the mercy of a
// dozen other test files.
export default defineConfig({
  test: {
    include: ['test/reliability/cluster.test.ts'],
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    globalSetup: ['test/support/postgres-global-setup.ts'],
  },
});
