/**
 * GitOps health on statuses the operator really wrote (recorded by test/integration/gitops-status.test.ts):
 * the Argo CD health check run in gopher-lua the way Argo CD runs it, and kstatus (Flux, kpt) computed by
 * sigs.k8s.io/cli-utils.
 */
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { ARGO_DIR } from '../support/record-status.js';
import { tryRun } from '../support/manifests.js';
import { toolPaths } from '../support/tools.js';

const tools = toolPaths();
const CUSTOMIZATIONS = join(ARGO_DIR, '..', '..');
const tmp = mkdtempSync(join(tmpdir(), 'ecr-gitops-'));

interface HealthTests {
  tests: { healthStatus: { status: string; message: string }; inputPath: string }[];
}
interface KstatusTests {
  tests: { inputPath: string; status: string; message: string }[];
}
const healthTests = parse(readFileSync(join(ARGO_DIR, 'health_test.yaml'), 'utf8')) as HealthTests;
const kstatusTests = parse(readFileSync(join(ARGO_DIR, 'kstatus_test.yaml'), 'utf8')) as KstatusTests;

describe('Argo CD health check (health.lua)', () => {
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('sits in Argo CD’s resource_customizations/<group>/<kind>/ layout', () => {
    expect(readdirSync(ARGO_DIR).sort()).toEqual(['health.lua', 'health_test.yaml', 'kstatus_test.yaml', 'testdata']);
    expect(ARGO_DIR.endsWith(join('resource_customizations', 'milvus.io', 'ExternalCollectionRefresh'))).toBe(true);
  });

  it('maps every recorded status to Argo CD’s health, with the condition’s message, as Argo CD runs it', () => {
    const res = tryRun(tools['argo-health'], ['test', CUSTOMIZATIONS]);
    expect(res.stderr).toBe('');
    expect(res.stdout).toContain(`${healthTests.tests.length} passed, 0 failed`);
    expect(res.code).toBe(0);
    expect(new Set(healthTests.tests.map((t) => t.healthStatus.status))).toEqual(
      new Set(['Healthy', 'Progressing', 'Degraded', 'Suspended']),
    );
  });

  it('fails when the script and the expectations disagree (the harness can fail)', () => {
    const copy = join(tmp, 'resource_customizations');
    cpSync(CUSTOMIZATIONS, copy, { recursive: true });
    const dir = join(copy, 'milvus.io', 'ExternalCollectionRefresh');
    writeFileSync(
      join(dir, 'health.lua'),
      readFileSync(join(dir, 'health.lua'), 'utf8').replace('hs.status = "Degraded"', 'hs.status = "Healthy"'),
    );
    const res = tryRun(tools['argo-health'], ['test', copy]);
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/FAIL testdata\/failed\.yaml .*want \{Status:Degraded/);
  });
});

describe('kstatus', () => {
  it('is InProgress while a job runs, Current after success, Failed after a terminal failure', () => {
    const res = tryRun(tools.kstatus, ['test', join(ARGO_DIR, 'kstatus_test.yaml')]);
    expect(res.stdout).toContain(`${kstatusTests.tests.length} passed, 0 failed`);
    expect(res.code).toBe(0);
    const by = new Map(kstatusTests.tests.map((t) => [t.inputPath, t.status]));
    expect(by.get('testdata/in-progress.yaml')).toBe('InProgress');
    expect(by.get('testdata/completed.yaml')).toBe('Current');
    expect(by.get('testdata/failed.yaml')).toBe('Failed');
    // An object without status is Current for kstatus: see docs/gitops.md for how to wait on a new resource.
    expect(by.get('testdata/no-status.yaml')).toBe('Current');
  });
});

describe('testdata', () => {
  it('is recorded from a real API server, not written by hand', () => {
    const files = readdirSync(join(ARGO_DIR, 'testdata'));
    expect(files.sort()).toEqual(healthTests.tests.map((t) => t.inputPath.replace('testdata/', '')).sort());
    for (const f of files) {
      const text = readFileSync(join(ARGO_DIR, 'testdata', f), 'utf8');
      expect(text.split('\n')[0]).toMatch(
        /^# Recorded by test\/integration\/gitops-status\.test\.ts on \d{4}-\d\d-\d\d: /,
      );
      const [doc] = parseAllDocuments(text);
      const obj = doc!.toJS() as { kind: string; metadata: Record<string, unknown> };
      expect(obj.kind).toBe('ExternalCollectionRefresh');
      // Set by kube-apiserver only.
      expect(obj.metadata).toEqual(
        expect.objectContaining({
          uid: expect.any(String),
          resourceVersion: expect.any(String),
          generation: expect.any(Number),
        }),
      );
      expect(obj.metadata.managedFields).toBeUndefined();
    }
  });
});
