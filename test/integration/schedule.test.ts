/**
 * Scheduling, suspension, retries, deadlines and storage keys from a Secret, end to end: kubectl, the real
 * API server, the emulator and the operator as its own process. Cron has minute resolution, so the
 * schedule test waits for real minute boundaries (about two and a half minutes in all).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubectl } from '../support/kubectl.js';
import type { OperatorProcess } from '../support/operator.js';
import { SPEC, TestEnv, condition, sleep } from '../support/env.js';

const env = new TestEnv('sched');
let operator: OperatorProcess;
const FAST_RETRY = ['--retry-backoff-base=500ms', '--retry-backoff-max=2s'];

/** Milliseconds until `seconds` past the next minute boundary. */
function untilNextMinute(seconds = 0): number {
  const now = Date.now();
  return 60_000 - (now % 60_000) + seconds * 1_000;
}

describe('schedules, suspension, retries, deadlines and extfs Secrets', () => {
  beforeAll(async () => {
    await env.setUp();
    operator = env.startOperator({ args: FAST_RETRY });
    await operator.waitForLog(/Controller started/);
  });

  afterAll(async () => {
    await env.tearDown();
  });

  it('rejects at apply what admission can check, naming the field', async () => {
    const bad = async (spec: Record<string, unknown>): Promise<string> => {
      const body = {
        apiVersion: 'milvus.io/v1alpha1',
        kind: 'ExternalCollectionRefresh',
        metadata: { name: 'bad', namespace: env.namespace },
        spec: { milvus: { address: 'milvus:19530' }, collectionName: 'p', ...spec },
      };
      const out = await kubectl(env.kubeconfig, ['apply', '--dry-run=server', '-f', '-'], JSON.stringify(body));
      expect(out.code, JSON.stringify(spec)).not.toBe(0);
      return out.stderr;
    };
    expect(await bad({ schedule: 'every day' })).toContain('spec.schedule must be a 5-field cron expression');
    expect(await bad({ schedule: '0 2 * *' })).toContain('spec.schedule must be a 5-field cron expression');
    expect(await bad({ schedule: '0 2 * * *', timeZone: 'Europe Berlin' })).toContain(
      'spec.timeZone must be an IANA time zone name',
    );
    expect(await bad({ timeZone: 'UTC' })).toContain('spec.timeZone applies to spec.schedule, which is not set');
    expect(await bad({ historyLimit: 50 })).toMatch(
      /spec.historyLimit: Invalid value: 50: spec.historyLimit in body should be less than or equal to 20/,
    );
    expect(await bad({ backoffLimit: -1 })).toContain('spec.backoffLimit');
    expect(
      await bad({
        externalSource: 's3://lake/p/',
        externalSpec: {
          format: 'parquet',
          extfs: { cloud_provider: 'aws', region: 'us-east-1', access_key_value: 'x' },
        },
      }),
    ).toContain('spec.externalSpec.extfs must not hold credentials');
    expect(await bad({ externalSpecSecretRef: { name: 'keys' } })).toContain(
      'spec.externalSpecSecretRef needs spec.externalSource and spec.externalSpec',
    );
  });

  it('starts no job for a schedule-only change, yet acknowledges it in observedGeneration and shows the next run', async () => {
    env.emulator.seedCollection({ name: 'quiet', source: 's3://lake/quiet/', spec: SPEC });
    await env.applyRefresh('quiet');
    await env.waitForReason('quiet', 'RefreshCompleted');
    await env.applyRefresh('quiet', {
      schedule: '0 3 * * *',
      timeZone: 'Europe/Berlin',
      backoffLimit: 1,
      historyLimit: 2,
    });
    const r = await env.waitFor(
      'quiet',
      (x) => x.status?.observedGeneration === 2,
      20_000,
      'generation 2 acknowledged',
    );
    expect(condition(r, 'Ready')).toMatchObject({ status: 'True', reason: 'RefreshCompleted', observedGeneration: 2 });
    expect(r.status?.nextScheduleTime).toMatch(/T0[12]:00:00.000Z$/); // 03:00 in Berlin
    const wide = await env.k('get', 'ecr', 'quiet', '-o', 'wide');
    expect(wide).toContain('NEXT RUN');
    await sleep(1_500);
    expect(env.emulator.jobs('quiet')).toHaveLength(1);
  });

  it('resubmits after RefreshFailed up to spec.backoffLimit, then is Stalled saying how many attempts failed', async () => {
    env.emulator.seedCollection({ name: 'flaky', source: 's3://lake/flaky/', spec: SPEC });
    env.emulator.setJobBehaviour('flaky', { failAtPercent: 20, failReason: 'no parquet files under lake/flaky/' });
    await env.applyRefresh('flaky', { backoffLimit: 2 });
    const r = await env.waitFor(
      'flaky',
      (x) => condition(x, 'Stalled')?.status === 'True' && x.status?.run?.failedJobs === 3,
      60_000,
      'stalled after 3 failures',
    );
    expect(condition(r, 'Stalled')).toMatchObject({
      reason: 'RefreshFailed',
      message: expect.stringContaining('3 attempts failed (spec.backoffLimit 2)'),
    });
    expect(env.emulator.jobs('flaky')).toHaveLength(3);
    expect(r.status?.history?.map((h) => h.state)).toEqual(['RefreshFailed', 'RefreshFailed']);
    await sleep(1_500);
    expect(env.emulator.jobs('flaky')).toHaveLength(3); // no fourth
  });

  it('gives up following a job past spec.activeDeadlineSeconds, with a Warning; the next run waits for the job', async () => {
    env.emulator.seedCollection({ name: 'slow', source: 's3://lake/slow/', spec: SPEC });
    env.emulator.setJobBehaviour('slow', { stuck: true, transientReason: 'NoSuchBucket: lake' });
    await env.applyRefresh('slow', { activeDeadlineSeconds: 2 });
    const r = await env.waitForReason('slow', 'DeadlineExceeded', 30_000);
    expect(condition(r, 'Stalled')).toMatchObject({
      status: 'True',
      message: expect.stringContaining('spec.activeDeadlineSeconds=2'),
    });
    expect(await env.events('slow')).toContainEqual(
      expect.objectContaining({ type: 'Warning', reason: 'DeadlineExceeded' }),
    );
    // Milvus still runs it; a new trigger waits for it instead of racing it.
    expect(env.emulator.jobs('slow').map((j) => j.state)).toEqual(['RefreshPending']);
    await env.k('annotate', 'ecr', 'slow', 'milvus.io/refresh-requested-at=again', '--overwrite');
    const waiting = await env.waitForReason('slow', 'WaitingForActiveJob', 20_000);
    expect(condition(waiting, 'Ready')?.message).toContain('started for an earlier run and stopped following');
    // The wait holds: no write, no second DeadlineExceeded, while the observer keeps reporting the job. (It
    // used to flip back to DeadlineExceeded and to the wait on every reconcile, two writes a poll, so the
    // wait was visible only for milliseconds.)
    await sleep(3_000);
    const later = await env.get('slow');
    expect(condition(later, 'Ready')?.reason).toBe('WaitingForActiveJob');
    expect(later.metadata.resourceVersion).toBe(waiting.metadata.resourceVersion);
    expect((await env.events('slow')).filter((e) => e.reason === 'DeadlineExceeded')).toHaveLength(1);
    expect(env.emulator.jobs('slow')).toHaveLength(1);
  });

  it('says which Secret is missing for spec.externalSpecSecretRef, and refreshes once it exists', async () => {
    env.emulator.seedCollection({ name: 'keyed', source: 's3://lake/keyed/', spec: SPEC });
    await env.applyRefresh('keyed', {
      externalSource: 's3://lake/keyed/v2/',
      externalSpec: { format: 'parquet', extfs: { cloud_provider: 'aws', region: 'us-west-2' } },
      externalSpecSecretRef: { name: 'keyed-keys' },
    });
    const missing = await env.waitForReason('keyed', 'SecretNotFound');
    expect(condition(missing, 'Stalled')?.message).toContain('keyed-keys (spec.externalSpecSecretRef) does not exist');
    expect(env.emulator.jobs('keyed')).toHaveLength(0);
    await env.k(
      'create',
      'secret',
      'generic',
      'keyed-keys',
      '--from-literal=access_key_id=AKIAKEYED',
      '--from-literal=access_key_value=keyed-s3cret',
    );
    await env.waitForReason('keyed', 'RefreshCompleted', 40_000);
    expect(env.emulator.jobs('keyed')).toHaveLength(1);
    expect(operator.text()).not.toContain('keyed-s3cret');
  });

  it('runs on schedule, not while suspended, and gives one catch-up for fires missed while the operator was down', async () => {
    for (const name of ['ticking', 'paused'])
      env.emulator.seedCollection({ name, source: `s3://lake/${name}/`, spec: SPEC });
    // Not right before a boundary, so the creation run ends before the first fire.
    if (untilNextMinute() < 10_000) await sleep(untilNextMinute(1));
    await env.applyRefresh('ticking', { schedule: '* * * * *' });
    await env.applyRefresh('paused', { schedule: '* * * * *', suspend: true });
    await env.waitForReason('ticking', 'RefreshCompleted');
    const suspended = await env.waitForReason('paused', 'Suspended');
    expect(suspended.status?.nextScheduleTime).toBeUndefined();
    expect(condition(suspended, 'Reconciling')?.status).toBe('False');
    // The next boundary fires once.
    await sleep(untilNextMinute(5));
    const ran = await env.waitFor(
      'ticking',
      (x) => env.emulator.jobs('ticking').length === 2 && x.status?.state === 'RefreshCompleted',
      20_000,
      'scheduled run',
    );
    expect(ran.status?.run?.scheduledAt).toBe(ran.status?.lastScheduleTime);
    expect(env.emulator.jobs('paused')).toHaveLength(0);
    // Down across two boundaries: one catch-up, not two.
    await operator.stop();
    await sleep(untilNextMinute(0) + 61_000);
    const back = env.startOperator({ args: FAST_RETRY });
    await back.waitForLog(/Controller started/);
    await env.waitFor('ticking', () => env.emulator.jobs('ticking').length === 3, 20_000, 'catch-up run');
    await sleep(3_000);
    expect(env.emulator.jobs('ticking')).toHaveLength(3);
    expect(env.emulator.jobs('paused')).toHaveLength(0);
  }, 300_000);
});
