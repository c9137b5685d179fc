/**
 * What GitOps tools see: the operator's real statuses at each moment a deployment waits on (no status yet, a
 * job running, completed, failed, stalled, a spec change not yet observed, suspended) run through the Argo
 * CD health check (deploy/argocd/.../health.lua, in gopher-lua as Argo runs it) and through kstatus
 * (sigs.k8s.io/cli-utils, what Flux and kpt use). With ECR_RECORD_STATUSES set, the snapshots become the
 * testdata of those checks (test/support/record-status.ts).
 */
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExternalCollectionRefresh } from '../../src/api/v1alpha1.js';
import { freePort } from '../../tools/control-plane.js';
import { SPEC, TestEnv, condition } from '../support/env.js';
import type { OperatorProcess } from '../support/operator.js';
import {
  ARGO_DIR,
  type Expectation,
  RECORD_DIR,
  type Recording,
  snapshot,
  testdataText,
  writeRecordings,
} from '../support/record-status.js';
import { toolPaths } from '../support/tools.js';

const env = new TestEnv('gitops');
const tools = toolPaths();
const recordings: Recording[] = [];
let operator: OperatorProcess;
let work: string;

type Evaluated = { status: string; message: string };

/** Runs a harness's `eval` on one object and returns its verdict. */
function evaluate(cmd: string, args: string[]): Evaluated {
  const res = spawnSync(cmd, args, { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${res.stderr}`);
  return JSON.parse(res.stdout.trim()) as Evaluated;
}

/**
 * Snapshots the resource, checks Argo CD's and kstatus' verdict on it against `expected`, and keeps it for
 * recording.
 */
async function check(
  name: string,
  file: string,
  moment: string,
  expected: Expectation,
  object?: Record<string, unknown>,
): Promise<void> {
  const obj = snapshot(object ?? ((await env.get(name)) as unknown as Record<string, unknown>));
  const rec: Recording = { name: file, moment, object: obj, ...expected };
  const path = join(work, `${file}.yaml`);
  writeFileSync(path, testdataText(rec));
  const health = evaluate(tools['argo-health'], ['eval', join(ARGO_DIR, 'health.lua'), path]);
  expect({ file, health: { status: health.status, message: health.message } }).toEqual({
    file,
    health: expected.health,
  });
  if (expected.kstatus) {
    const k = evaluate(tools.kstatus, ['eval', path]);
    expect({ file, kstatus: { status: k.status, message: k.message } }).toEqual({ file, kstatus: expected.kstatus });
  }
  recordings.push(rec);
}

const message = (r: ExternalCollectionRefresh, type: string): string => condition(r, type)?.message ?? '';

describe('GitOps health of real statuses', () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'ecr-gitops-'));
    await env.setUp();
    for (const name of ['fresh', 'slow', 'broken', 'locked'])
      env.emulator.seedCollection({ name, source: `s3://lake/${name}/`, spec: SPEC });
    env.emulator.setJobBehaviour('slow', { durationMs: 60_000, pendingMs: 300 });
    env.emulator.setJobBehaviour('broken', {
      durationMs: 3_000,
      pendingMs: 200,
      failAtPercent: 10,
      failReason: 'no parquet files under s3://lake/broken/',
    });
  });

  afterAll(async () => {
    await env.tearDown();
    if (RECORD_DIR && recordings.length === 10) {
      writeRecordings(RECORD_DIR, recordings);
      console.log(`recorded ${recordings.length} statuses into ${RECORD_DIR}`);
    }
    rmSync(work, { recursive: true, force: true });
  });

  it('a resource the operator has not seen yet: kstatus says Current, Argo CD says Progressing', async () => {
    await env.applyRefresh('fresh');
    const r = await env.get('fresh');
    expect(r.status).toBeUndefined();
    // kstatus calls an object without status Current: a GitOps tool must not wait on kstatus alone for a
    // new resource (docs/gitops.md). The health check waits for observedGeneration.
    await check('fresh', 'no-status', 'created, before any operator saw it', {
      health: { status: 'Progressing', message: 'Waiting for the operator to observe generation 1' },
      kstatus: { status: 'Current', message: 'Resource is current' },
    });
  });

  it('the first status write carries observedGeneration and the three conditions', async () => {
    operator = env.startOperator();
    await operator.waitForLog(/Controller started/);
    const kc = new KubeConfig();
    kc.loadFromFile(env.kubeconfig);
    const seen: ExternalCollectionRefresh[] = [];
    const abort = await new Watch(kc).watch(
      `/apis/milvus.io/v1alpha1/namespaces/${env.namespace}/externalcollectionrefreshes`,
      { fieldSelector: 'metadata.name=slow' },
      (_type: string, obj: ExternalCollectionRefresh) => {
        seen.push(obj);
      },
      () => undefined,
    );
    try {
      await env.applyRefresh('slow');
      const r = await env.waitForReason('slow', 'RefreshInProgress', 30_000);
      const first = seen.find((o) => o.status !== undefined);
      expect(first?.status?.observedGeneration).toBe(1);
      expect(first?.status?.conditions?.map((c) => [c.type, c.observedGeneration])).toEqual(
        expect.arrayContaining([
          ['Ready', 1],
          ['Reconciling', 1],
          ['Stalled', 1],
        ]),
      );
      expect(condition(first!, 'Reconciling')?.status).toBe('True');
      await check('slow', 'in-progress', 'a Milvus job in progress', {
        health: { status: 'Progressing', message: message(r, 'Reconciling') },
        kstatus: { status: 'InProgress', message: message(r, 'Reconciling') },
      });
    } finally {
      abort.abort();
    }
  });

  it('a completed refresh is Healthy and Current', async () => {
    const r = await env.waitForReason('fresh', 'RefreshCompleted');
    await check('fresh', 'completed', 'the Milvus job completed', {
      health: { status: 'Healthy', message: message(r, 'Ready') },
      kstatus: { status: 'Current', message: 'Resource is Ready' },
    });
  });

  it('a failed job is Degraded and Failed, with Milvus’ reason', async () => {
    await env.applyRefresh('broken');
    const r = await env.waitForReason('broken', 'RefreshFailed');
    expect(message(r, 'Stalled')).toContain('no parquet files');
    await check('broken', 'failed', 'the Milvus job failed', {
      health: { status: 'Degraded', message: message(r, 'Stalled') },
      kstatus: { status: 'Failed', message: message(r, 'Stalled') },
    });
  });

  it('a missing Secret is Degraded and Failed', async () => {
    await env.applyRefresh('locked', {
      milvus: { address: env.emulator.address, credentialsSecretRef: { name: 'absent' } },
    });
    const r = await env.waitForReason('locked', 'SecretNotFound');
    await check('locked', 'secret-not-found', 'the credentials Secret does not exist', {
      health: { status: 'Degraded', message: message(r, 'Stalled') },
      kstatus: { status: 'Failed', message: message(r, 'Stalled') },
    });
  });

  it('Milvus unreachable is Progressing, then Degraded once it stalls', async () => {
    const closed = await freePort(); // nothing listens there
    await env.applyRefresh('offline', { milvus: { address: `127.0.0.1:${closed}` } });
    const waiting = await env.waitForReason('offline', 'MilvusUnavailable');
    expect(condition(waiting, 'Reconciling')?.status).toBe('True');
    await check('offline', 'milvus-unavailable', 'Milvus cannot be reached (not yet for --unavailable-stall)', {
      health: { status: 'Progressing', message: message(waiting, 'Reconciling') },
      kstatus: { status: 'InProgress', message: message(waiting, 'Reconciling') },
    });
    const stalled = await env.waitFor(
      'offline',
      (x) => condition(x, 'Stalled')?.status === 'True',
      30_000,
      'Stalled after --unavailable-stall',
    );
    await check('offline', 'milvus-unavailable-stalled', 'Milvus unreachable for longer than --unavailable-stall', {
      health: { status: 'Degraded', message: message(stalled, 'Stalled') },
      kstatus: { status: 'Failed', message: message(stalled, 'Stalled') },
    });
  });

  it('spec.suspend: true is Suspended, also while a run is due (kstatus has no Suspended)', async () => {
    await env.k('patch', 'ecr', 'fresh', '--type=merge', '-p', '{"spec":{"suspend":true}}');
    let r = await env.waitFor(
      'fresh',
      (x) => x.status?.observedGeneration === x.metadata.generation,
      30_000,
      'suspend observed',
    );
    expect((r.spec as { suspend?: boolean }).suspend).toBe(true);
    await check('fresh', 'suspended', 'spec.suspend set to true after the job completed', {
      health: { status: 'Suspended', message: message(r, 'Ready') },
      kstatus: { status: 'Current', message: 'Resource is Ready' },
    });
    await env.k('annotate', 'ecr', 'fresh', 'milvus.io/refresh-requested-at=2026-11-30T12:00:00Z', '--overwrite');
    r = await env.waitForReason('fresh', 'Suspended');
    await check('fresh', 'suspended-run-due', 'suspended, and a refresh was requested meanwhile', {
      health: { status: 'Suspended', message: message(r, 'Ready') },
      // Ready=False: kstatus waits (docs/gitops.md says how Flux can treat suspension as done).
      kstatus: { status: 'InProgress', message: message(r, 'Ready') },
    });
  });

  it('a spec change the operator has not observed yet is Progressing and InProgress', async () => {
    await env.k('patch', 'ecr', 'fresh', '--type=merge', '-p', '{"spec":{"suspend":null}}');
    // Resumed: the requested run starts and completes.
    await env.waitFor(
      'fresh',
      (x) => x.status?.lastHandledRequestedAt === '2026-11-30T12:00:00Z' && x.status.state === 'RefreshCompleted',
      30_000,
      'the due run completed',
    );
    await env.stopOperators();
    await env.k(
      'patch',
      'ecr',
      'fresh',
      '--type=merge',
      '-p',
      '{"spec":{"externalSource":"s3://lake/fresh/v2/","externalSpec":{"format":"parquet"}}}',
    );
    const r = await env.get('fresh');
    expect(r.metadata.generation).toBeGreaterThan(r.status!.observedGeneration!);
    // Ready=True is still there, for the older generation: kubectl wait does not take it (docs/gitops.md).
    expect(condition(r, 'Ready')?.status).toBe('True');
    const wait = await env.kTry('wait', '--for=condition=Ready', 'ecr/fresh', '--timeout=2s');
    expect(wait.code).not.toBe(0);
    expect(wait.stderr).toContain('timed out');
    await check('fresh', 'spec-changed', 'the spec changed while no operator ran', {
      health: {
        status: 'Progressing',
        message: `Waiting for the operator to observe generation ${r.metadata.generation}`,
      },
      kstatus: {
        status: 'InProgress',
        message: `ExternalCollectionRefresh generation is ${r.metadata.generation}, but latest observed generation is ${r.status!.observedGeneration}`,
      },
    });
  });
});
