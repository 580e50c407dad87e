import { defineConfig } from 'vitest/config';

// `npm run test:browser`: tests that drive Debian's headless Chromium.
export default defineConfig({
  test: {
    include: ['test/browser/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // One Chromium at a time: the machine is shared.
    fileParallelism: false,
    // The cluster view's test runs two nodes on PostgreSQL: TEST_DATABASE_URL, else an embedded server.
    globalSetup: ['test/support/postgres-global-setup.ts'],
  },
});
