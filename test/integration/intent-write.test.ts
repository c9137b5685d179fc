/**
 * A status write that the API server keeps refusing (issue 11, defect 3): a ValidatingAdmissionPolicy refuses
 * every status write of one resource that records a run's intent. The refusal must show in its conditions
 * and events, and the collection's claim must go back so another resource on the same collection completes.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubectl, kubectlOk } from '../support/kubectl.js';
import { SPEC, TestEnv, condition } from '../support/env.js';

const env = new TestEnv('intent');
const POLICY = `${env.namespace}-refuse-intent`;

/** Waits until a probe run intent on `blocked` is refused by the policy (a probe that passes is taken back). */
async function policyEnforced(): Promise<void> {
  const patch = (status: unknown) =>
    kubectl(env.kubeconfig, [
      '-n',
      env.namespace,
      'patch',
      'externalcollectionrefresh',
      'blocked',
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status }),
    ]);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const probe = await patch({ run: { trigger: 'probe' } });
    if (probe.code !== 0 && probe.stderr.includes('test policy refuses')) return;
    if (probe.code === 0) await patch({ run: null });
    if (Date.now() > deadline) throw new Error(`the policy was not enforced within 30 s: ${probe.stderr}`);
    await sleep(200);
  }
}

describe('a refused intent write', () => {
  beforeAll(async () => {
    await env.setUp();
    env.emulator.seedCollection({
      name: 'shared',
      source: 's3://lake/shared/',
      spec: { ...SPEC, extfs: { ...SPEC.extfs } },
    });
    const policy = {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: POLICY },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          resourceRules: [
            {
              apiGroups: ['milvus.io'],
              apiVersions: ['*'],
              operations: ['UPDATE'],
              resources: ['externalcollectionrefreshes/status'],
            },
          ],
        },
        validations: [
          {
            expression: `object.metadata.namespace != '${env.namespace}' || object.metadata.name != 'blocked' || !has(object.status) || !has(object.status.run)`,
            message: 'test policy refuses every run intent of blocked',
          },
        ],
      },
    };
    const binding = {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name: POLICY },
      spec: { policyName: POLICY, validationActions: ['Deny'] },
    };
    await kubectlOk(
      env.kubeconfig,
      ['apply', '-f', '-'],
      JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [policy, binding] }),
    );
  });

  afterAll(async () => {
    await kubectl(env.kubeconfig, ['delete', 'validatingadmissionpolicybinding,validatingadmissionpolicy', POLICY]);
    await env.tearDown();
  });

  it('shows the refusal as StatusWriteFailed and lets another resource on the collection complete', async () => {
    await env.applyRefresh('blocked', { collectionName: 'shared' });
    // The API server enforces a new policy only once its informer has it: had the operator's first intent
    // write come before that, it would pass and the run would go on (a CI run saw RefreshSubmitted here).
    await policyEnforced();
    const operator = env.startOperator();
    await operator.waitForLog(/Controller started/);
    const blocked = await env.waitForReason('blocked', 'StatusWriteFailed', 60_000);
    expect(condition(blocked, 'Stalled')).toMatchObject({ status: 'True', reason: 'StatusWriteFailed' });
    expect(condition(blocked, 'Ready')?.status).toBe('False');
    expect(condition(blocked, 'Ready')?.message).toContain('test policy refuses every run intent of blocked');
    expect(blocked.status?.run).toBeUndefined();
    expect(env.emulator.jobs('shared')).toHaveLength(0);
    const events = await env.events('blocked');
    expect(events).toEqual(
      expect.arrayContaining([expect.objectContaining({ type: 'Warning', reason: 'StatusWriteFailed' })]),
    );

    // The same collection, another resource: it gets the collection and completes.
    await env.applyRefresh('second', { collectionName: 'shared' });
    const second = await env.waitFor('second', (r) => condition(r, 'Ready')?.status === 'True', 30_000, 'Ready=True');
    expect(second.status?.state).toBe('RefreshCompleted');
    expect(env.emulator.jobs('shared')).toHaveLength(1);
    expect(operator.alive).toBe(true);
  });
});
