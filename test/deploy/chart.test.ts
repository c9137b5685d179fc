/**
 * The Helm chart: helm lint, and helm template compared with the kustomize bases object by object, then each
 * value doing what docs/install.md says it does.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT } from '../../tools/paths.js';
import {
  CHART,
  type K8sObject,
  helmTemplate,
  keyOf,
  kustomize,
  normalized,
  run,
  tryRun,
} from '../support/manifests.js';
import { toolPaths } from '../support/tools.js';

const { helm } = toolPaths();

type Container = {
  args: string[];
  image: string;
  resources: unknown;
  securityContext: Record<string, unknown>;
};
type DeploymentObject = K8sObject & { spec: { replicas: number; template: { spec: { containers: Container[] } } } };
type ServiceMonitorObject = K8sObject & {
  spec: { endpoints: { port: string }[]; selector: { matchLabels: Record<string, string> } };
};
const deployment = (objs: K8sObject[]): DeploymentObject =>
  objs.find((o) => o.kind === 'Deployment') as DeploymentObject;
const container = (objs: K8sObject[]): Container => deployment(objs).spec.template.spec.containers[0]!;
const byKey = (objs: K8sObject[]): Map<string, K8sObject> => new Map(objs.map((o) => [keyOf(o), normalized(o)]));

describe('Helm chart', () => {
  it('passes helm lint --strict, with the defaults and with every optional object on', () => {
    expect(run(helm, ['lint', '--strict', CHART])).toContain('1 chart(s) linted, 0 chart(s) failed');
    const all = [
      'metrics.serviceMonitor.enabled=true',
      'prometheusRule.enabled=true',
      'grafanaDashboard.enabled=true',
      'watchNamespace=search',
    ];
    expect(run(helm, ['lint', '--strict', CHART, ...all.flatMap((s) => ['--set', s])])).toContain('0 chart(s) failed');
  });

  it('renders the objects of deploy/cluster-wide with its defaults (the namespace is Helm’s to create)', () => {
    const chart = byKey(helmTemplate(helm, { includeCrds: true }));
    const base = byKey(kustomize('deploy/cluster-wide'));
    expect([...chart.keys()].sort()).toEqual([...base.keys()].filter((k) => !k.startsWith('Namespace/')).sort());
    for (const [key, obj] of chart) expect({ key, obj }).toEqual({ key, obj: base.get(key) });
  });

  it('renders the objects of deploy/namespaced with watchNamespace=search', () => {
    const chart = byKey(helmTemplate(helm, { includeCrds: true, set: { watchNamespace: 'search' } }));
    const base = byKey(kustomize('deploy/namespaced'));
    expect([...chart.keys()].sort()).toEqual([...base.keys()].filter((k) => !k.startsWith('Namespace/')).sort());
    for (const [key, obj] of chart) expect({ key, obj }).toEqual({ key, obj: base.get(key) });
    expect(chart.has('ClusterRoleBinding//milvus-refresh-operator')).toBe(false);
    expect(container([...chart.values()]).args).toContain('--namespace=search');
  });

  it('names every object after the release, so two releases do not collide (Lease included)', () => {
    const objs = helmTemplate(helm, { release: 'search-refresh', namespace: 'ops' });
    for (const o of objs) expect(o.metadata.name).toMatch(/^search-refresh-milvus-refresh-operator/);
    expect(container(objs).args).toContain('--leader-election-id=search-refresh-milvus-refresh-operator');
    const lease = objs.find((o) => o.kind === 'Role' && o.metadata.name.endsWith('-leader-election')) as K8sObject & {
      rules: { resourceNames?: string[] }[];
    };
    expect(lease.metadata.namespace).toBe('ops');
    expect(lease.rules[1]!.resourceNames).toEqual(['search-refresh-milvus-refresh-operator']);
  });

  it('applies image, replicas, resources, log level and extra args', () => {
    const objs = helmTemplate(helm, {
      set: {
        'image.repository': 'registry.example.com/mro',
        'image.tag': '1.2.3',
        replicaCount: '3',
        'resources.limits.memory': '1Gi',
        logLevel: 'debug',
        watchLabelSelector: 'sharding.fluxcd.io/key in (shard1)',
        'extraArgs[0]': '--poll-interval=10s',
      },
    });
    const c = container(objs);
    expect(c.image).toBe('registry.example.com/mro:1.2.3');
    expect(deployment(objs).spec.replicas).toBe(3);
    expect(c.resources).toEqual({ requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '1Gi' } });
    expect(c.args).toContain('--log-level=debug');
    expect(c.args).toContain('--watch-label-selector=sharding.fluxcd.io/key in (shard1)');
    expect(container(helmTemplate(helm, {})).args.some((a) => a.startsWith('--watch-label-selector'))).toBe(false);
    expect(c.args.at(-1)).toBe('--poll-interval=10s');
    const digest = container(
      helmTemplate(helm, {
        set: { 'image.digest': 'sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef' },
      }),
    );
    expect(digest.image).toBe(
      'milvus-refresh-operator@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
    );
  });

  it('without leader election runs one replica without a Lease Role, and refuses two', () => {
    const objs = helmTemplate(helm, { set: { 'leaderElection.enabled': 'false', replicaCount: '1' } });
    expect(container(objs).args.filter((a) => a.startsWith('--leader'))).toEqual([]);
    expect(objs.some((o) => o.metadata.name.endsWith('-leader-election'))).toBe(false);
    const refused = tryRun(helm, ['template', 'x', CHART, '--set', 'leaderElection.enabled=false']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('replicaCount > 1 needs leaderElection.enabled');
  });

  it('makes the metrics Service, ServiceMonitor, PodDisruptionBudget, PrometheusRule and dashboard optional', () => {
    const kinds = (set: Record<string, string>): string[] => helmTemplate(helm, { set }).map((o) => o.kind);
    expect(kinds({})).toEqual(expect.arrayContaining(['Service', 'PodDisruptionBudget']));
    expect(kinds({})).not.toEqual(expect.arrayContaining(['ServiceMonitor']));
    expect(kinds({ 'metrics.service.enabled': 'false', 'podDisruptionBudget.enabled': 'false' })).not.toEqual(
      expect.arrayContaining(['Service']),
    );
    const all = helmTemplate(helm, {
      set: {
        'metrics.serviceMonitor.enabled': 'true',
        'metrics.serviceMonitor.labels.release': 'kube-prometheus-stack',
        'prometheusRule.enabled': 'true',
        'grafanaDashboard.enabled': 'true',
      },
    });
    const sm = all.find((o) => o.kind === 'ServiceMonitor') as ServiceMonitorObject;
    expect(sm.metadata.labels?.release).toBe('kube-prometheus-stack');
    expect(sm.spec.endpoints[0]!.port).toBe('metrics');
    // The ServiceMonitor selects the metrics Service by its labels.
    const svc = all.find((o) => o.kind === 'Service')!;
    for (const [k, v] of Object.entries(sm.spec.selector.matchLabels)) expect(svc.metadata.labels?.[k]).toBe(v);
    expect(all.some((o) => o.kind === 'PrometheusRule')).toBe(true);
    const cm = all.find((o) => o.kind === 'ConfigMap') as K8sObject & { data: Record<string, string> };
    expect(cm.metadata.labels?.grafana_dashboard).toBe('1');
    const dashboard = JSON.parse(cm.data['milvus-refresh-operator.json']!) as { title: string };
    expect(dashboard.title).toBe('Milvus refresh operator');
    const refused = tryRun(helm, [
      'template',
      'x',
      CHART,
      '--set',
      'metrics.serviceMonitor.enabled=true',
      '--set',
      'metrics.service.enabled=false',
    ]);
    expect(refused.stderr).toContain('metrics.serviceMonitor.enabled needs metrics.service.enabled');
  });

  it('renders the CRD only from crds/ (helm template --include-crds), never as a template', () => {
    expect(helmTemplate(helm).some((o) => o.kind === 'CustomResourceDefinition')).toBe(false);
    const crds = helmTemplate(helm, { includeCrds: true }).filter((o) => o.kind === 'CustomResourceDefinition');
    expect(crds.map((o) => o.metadata.name)).toEqual(['externalcollectionrefreshes.milvus.io']);
  });

  it('documents every value in docs/install.md', () => {
    const values = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Record<string, unknown>;
    const leaves: string[] = [];
    const walk = (prefix: string, v: unknown): void => {
      if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0)
        for (const [k, x] of Object.entries(v)) walk(prefix ? `${prefix}.${k}` : k, x);
      else leaves.push(prefix);
    };
    walk('', values);
    const docs = readFileSync(join(REPO_ROOT, 'docs', 'install.md'), 'utf8');
    const documented = new Set([...docs.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]!));
    const missing = leaves.filter(
      (leaf) => !documented.has(leaf) && ![...documented].some((d) => leaf.startsWith(`${d}.`)),
    );
    expect(missing).toEqual([]);
  });
});
