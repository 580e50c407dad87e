import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The cluster test runs on its own after the rest (vitest.cluster.config.ts).
    exclude: ['test/browser/**', 'test/reliability/cluster.test.ts', 'node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // One embedded PostgreSQL per run, started only if a test asks (test/support/postgres.ts).
    globalSetup: ['test/support/postgres-global-setup.ts'],
    // The soak test measures heap after a forced GC.
    execArgv: ['--expose-gc'],
  },
});
