import { defineConfig } from 'vitest/config';

const EMULATOR = 'packages/milvus-refresh-emulator';

// Three suites, one command (`npm test`):
// - unit: pure logic, no processes (the operator's and the emulator package's).
// - conformance: the Milvus emulator over real gRPC, driven by the official Node SDK and pymilvus.
// - integration: a real kube-apiserver + etcd (built from Go modules, cached outside the repo), real
//   kubectl, the emulator and the operator as a separate process.
// Every suite first checks that it runs on the Node the project pins.
export default defineConfig({
  // Workspace packages resolve to their TypeScript sources (as in tsconfig.json): no build before a test.
  // Vitest hands these conditions to its workers' Node too (--conditions), so Vite's default `module` is left
  // out: with it Node would load the ESM builds of some dependencies (@aws-sdk/*) that only bundlers can load.
  ssr: { resolve: { conditions: ['@milvus-refresh-operator/source', 'node'] } },
  test: {
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', `${EMULATOR}/test/unit/**/*.test.ts`],
          globalSetup: ['test/support/node-version.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'conformance',
          include: [`${EMULATOR}/test/conformance/**/*.test.ts`],
          globalSetup: ['test/support/node-version.ts', `${EMULATOR}/test/support/python-setup.ts`],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'deploy',
          // The chart, the kustomize bases, alerts and health checks: Go tools built by scripts/build-tools.sh.
          include: ['test/deploy/**/*.test.ts'],
          globalSetup: ['test/support/node-version.ts', 'test/support/tools-setup.ts'],
          testTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: [
            'test/support/node-version.ts',
            'test/support/tools-setup.ts',
            'test/support/integration-setup.ts',
          ],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          // One shared control plane; files run one at a time so timing assertions are not starved on 2 cores.
          fileParallelism: false,
        },
      },
    ],
  },
});
