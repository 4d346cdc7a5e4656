import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/contract/**/*.contract.ts'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
    pool: 'forks',
    globalSetup: ['test/support/pg-global-setup.ts'],
  },
});
