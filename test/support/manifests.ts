/** Rendering and comparing Kubernetes manifests: helm template, kubectl kustomize, YAML streams. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../../tools/paths.js';

export const CHART = join(REPO_ROOT, 'charts', 'milvus-refresh-operator');

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

/** Runs a command; throws with its output unless it exits 0. */
export function run(cmd: string, args: string[], input?: string): string {
  const res = spawnSync(cmd, args, { encoding: 'utf8', input, maxBuffer: 64 << 20 });
  if (res.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} exited ${res.status}:\n${res.stderr}${res.stdout.slice(0, 2000)}`);
  return res.stdout;
}

/** Like run, but returns the exit code and output instead of throwing. */
export function tryRun(cmd: string, args: string[]): { code: number | null; stdout: string; stderr: string } {
  const res = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

export function parseStream(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null && typeof o === 'object');
}

/** helm template of the chart; `set` become --set flags. */
export function helmTemplate(
  helm: string,
  options: { release?: string; namespace?: string; set?: Record<string, string>; includeCrds?: boolean } = {},
): K8sObject[] {
  const args = [
    'template',
    options.release ?? 'milvus-refresh-operator',
    CHART,
    '--namespace',
    options.namespace ?? 'milvus-refresh-operator',
    ...(options.includeCrds ? ['--include-crds'] : []),
    ...Object.entries(options.set ?? {}).flatMap(([k, v]) => ['--set', `${k}=${v}`]),
  ];
  return parseStream(run(helm, args));
}

export function kustomize(dir: string): K8sObject[] {
  return parseStream(run('kubectl', ['kustomize', join(REPO_ROOT, dir)]));
}

export const keyOf = (o: K8sObject): string => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;

const HELM_LABELS = [
  'helm.sh/chart',
  'app.kubernetes.io/managed-by',
  'app.kubernetes.io/version',
  'app.kubernetes.io/instance',
];

/**
 * The object without what only tells who rendered it: Helm's bookkeeping labels (also in selectors) and
 * comments. Everything else (rules, args, probes, security contexts, ports, resources) stays.
 */
export function normalized(o: K8sObject): K8sObject {
  const strip = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(strip);
    if (value && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        if (HELM_LABELS.includes(k)) continue;
        out[k] = strip(v);
      }
      return out;
    }
    return value;
  };
  return strip(o) as K8sObject;
}
