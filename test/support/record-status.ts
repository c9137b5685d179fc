/**
 * Real statuses for the GitOps health checks. test/integration/gitops-status.test.ts takes snapshots of
 * resources at the moments a GitOps tool cares about (no status yet, job running, completed, failed,
 * stalled, spec not yet observed, suspended); with ECR_RECORD_STATUSES=<dir> it also writes them, with the
 * Argo CD and kstatus expectations, as the testdata that `npm test` checks health.lua and kstatus against:
 *
 *   ECR_RECORD_STATUSES=deploy/argocd/resource_customizations/milvus.io/ExternalCollectionRefresh \
 *     npx vitest run --project integration test/integration/gitops-status.test.ts
 *
 * writes <dir>/testdata/<case>.yaml, <dir>/health_test.yaml and <dir>/kstatus_test.yaml.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { REPO_ROOT } from '../../tools/paths.js';

export const RECORD_DIR = process.env.ECR_RECORD_STATUSES
  ? resolve(REPO_ROOT, process.env.ECR_RECORD_STATUSES)
  : undefined;

export const ARGO_DIR = join(
  REPO_ROOT,
  'deploy',
  'argocd',
  'resource_customizations',
  'milvus.io',
  'ExternalCollectionRefresh',
);

export interface Expectation {
  /** Argo CD health status and message. */
  health: { status: string; message: string };
  /** kstatus status and message; omitted where kstatus has nothing to say (Suspended is not a kstatus). */
  kstatus?: { status: string; message: string };
}

export interface Recording extends Expectation {
  name: string;
  /** What the moment is, in words (a comment in the testdata file). */
  moment: string;
  object: Record<string, unknown>;
}

/** The object as the API server returned it, less managedFields (server bookkeeping, not status). */
export function snapshot(object: Record<string, unknown>): Record<string, unknown> {
  const copy = structuredClone(object);
  delete (copy.metadata as Record<string, unknown> | undefined)?.managedFields;
  return copy;
}

export function testdataText(rec: Recording, when = new Date()): string {
  return (
    `# Recorded by test/integration/gitops-status.test.ts on ${when.toISOString().slice(0, 10)}: ${rec.moment}.\n` +
    `# The object as kube-apiserver returned it (metadata.managedFields dropped). Not hand-written: regenerate\n` +
    `# with ECR_RECORD_STATUSES (see test/support/record-status.ts).\n` +
    stringify(rec.object, { lineWidth: 0 })
  );
}

/** Writes every recording and both expectation files. */
export function writeRecordings(dir: string, recordings: Recording[]): void {
  mkdirSync(join(dir, 'testdata'), { recursive: true });
  for (const rec of recordings) writeFileSync(join(dir, 'testdata', `${rec.name}.yaml`), testdataText(rec));
  const header = (what: string): string =>
    `# ${what} of the statuses in testdata/, recorded by test/integration/gitops-status.test.ts.\n`;
  writeFileSync(
    join(dir, 'health_test.yaml'),
    header('Argo CD health (health.lua)') +
      stringify(
        { tests: recordings.map((r) => ({ healthStatus: r.health, inputPath: `testdata/${r.name}.yaml` })) },
        { lineWidth: 0 },
      ),
  );
  writeFileSync(
    join(dir, 'kstatus_test.yaml'),
    header('kstatus (sigs.k8s.io/cli-utils/pkg/kstatus/status.Compute)') +
      stringify(
        {
          tests: recordings
            .filter((r) => r.kstatus)
            .map((r) => ({ inputPath: `testdata/${r.name}.yaml`, ...r.kstatus })),
        },
        { lineWidth: 0 },
      ),
  );
}
