/**
 * The Helm chart installed into the local control plane, and the operator working under the chart's RBAC:
 * it runs with a token of the chart's ServiceAccount (kubectl create token), through a recording proxy, and
 * completes a refresh; every verb the chart grants it is used, nothing else is asked for, nothing is denied.
 * Its /metrics carries every metric the chart's alerts and dashboard query.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { REPO_ROOT } from '../../tools/paths.js';
import { ApiRecorder, type RecordedRequest } from '../support/api-recorder.js';
import { SPEC, TestEnv, condition, sleep } from '../support/env.js';
import { kubectlOk } from '../support/kubectl.js';
import { CHART, type K8sObject, parseStream, run } from '../support/manifests.js';
import { TEST_FLAGS } from '../support/operator.js';
import { toolPaths } from '../support/tools.js';

const { helm } = toolPaths();
const env = new TestEnv('helm');
const release = 'ecr';
const fullname = 'ecr-milvus-refresh-operator';
const releaseNs = `${env.namespace}-operator`;
const work = mkdtempSync(join(tmpdir(), 'ecr-helm-'));
let recorder: ApiRecorder;
let operator: ChildProcess | undefined;
const lines: string[] = [];
let manifest: K8sObject[] = [];

const helmArgs = (...args: string[]): string[] => [...args, '--kubeconfig', env.kubeconfig];

async function waitForLog(re: RegExp, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const hit = lines.find((l) => re.test(l));
    if (hit) return hit;
    await sleep(50);
  }
  throw new Error(`operator log never matched ${re}; last lines:\n${lines.slice(-20).join('\n')}`);
}

/** RBAC rules the chart grants to its ServiceAccount, as "verb group/resource[/subresource]" (and names). */
function granted(objs: K8sObject[]): Map<string, string[] | undefined> {
  const out = new Map<string, string[] | undefined>();
  const bound = new Set(
    objs
      .filter((o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding')
      .filter((o) => (o.subjects as { name: string }[]).some((s) => s.name === fullname))
      .map((o) => (o.roleRef as { name: string }).name),
  );
  for (const role of objs.filter((o) => (o.kind === 'ClusterRole' || o.kind === 'Role') && bound.has(o.metadata.name)))
    for (const rule of role.rules as {
      apiGroups: string[];
      resources: string[];
      verbs: string[];
      resourceNames?: string[];
    }[])
      for (const group of rule.apiGroups)
        for (const resource of rule.resources)
          for (const verb of rule.verbs) out.set(`${verb} ${group}/${resource}`, rule.resourceNames);
  return out;
}

const used = (r: RecordedRequest): string =>
  `${r.verb} ${r.group}/${r.resource}${r.subresource ? `/${r.subresource}` : ''}`;

describe('Helm chart in a cluster', () => {
  beforeAll(async () => {
    await env.setUp();
    recorder = await ApiRecorder.start(inject('apiServer'), readFileSync(inject('caCertPath'), 'utf8'));
  });

  afterAll(async () => {
    if (operator && operator.exitCode === null) {
      operator.kill('SIGTERM');
      await new Promise((r) => operator!.once('exit', r));
    }
    await recorder?.close();
    await env.tearDown();
    await kubectlOk(env.kubeconfig, ['delete', 'namespace', releaseNs, '--wait=false']).catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  });

  it('kubectl apply -f crds/ works: the directory holds CRDs only', async () => {
    const out = await kubectlOk(env.kubeconfig, ['apply', '-f', join(REPO_ROOT, 'crds')]);
    expect(out).toMatch(
      /customresourcedefinition.apiextensions.k8s.io\/externalcollectionrefreshes.milvus.io (configured|unchanged)/,
    );
  });

  it('installs with every optional object on', async () => {
    // Stand-ins for the Prometheus Operator's CRDs, so the ServiceMonitor and PrometheusRule can be created.
    await kubectlOk(env.kubeconfig, ['apply', '-f', join(REPO_ROOT, 'test', 'fixtures', 'monitoring-crds.yaml')]);
    await kubectlOk(env.kubeconfig, [
      'wait',
      '--for=condition=Established',
      'crd/servicemonitors.monitoring.coreos.com',
      'crd/prometheusrules.monitoring.coreos.com',
    ]);
    const out = run(
      helm,
      helmArgs(
        'install',
        release,
        CHART,
        '--namespace',
        releaseNs,
        '--create-namespace',
        '--set',
        'metrics.serviceMonitor.enabled=true',
        '--set',
        'prometheusRule.enabled=true',
        '--set',
        'grafanaDashboard.enabled=true',
      ),
    );
    expect(out).toContain('STATUS: deployed');
    manifest = parseStream(run(helm, helmArgs('get', 'manifest', release, '--namespace', releaseNs)));
    const kinds = manifest.map((o) => o.kind).sort();
    expect(kinds).toEqual(
      [
        'ClusterRole',
        'ClusterRole',
        'ClusterRole',
        'ClusterRoleBinding',
        'ConfigMap',
        'Deployment',
        'PodDisruptionBudget',
        'PrometheusRule',
        'Role',
        'RoleBinding',
        'Service',
        'ServiceAccount',
        'ServiceMonitor',
      ].sort(),
    );
    // Everything the release rendered exists in the cluster.
    for (const o of manifest) {
      const group = o.apiVersion.includes('/') ? `.${o.apiVersion.split('/')[0]}` : '';
      const ns = o.metadata.namespace ? ['-n', o.metadata.namespace] : [];
      await kubectlOk(env.kubeconfig, ['get', ...ns, `${o.kind.toLowerCase()}${group}`, o.metadata.name]);
    }
  });

  it('runs the operator with the chart’s ServiceAccount token until a refresh completes', async () => {
    const token = (
      await kubectlOk(env.kubeconfig, ['-n', releaseNs, 'create', 'token', fullname, '--duration=1h'])
    ).trim();
    const kubeconfig = join(work, 'operator.kubeconfig');
    writeFileSync(
      kubeconfig,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'proxy', cluster: { server: recorder.url, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'chart-sa', user: { token } }],
        contexts: [{ name: 'chart', context: { cluster: 'proxy', user: 'chart-sa' } }],
        'current-context': 'chart',
      }),
      { mode: 0o600 },
    );
    // The Deployment's own arguments (cluster-wide, leader election on the release's Lease), with the test's
    // fast timings and loopback ports; POD_NAMESPACE as the downward API would set it.
    const deployment = manifest.find((o) => o.kind === 'Deployment') as K8sObject & {
      spec: { template: { spec: { containers: { args: string[] }[] } } };
    };
    const chartArgs = deployment.spec.template.spec.containers[0]!.args.filter(
      (a) =>
        !a.startsWith('--metrics-bind-address') &&
        !a.startsWith('--health-probe-bind-address') &&
        !a.startsWith('--log-level'),
    );
    expect(chartArgs).toEqual(['--leader-elect', `--leader-election-id=${fullname}`]);
    operator = spawn(
      process.execPath,
      [join(REPO_ROOT, 'dist', 'main.js'), `--kubeconfig=${kubeconfig}`, ...chartArgs, ...TEST_FLAGS],
      {
        env: { ...process.env, POD_NAMESPACE: releaseNs, POD_NAME: `${fullname}-0`, ECR_FAILPOINTS: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    for (const s of [operator.stdout!, operator.stderr!])
      createInterface({ input: s }).on('line', (l) => lines.push(l));
    await waitForLog(/Became the leader/);
    await waitForLog(/Controller started/);

    env.emulator.seedCollection({ name: 'products', source: 's3://lake/products/', spec: SPEC });
    await env.k('create', 'secret', 'generic', 'milvus-credentials', '--from-literal=token=root:Milvus');
    await env.applyRefresh('products', {
      milvus: { address: env.emulator.address, credentialsSecretRef: { name: 'milvus-credentials' } },
    });
    const r = await env.waitForReason('products', 'RefreshCompleted', 60_000);
    expect(condition(r, 'Ready')?.status).toBe('True');
    expect((await env.events('products')).map((e) => e.reason)).toContain('RefreshCompleted');
    // A resource deleted while cached is read once more before the operator lets it go.
    await env.k('delete', 'ecr', 'products');
    const deadline = Date.now() + 20_000;
    while (!recorder.requests.some((q) => q.verb === 'get' && q.resource === 'externalcollectionrefreshes')) {
      if (Date.now() > deadline) throw new Error('the operator never read the deleted resource');
      await sleep(100);
    }
    // A few lease renewals.
    await sleep(3_000);
  });

  it('used every verb the chart grants it, nothing more, and was never denied', () => {
    // No request refused by RBAC. (The operator watches every namespace: resources left by earlier test files
    // in namespaces being deleted get 403 "being terminated" for new events; that is not RBAC.)
    const denied = recorder.requests.filter(
      (q) => q.code === 401 || (q.code === 403 && !/being terminated/.test(q.message ?? '')),
    );
    expect(denied).toEqual([]);
    const grants = granted(manifest);
    expect([...new Set(recorder.requests.map(used))].sort()).toEqual([...grants.keys()].sort());
    // The Lease is read and renewed by name: the Role's resourceNames.
    for (const q of recorder.requests.filter((x) => x.resource === 'leases' && x.verb !== 'create'))
      expect(grants.get(used(q))).toContain(q.name);
    expect(recorder.requests.filter((q) => q.resource === 'leases').every((q) => q.namespace === releaseNs)).toBe(true);
    // Secrets by name, never listed.
    expect(recorder.requests.filter((q) => q.resource === 'secrets').map((q) => q.verb)).toEqual(
      expect.arrayContaining(['get']),
    );
  });

  it('exports every metric the chart’s alerts and dashboard query', async () => {
    const port = (JSON.parse(await waitForLog(/"message":"Serving metrics"/)) as { port: number }).port;
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    // Declared metrics (a labelled counter that never counted has its # TYPE line only).
    const exported = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
    const dashboard = readFileSync(join(CHART, 'dashboards', 'milvus-refresh-operator.json'), 'utf8');
    const rules = JSON.stringify(manifest.find((o) => o.kind === 'PrometheusRule'));
    const queried = new Set(
      [
        ...`${dashboard}\n${rules}`.matchAll(
          /\b((?:milvus_refresh|controller_runtime|workqueue|leader_election|process|nodejs)_[a-z0-9_]+)/g,
        ),
      ].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, '')),
    );
    expect(queried.size).toBeGreaterThan(15);
    const missing = [...queried].filter((m) => !exported.has(m));
    expect(missing).toEqual([]);
    // And every metric docs/operations.md lists as exported is.
    const docs = readFileSync(join(REPO_ROOT, 'docs', 'operations.md'), 'utf8');
    const table = docs.slice(docs.indexOf('## Metrics'), docs.indexOf('### Metrics the alerts need'));
    const documented = [...table.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]!);
    expect(documented.length).toBeGreaterThan(15);
    expect(documented.filter((m) => !exported.has(m))).toEqual([]);
    const alertMetrics = docs.slice(docs.indexOf('### Metrics the alerts need'), docs.indexOf('## Alerts'));
    const listed = [...alertMetrics.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]!);
    expect(listed.length).toBe(3);
    expect(listed.filter((m) => !exported.has(m))).toEqual([]);
  });
});
