/**
 * client-node's informer stops on any watch error but 410: the operator must notice and resume. Here the
 * kube-apiserver itself is restarted under a running operator (its own control plane, not the shared one).
 */
import { type MilvusEmulator, startEmulator } from 'milvus-refresh-emulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ControlPlane, ensureControlPlaneBinaries, startControlPlane } from '../../tools/control-plane.js';
import { kubectlOk } from '../support/kubectl.js';
import { OperatorProcess } from '../support/operator.js';
import { SPEC, sleep } from '../support/env.js';

let cp: ControlPlane;
let emulator: MilvusEmulator;
let operator: OperatorProcess;

async function apply(name: string): Promise<void> {
  const body = {
    apiVersion: 'milvus.io/v1alpha1',
    kind: 'ExternalCollectionRefresh',
    metadata: { name, namespace: 'watch' },
    spec: { milvus: { address: emulator.address }, collectionName: name },
  };
  await kubectlOk(cp.kubeconfigPath, ['apply', '-f', '-'], JSON.stringify(body));
}

async function completed(name: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const state = await kubectlOk(cp.kubeconfigPath, [
      '-n',
      'watch',
      'get',
      'ecr',
      name,
      '-o',
      'jsonpath={.status.state}',
    ]).catch(() => '');
    if (state === 'RefreshCompleted') return true;
    await sleep(250);
  }
  return false;
}

describe('operator watch robustness', () => {
  beforeAll(async () => {
    cp = await startControlPlane({ binDir: await ensureControlPlaneBinaries(() => undefined), log: () => undefined });
    emulator = await startEmulator({ timings: { job: { durationMs: 1_000, pendingMs: 100 } } });
    for (const name of ['before', 'after']) emulator.seedCollection({ name, source: `s3://lake/${name}/`, spec: SPEC });
    await kubectlOk(cp.kubeconfigPath, ['create', 'namespace', 'watch']);
    // A resync period far beyond the test: recovery must come from the restarted watch, not a periodic relist.
    operator = new OperatorProcess({ kubeconfig: cp.kubeconfigPath, namespace: 'watch', args: ['--resync-period=1h'] });
    await operator.waitForLog(/Controller started/);
  });

  afterAll(async () => {
    await operator?.stop();
    await emulator?.close();
    await cp?.stop();
  });

  it('resumes watching after the API server restarts, and reconciles what was created meanwhile and after', async () => {
    await apply('before');
    expect(await completed('before', 30_000)).toBe(true);
    await cp.restartApiServer();
    await apply('after');
    expect(await completed('after', 60_000)).toBe(true);
    expect(operator.alive).toBe(true);
    // The watch did fail (client-node stops its informer then) and was restarted.
    expect(operator.text()).toMatch(/Watch of ExternalCollectionRefresh failed; restarting/);
    expect(emulator.jobs('before')).toHaveLength(1);
    expect(emulator.jobs('after')).toHaveLength(1);
  });
});
