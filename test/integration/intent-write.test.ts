/**
 * A status write that the API server keeps refusing (issue 11, defect 3): a ValidatingAdmissionPolicy refuses
 * every status write of one resource that records a run's intent. The refusal must show in its conditions
 * and events, and the collection's claim must go back so another resource on the same collection completes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubectl, kubectlOk } from '../support/kubectl.js';
import { SPEC, TestEnv, condition } from '../support/env.js';

const env = new TestEnv('intent');
const POLICY = `${env.namespace}-refuse-intent`;

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
    const operator = env.startOperator();
    await operator.waitForLog(/Controller started/);
    // The policy takes a moment to be enforced; the operator retries with backoff meanwhile.
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
