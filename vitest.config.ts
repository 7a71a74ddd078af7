import { defineConfig } from 'vitest/config';

// One runner for the whole repo: unit tests beside the code (libs, services), cross-service,
// browser and fault tests in tests/. Integration tests start their own servers or use
// NATS_URL / REDIS_URL with a unique subject/key prefix, so files may run in parallel.
export default defineConfig({
  test: {
    include: [
      'libs/*/src/**/*.test.ts',
      'libs/*/test/**/*.test.ts',
      'services/*/src/**/*.test.ts',
      'tests/**/*.test.ts',
      'clients/web/src/**/*.test.ts',
    ],
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default', './scripts/summary-reporter.ts'],
  },
});
