/**
 * Exactly one Milvus job per trigger across crashes: the operator process is killed with SIGKILL at each
 * step of a submission (by failpoints, or while an RPC is in flight), another one starts, and Milvus must
 * end up with exactly one job for the trigger and the resource with the truth about it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SPEC, TestEnv, condition, sleep } from '../support/env.js';

const env = new TestEnv('crash');

describe('operator crash safety', () => {
  beforeAll(async () => {
    await env.setUp({ timings: { persistDelayMs: 100, job: { durationMs: 2_500, pendingMs: 300 } } });
  });
  afterEach(async () => {
    await env.stopOperators();
    env.emulator.setLatency(0);
    env.emulator.setTimings({ persistDelayMs: 100 });
  });
  afterAll(async () => {
    await env.tearDown();
  });

  async function completesWithOneJob(name: string): Promise<void> {
    const r = await env.waitForReason(name, 'RefreshCompleted', 40_000);
    const jobs = env.emulator.jobs(name);
    expect(jobs.map((j) => j.job_id)).toEqual([r.status?.jobId]);
    expect(r.status?.state).toBe('RefreshCompleted');
    expect(r.status?.progress).toBe(100);
  }

  it('killed after recording its intent, before calling Milvus: the next operator submits once', async () => {
    env.emulator.seedCollection({ name: 'cintent', source: 's3://lake/a/', spec: SPEC });
    const first = env.startOperator({ failpoints: ['after-intent'] });
    await env.applyRefresh('cintent');
    expect(await first.exited).toBeNull(); // SIGKILL
    const r = await env.get('cintent');
    expect(r.status?.run?.submittedAt).toBeDefined();
    expect(r.status?.jobId).toBeUndefined();
    expect(env.emulator.jobs('cintent')).toHaveLength(0);
    const second = env.startOperator();
    await completesWithOneJob('cintent');
    await second.stop();
  });

  it('killed after Milvus accepted the job, before the job id was recorded: the next operator adopts it', async () => {
    env.emulator.seedCollection({ name: 'caccepted', source: 's3://lake/b/', spec: SPEC });
    const first = env.startOperator({ failpoints: ['after-refresh'] });
    await env.applyRefresh('caccepted');
    expect(await first.exited).toBeNull();
    expect(env.emulator.rpcs('RefreshExternalCollection').filter((c) => c.collection === 'caccepted')).toHaveLength(1);
    await sleep(300); // past the emulator's persistence delay
    const accepted = env.emulator.jobs('caccepted');
    expect(accepted).toHaveLength(1);
    expect((await env.get('caccepted')).status?.jobId).toBeUndefined();
    const second = env.startOperator();
    await completesWithOneJob('caccepted');
    expect((await env.get('caccepted')).status?.jobId).toBe(accepted[0]!.job_id);
    await second.stop();
  });

  it('killed after the call while Milvus has not yet persisted the job: the next operator waits for it instead of submitting again', async () => {
    env.emulator.seedCollection({ name: 'cunpersisted', source: 's3://lake/c/', spec: SPEC });
    // A persistence window long enough for the next operator to start on a busy machine, and a grace above it.
    env.emulator.setTimings({ persistDelayMs: 6_000 });
    const slowPersist = ['--submit-grace=10s'];
    const first = env.startOperator({ failpoints: ['after-refresh'], args: slowPersist });
    await env.applyRefresh('cunpersisted');
    expect(await first.exited).toBeNull();
    expect(env.emulator.jobs('cunpersisted')).toHaveLength(0); // accepted, not yet visible
    const second = env.startOperator({ args: slowPersist });
    const waiting = await env.waitFor(
      'cunpersisted',
      (r) => /waiting until .* for its job to appear/.test(condition(r, 'Ready')?.message ?? ''),
      10_000,
      'waiting for the job',
    );
    expect(waiting.status?.jobId).toBeUndefined();
    await completesWithOneJob('cunpersisted');
    // Only the one accepted call: a second call inside the window would have been silently dropped (milvus#49231).
    expect(env.emulator.rpcs('RefreshExternalCollection').filter((c) => c.collection === 'cunpersisted')).toHaveLength(
      1,
    );
    await second.stop();
  });

  it('killed while the refresh call was in flight (its answer lost): the next operator adopts the job', async () => {
    env.emulator.seedCollection({ name: 'cinflight', source: 's3://lake/d/', spec: SPEC });
    env.emulator.setLatency(2_000);
    const first = env.startOperator();
    await env.applyRefresh('cinflight');
    const deadline = Date.now() + 20_000;
    while (
      env.emulator.rpcs('RefreshExternalCollection').filter((c) => c.collection === 'cinflight').length === 0 &&
      Date.now() < deadline
    )
      await sleep(20);
    await first.kill9(); // Milvus has the job; the operator never hears back
    env.emulator.setLatency(0);
    expect((await env.get('cinflight')).status?.jobId).toBeUndefined();
    const second = env.startOperator();
    await completesWithOneJob('cinflight');
    await second.stop();
  });

  it('killed while following the job: the next operator picks it up and finishes', async () => {
    env.emulator.seedCollection({ name: 'cpolling', source: 's3://lake/e/', spec: SPEC });
    env.emulator.setJobBehaviour('cpolling', { durationMs: 4_000, pendingMs: 200 });
    const first = env.startOperator();
    await env.applyRefresh('cpolling');
    await env.waitFor('cpolling', (r) => r.status?.state === 'RefreshInProgress', 20_000, 'in progress');
    await first.kill9();
    const second = env.startOperator();
    await completesWithOneJob('cpolling');
    await second.stop();
  });

  it('killed right after recording the job id: the next operator follows the same job', async () => {
    env.emulator.seedCollection({ name: 'crecorded', source: 's3://lake/f/', spec: SPEC });
    const first = env.startOperator({ failpoints: ['after-record'] });
    await env.applyRefresh('crecorded');
    await first.waitForLog(/failpoint after-record/, 20_000).catch(() => undefined);
    expect(await first.exited).toBeNull();
    const recorded = (await env.get('crecorded')).status?.jobId;
    expect(recorded).toBeDefined();
    const second = env.startOperator();
    await completesWithOneJob('crecorded');
    expect((await env.get('crecorded')).status?.jobId).toBe(recorded);
    await second.stop();
  });

  it('runs exactly one new job for an annotation bump across a crash in doubt', async () => {
    env.emulator.seedCollection({ name: 'cbump', source: 's3://lake/g/', spec: SPEC });
    const op = env.startOperator();
    await env.applyRefresh('cbump');
    await env.waitForReason('cbump', 'RefreshCompleted', 30_000);
    await op.stop();
    const crashing = env.startOperator({ failpoints: ['after-refresh'] });
    await env.k('annotate', 'ecr', 'cbump', 'milvus.io/refresh-requested-at=bump-1', '--overwrite');
    expect(await crashing.exited).toBeNull();
    const second = env.startOperator();
    const r = await env.waitFor(
      'cbump',
      (x) => x.status?.lastHandledRequestedAt === 'bump-1' && x.status.state === 'RefreshCompleted',
      40_000,
      'bump handled',
    );
    const jobs = env.emulator.jobs('cbump');
    expect(jobs).toHaveLength(2);
    expect(r.status?.jobId).toBe(jobs[0]!.job_id);
    await second.stop();
  });

  it('hands over between two replicas with leader election: the standby finishes the job, nothing is submitted twice', async () => {
    env.emulator.seedCollection({ name: 'chandover', source: 's3://lake/h/', spec: SPEC });
    env.emulator.setJobBehaviour('chandover', { durationMs: 5_000, pendingMs: 200 });
    const lease = [
      '--leader-elect',
      `--leader-election-namespace=${env.namespace}`,
      '--leader-election-id=handover',
      '--leader-elect-lease-duration=3s',
      '--leader-elect-renew-deadline=2s',
      '--leader-elect-retry-period=500ms',
    ];
    // Lease RBAC is granted in the operator's own namespace; here the test's namespace holds the lease, so
    // these replicas run with the admin kubeconfig.
    const a = env.startOperator({ args: lease, kubeconfig: env.kubeconfig });
    await a.waitForLog(/Became the leader/);
    const b = env.startOperator({ args: lease, kubeconfig: env.kubeconfig });
    await b.waitForLog(/Waiting to become the leader/);
    await env.applyRefresh('chandover');
    await env.waitFor('chandover', (r) => r.status?.state === 'RefreshInProgress', 20_000, 'in progress');
    expect(b.text()).not.toMatch(/Submitting Milvus refresh job/);
    await a.kill9();
    await b.waitForLog(/Became the leader/, 15_000);
    await completesWithOneJob('chandover');
    await b.stop();
  });
});
