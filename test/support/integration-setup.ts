/**
 * Vitest global setup for the integration suite: build (or reuse) kube-apiserver and etcd, compile the
 * operator for the tests that run it as a separate process, and start one shared control plane. Each test
 * file works in namespaces of its own.
 */
import { execFileSync } from 'node:child_process';
import type { TestProject } from 'vitest/node';
import { REPO_ROOT, ensureControlPlaneBinaries, startControlPlane } from '../../src/local/control-plane.js';

declare module 'vitest' {
  export interface ProvidedContext {
    kubeconfig: string;
    apiServer: string;
    caCertPath: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const log = (line: string): void => console.log(line);
  const binDir = await ensureControlPlaneBinaries(log);
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: REPO_ROOT, stdio: 'inherit' });
  const cp = await startControlPlane({ binDir, log });
  project.provide('kubeconfig', cp.kubeconfigPath);
  project.provide('apiServer', cp.server);
  project.provide('caCertPath', cp.caCertPath);
  return () => cp.stop();
}
