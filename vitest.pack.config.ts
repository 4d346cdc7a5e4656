import { defineConfig } from 'vitest/config';

// `npm run test:pack`: the packed tarball installed into an empty project (minutes; run by .ci/run,
// not by `npm test`).
export default defineConfig({
  test: {
    include: ['test/pack/**/*.pack.ts'],
    testTimeout: 120_000,
    hookTimeout: 900_000,
    pool: 'forks',
  },
});
