import { defineConfig } from 'vitest/config';

// Three suites, one command (`npm test`):
// - unit: pure logic, no processes.
// - conformance: the Milvus emulator over real gRPC, driven by the official Node SDK and pymilvus.
// - integration: a real kube-apiserver + etcd (built from Go modules, cached outside the repo), real
//   kubectl, the emulator and the operator as a separate process.
export default defineConfig({
  test: {
    reporters: ['default'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          globalSetup: ['test/support/node-version.ts'],
        },
      },
      {
        test: {
          name: 'conformance',
          include: ['test/conformance/**/*.test.ts'],
          globalSetup: ['test/support/node-version.ts', 'test/support/python-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/support/node-version.ts', 'test/support/integration-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          // One shared control plane; files run one at a time so timing assertions are not starved on 2 cores.
          fileParallelism: false,
        },
      },
    ],
  },
});
