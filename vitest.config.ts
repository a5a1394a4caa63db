import { defaultServerConditions, defineConfig } from 'vite';

// Tests import workspace packages from their TypeScript sources (the `webmon-source` export
// condition); end-to-end tests run the built CLI as real processes.
export default defineConfig({
  resolve: { conditions: ['webmon-source', ...defaultServerConditions] },
  ssr: { resolve: { conditions: ['webmon-source', ...defaultServerConditions] } },
  test: {
    include: [
      'packages/*/src/**/*.test.ts',
      'plugins/*/src/**/*.test.ts',
      'api/src/**/*.test.ts',
      'dispatcher/src/**/*.test.ts',
      'executor/src/**/*.test.ts',
      'test/**/*.test.ts',
    ],
    globalSetup: ['test/helpers/global-setup.ts'],
    setupFiles: ['test/helpers/port-lane.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
  },
});
