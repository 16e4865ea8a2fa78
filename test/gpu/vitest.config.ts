import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/gpu/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 120_000,
    env: { ULTRA_PERF_BACKEND: 'auto' },
  },
});
