/**
 * A Secret the operator may not read (issue 11, defect 10): the operator runs as a ServiceAccount whose Role
 * lacks `get` on Secrets. The 403 must show as a condition naming the Secret, never its content.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { writeTokenKubeconfig } from '../../tools/kubeconfig.js';
import { kubectlOk } from '../support/kubectl.js';
import { TestEnv, condition } from '../support/env.js';

const env = new TestEnv('forbid');
const PASSWORD = 'pw-never-shown-7f3a9c';
let kubeconfig: string;

describe('a Secret the operator cannot read', () => {
  beforeAll(async () => {
    await env.setUp();
    const ns = env.namespace;
    const role = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'no-secrets', namespace: ns },
      rules: [
        { apiGroups: ['milvus.io'], resources: ['externalcollectionrefreshes'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['milvus.io'], resources: ['externalcollectionrefreshes/status'], verbs: ['patch'] },
        { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create'] },
      ],
    };
    const items = [
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'no-secrets', namespace: ns } },
      role,
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'no-secrets', namespace: ns },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'no-secrets' },
        subjects: [{ kind: 'ServiceAccount', name: 'no-secrets', namespace: ns }],
      },
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'milvus-creds', namespace: ns },
        stringData: { username: 'root', password: PASSWORD },
      },
    ];
    await kubectlOk(env.kubeconfig, ['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
    const token = (
      await kubectlOk(env.kubeconfig, ['-n', ns, 'create', 'token', 'no-secrets', '--duration=1h'])
    ).trim();
    kubeconfig = join(mkdtempSync(join(tmpdir(), 'ecr-forbid-')), 'kubeconfig');
    writeTokenKubeconfig(kubeconfig, {
      server: inject('apiServer'),
      caPem: readFileSync(inject('caCertPath')),
      token,
      clusterName: 'local',
      userName: 'no-secrets',
      contextName: 'no-secrets',
    });
  });

  afterAll(async () => {
    await env.tearDown();
  });

  it('is Stalled with SecretUnreadable naming the Secret and the 403, without its content', async () => {
    await env.applyRefresh('guarded', {
      collectionName: 'guarded',
      milvus: { address: env.emulator.address, credentialsSecretRef: { name: 'milvus-creds' } },
    });
    const operator = env.startOperator({ kubeconfig });
    await operator.waitForLog(/Controller started/);
    const r = await env.waitForReason('guarded', 'SecretUnreadable');
    const stalled = condition(r, 'Stalled');
    expect(stalled).toMatchObject({ status: 'True', reason: 'SecretUnreadable' });
    expect(stalled?.message).toContain(`Secret ${env.namespace}/milvus-creds (spec.milvus.credentialsSecretRef)`);
    expect(stalled?.message).toMatch(/403/);
    expect(condition(r, 'Ready')?.status).toBe('False');
    expect(env.emulator.rpcs()).toHaveLength(0);
    const events = await env.events('guarded');
    expect(events.map((e) => e.reason)).toContain('SecretUnreadable');
    const everything = JSON.stringify({ r, events }) + operator.text();
    expect(everything).not.toContain(PASSWORD);
    expect(everything).not.toContain(Buffer.from(PASSWORD).toString('base64'));
    expect(operator.alive).toBe(true);
  });
});
