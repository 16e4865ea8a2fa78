import { defineConfig } from 'vitest/config';

// Every suite runs twice: once on the pure-TS backend and once on the native addon.
const shared = {
  include: ['test/**/*.test.ts'],
  exclude: ['test/gpu/**', 'node_modules/**'],
  testTimeout: 60_000,
  hookTimeout: 60_000,
};

export default defineConfig({
  test: {
    pool: 'forks',
    projects: [
      { test: { ...shared, name: 'ts', env: { ULTRA_PERF_BACKEND: 'ts' } } },
      { test: { ...shared, name: 'native', env: { ULTRA_PERF_BACKEND: 'native' } } },
    ],
  },
});
