/**
 * The local control plane is a real Kubernetes API: CRD structural schemas and CEL, the status subresource,
 * optimistic concurrency and RBAC behave as in a cluster. Driven with the real kubectl.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { installCrds } from '../../tools/control-plane.js';
import { kubectl, kubectlOk, uniqueNamespace } from '../support/kubectl.js';

const kc = (): string => inject('kubeconfig');
const ns = uniqueNamespace('cp');

function widget(name: string, spec: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    apiVersion: 'test.ecr.dev/v1',
    kind: 'Widget',
    metadata: { name, namespace: ns, ...extra },
    spec,
  });
}

describe('local control plane', () => {
  beforeAll(async () => {
    await kubectlOk(kc(), ['create', 'namespace', ns]);
    const served = await installCrds(kc(), join(import.meta.dirname, '..', 'fixtures'));
    expect(served).toContain('widgets.test.ecr.dev/v1');
  });

  afterAll(async () => {
    await kubectl(kc(), ['delete', 'namespace', ns, '--wait=false']);
  });

  it('serves a Kubernetes v1.34 API', async () => {
    const out = JSON.parse(await kubectlOk(kc(), ['version', '-o', 'json'])) as {
      serverVersion: { gitVersion: string };
    };
    expect(out.serverVersion.gitVersion).toMatch(/^v1\.34\.\d+$/);
  });

  it('rejects an object that breaks a CEL rule with the rule message, and accepts a valid one', async () => {
    const bad = await kubectl(kc(), ['apply', '-f', '-'], widget('too-big', { size: 5, max: 3 }));
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('spec.size must not exceed spec.max');
    const missing = await kubectl(kc(), ['apply', '-f', '-'], widget('no-size', { max: 3 }));
    expect(missing.stderr).toContain('spec.size: Required value');
    await kubectlOk(kc(), ['apply', '-f', '-'], widget('ok', { size: 2, max: 3 }));
  });

  it('updates status through /status while ignoring a spec change sent with it', async () => {
    await kubectlOk(kc(), ['apply', '-f', '-'], widget('status-demo', { size: 1 }));
    const before = JSON.parse(await kubectlOk(kc(), ['-n', ns, 'get', 'widget', 'status-demo', '-o', 'json'])) as {
      metadata: { generation: number };
    };
    await kubectlOk(kc(), [
      '-n',
      ns,
      'patch',
      'widget',
      'status-demo',
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status: { phase: 'Done' }, spec: { size: 99 } }),
    ]);
    const after = JSON.parse(await kubectlOk(kc(), ['-n', ns, 'get', 'widget', 'status-demo', '-o', 'json'])) as {
      spec: { size: number };
      status: { phase: string };
      metadata: { generation: number };
    };
    expect(after.status.phase).toBe('Done');
    expect(after.spec.size).toBe(1);
    expect(after.metadata.generation).toBe(before.metadata.generation);
    // And the main resource ignores status.
    await kubectlOk(kc(), [
      '-n',
      ns,
      'patch',
      'widget',
      'status-demo',
      '--type=merge',
      '-p',
      JSON.stringify({ status: { phase: 'Hacked' } }),
    ]);
    expect(await kubectlOk(kc(), ['-n', ns, 'get', 'widget', 'status-demo', '-o', 'jsonpath={.status.phase}'])).toBe(
      'Done',
    );
  });

  it('answers 409 Conflict to a write with a stale resourceVersion', async () => {
    await kubectlOk(kc(), ['apply', '-f', '-'], widget('conflict-demo', { size: 1 }));
    const current = JSON.parse(
      await kubectlOk(kc(), ['-n', ns, 'get', 'widget', 'conflict-demo', '-o', 'json']),
    ) as Record<string, unknown> & {
      spec: { size: number };
    };
    await kubectlOk(kc(), ['-n', ns, 'patch', 'widget', 'conflict-demo', '--type=merge', '-p', '{"spec":{"size":2}}']);
    current.spec.size = 3;
    const stale = await kubectl(kc(), ['replace', '-f', '-'], JSON.stringify(current));
    expect(stale.code).not.toBe(0);
    expect(stale.stderr).toMatch(/Conflict|the object has been modified/);
    const raw = await kubectl(kc(), ['get', '--raw', `/apis/test.ecr.dev/v1/namespaces/${ns}/widgets/conflict-demo`]);
    expect((JSON.parse(raw.stdout) as { spec: { size: number } }).spec.size).toBe(2);
  });

  it('enforces RBAC on a ServiceAccount token from kubectl create token', async () => {
    await kubectlOk(kc(), ['-n', ns, 'create', 'serviceaccount', 'reader']);
    await kubectlOk(kc(), [
      '-n',
      ns,
      'create',
      'role',
      'read-widgets',
      '--verb=get,list',
      '--resource=widgets.test.ecr.dev',
    ]);
    await kubectlOk(kc(), [
      '-n',
      ns,
      'create',
      'rolebinding',
      'reader-widgets',
      '--role=read-widgets',
      `--serviceaccount=${ns}:reader`,
    ]);
    const token = (await kubectlOk(kc(), ['-n', ns, 'create', 'token', 'reader', '--duration=10m'])).trim();
    expect(token.split('.')).toHaveLength(3); // a signed JWT
    const asReader = ['--token', token, '--user', ''];
    expect((await kubectlOk(kc(), [...asReader, '-n', ns, 'get', 'widgets', '-o', 'name'])).split('\n')).toContain(
      'widget.test.ecr.dev/ok',
    );
    const denied = await kubectl(kc(), [...asReader, '-n', ns, 'delete', 'widget', 'ok']);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain(
      `User "system:serviceaccount:${ns}:reader" cannot delete resource "widgets" in API group "test.ecr.dev"`,
    );
    const canI = await kubectl(kc(), [
      'auth',
      'can-i',
      'delete',
      'widgets.test.ecr.dev',
      '-n',
      ns,
      `--as=system:serviceaccount:${ns}:reader`,
    ]);
    expect(canI.stdout.trim()).toBe('no');
    expect((await kubectlOk(kc(), ['-n', ns, 'get', 'widget', 'ok', '-o', 'name'])).trim()).toBe(
      'widget.test.ecr.dev/ok',
    );
  });
});
