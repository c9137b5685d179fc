/**
 * Vitest global setup for the integration suite: build (or reuse) kube-apiserver and etcd, compile the
 * operator for the tests that run it as a separate process, and start one shared control plane. Each test
 * file works in namespaces of its own.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { ensureControlPlaneBinaries, startControlPlane } from '../../tools/control-plane.js';
import { writeTokenKubeconfig } from '../../tools/kubeconfig.js';
import { REPO_ROOT } from '../../tools/paths.js';

declare module 'vitest' {
  export interface ProvidedContext {
    kubeconfig: string;
    apiServer: string;
    caCertPath: string;
    /** Kubeconfig of the operator's ServiceAccount, bound by deploy/base/rbac.yaml: least privilege. */
    operatorKubeconfig: string;
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
  project.provide('operatorKubeconfig', operatorKubeconfig(cp.kubeconfigPath, cp.server, cp.caCertPath, cp.workDir));
  return () => cp.stop();
}

/** Applies the shipped RBAC and returns a kubeconfig with a token of the operator's ServiceAccount. */
function operatorKubeconfig(admin: string, server: string, caCertPath: string, dir: string): string {
  const kubectl = (...args: string[]): string =>
    execFileSync('kubectl', ['--kubeconfig', admin, ...args], { encoding: 'utf8' });
  kubectl(
    'apply',
    '-f',
    join(REPO_ROOT, 'deploy', 'base', 'namespace.yaml'),
    '-f',
    join(REPO_ROOT, 'deploy', 'base', 'rbac.yaml'),
  );
  const token = kubectl(
    '-n',
    'milvus-refresh-operator',
    'create',
    'token',
    'milvus-refresh-operator',
    '--duration=6h',
  ).trim();
  const path = join(dir, 'operator.kubeconfig');
  const caPem = readFileSync(caCertPath);
  writeTokenKubeconfig(path, {
    server,
    caPem,
    token,
    clusterName: 'local',
    userName: 'operator',
    contextName: 'operator',
  });
  return path;
}
