/**
 * The race-free way to wait for a requested run (issue 11, defect 5), with real kubectl: annotate, wait for
 * status.lastHandledRequestedAt to equal the value, then for Ready. The Ready it returns on must belong to the
 * new Milvus job. The operator is paused (SIGSTOP) across the annotation, so the naive wait that a script
 * would run at that moment is shown to return on the previous run's Ready.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubectl } from '../support/kubectl.js';
import type { OperatorProcess } from '../support/operator.js';
import { SPEC, TestEnv, condition } from '../support/env.js';

const env = new TestEnv('waitrun');
let operator: OperatorProcess;
const JOB_MS = 4_000;

describe('waiting for a requested run', () => {
  beforeAll(async () => {
    await env.setUp({ timings: { persistDelayMs: 100, job: { durationMs: JOB_MS, pendingMs: 300 } } });
    env.emulator.seedCollection({
      name: 'orders',
      source: 's3://lake/orders/',
      spec: { ...SPEC, extfs: { ...SPEC.extfs } },
    });
    operator = env.startOperator();
    await operator.waitForLog(/Controller started/);
  });

  afterAll(async () => {
    if (operator.alive) operator.proc.kill('SIGCONT');
    await env.tearDown();
  });

  it('kubectl wait on lastHandledRequestedAt, then on Ready, returns on the new job, not the previous Ready', async () => {
    await env.applyRefresh('orders');
    const first = await env.waitFor('orders', (r) => condition(r, 'Ready')?.status === 'True', 30_000, 'Ready=True');
    const firstJob = first.status!.jobId!;
    const V = '2026-12-01T01:30:00Z';
    const wait = (...args: string[]): ReturnType<typeof kubectl> =>
      kubectl(env.kubeconfig, ['-n', env.namespace, 'wait', ...args, 'externalcollectionrefresh/orders']);

    // The operator has not seen the annotation yet (as in the moment right after `kubectl annotate`).
    operator.proc.kill('SIGSTOP');
    try {
      await env.k('annotate', 'ecr', 'orders', `milvus.io/refresh-requested-at=${V}`, '--overwrite');
      // The naive wait is fooled: it returns on the previous run's Ready.
      const naive = await wait('--for=condition=Ready', '--timeout=5s');
      expect(naive.stdout).toContain('condition met');
      expect((await env.get('orders')).status?.jobId).toBe(firstJob);
    } finally {
      operator.proc.kill('SIGCONT');
    }

    // The documented way: the run for V has ended, then its outcome.
    const started = Date.now();
    const handled = await wait(`--for=jsonpath={.status.lastHandledRequestedAt}=${V}`, '--timeout=60s');
    expect(handled.stderr).toBe('');
    expect(handled.stdout).toContain('condition met');
    const ready = await wait('--for=condition=Ready', '--timeout=10s');
    expect(ready.stdout).toContain('condition met');
    const waitedMs = Date.now() - started;

    const r = await env.get('orders');
    const jobs = env.emulator.jobs('orders');
    expect(jobs).toHaveLength(2);
    const newJob = jobs.find((j) => j.job_id !== firstJob)!;
    expect(r.status?.jobId).toBe(newJob.job_id);
    expect(r.status?.jobId).not.toBe(firstJob);
    expect(newJob.state).toBe('RefreshCompleted');
    expect(r.status?.state).toBe('RefreshCompleted');
    expect(r.status?.lastHandledRequestedAt).toBe(V);
    expect(condition(r, 'Ready')).toMatchObject({ status: 'True', reason: 'RefreshCompleted' });
    // The new job took its few seconds: the wait covered it.
    expect(waitedMs).toBeGreaterThanOrEqual(JOB_MS - 500);
    expect(Number(newJob.end_time)).toBeLessThanOrEqual(Date.now());
  });
});
