import { defineConfig } from 'vitest/config';

// This package's suites on their own (`npm test` in this directory). The milvus-refresh-operator repository
// runs the same files from its root vitest.config.ts, as part of its `unit` and `conformance` suites.
// - unit: the job model and validation rules, no processes.
// - conformance: the emulator over real gRPC, driven by the official Node SDK and by pymilvus (installed on
//   first run into a virtualenv outside the repository).
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        test: {
          name: 'conformance',
          include: ['test/conformance/**/*.test.ts'],
          globalSetup: ['test/support/python-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
