/**
 * Scheduling, suspension, retries, deadlines and history, as decisions with an injected clock: DST in a
 * real zone, fires missed while the operator was down, suspend and resume, a fire during a running job.
 */
import { describe, expect, it } from 'vitest';
import { findCondition } from '../../../src/api/conditions.js';
import type { ExternalCollectionRefresh, ExternalCollectionRefreshStatus } from '../../../src/api/v1alpha1.js';
import { decide } from '../../../src/reconcile/decide.js';
import type { DecideInput, Decision } from '../../../src/reconcile/model.js';
import { latestFire, nextFire, parseSchedule } from '../../../src/reconcile/schedule.js';
import { specHashOf } from '../../../src/reconcile/trigger.js';
import { SETTINGS, aJob, aRefresh, id, iso } from '../../support/builders.js';

const at = (s: string): number => Date.parse(s);

function scheduled(
  spec: Partial<ExternalCollectionRefresh['spec']>,
  status: ExternalCollectionRefreshStatus,
  generation = 1,
): ExternalCollectionRefresh {
  const r = aRefresh({ generation, status });
  r.spec = { ...r.spec, schedule: '30 2 * * *', timeZone: 'Europe/Berlin', ...spec };
  return r;
}

/** A completed run of the resource, its cursor at `consumedUntil`. */
function done(r: ExternalCollectionRefresh, consumedUntil: string, jobN = 1): ExternalCollectionRefreshStatus {
  return {
    observedGeneration: r.metadata.generation ?? 1,
    jobId: id(jobN),
    state: 'RefreshCompleted',
    progress: 100,
    run: {
      generation: 1,
      requestedAt: '',
      trigger: 'created',
      submittedAt: consumedUntil,
      baselineJobId: '0',
      attempts: 1,
      specHash: specHashOf(r),
    },
    scheduleCursor: { schedule: r.spec.schedule ?? '', timeZone: r.spec.timeZone ?? 'UTC', consumedUntil },
    conditions: [
      { type: 'Ready', status: 'True', reason: 'RefreshCompleted', message: 'done', lastTransitionTime: consumedUntil },
    ],
  };
}

function withStatus(r: ExternalCollectionRefresh, status: ExternalCollectionRefreshStatus): ExternalCollectionRefresh {
  return { ...r, status };
}

function input(r: ExternalCollectionRefresh, now: number, extra: Partial<DecideInput> = {}): DecideInput {
  return { now, resource: r, settings: SETTINGS, connection: { ok: true, address: 'milvus:19530' }, ...extra };
}

/** decide, answering a list request with `jobs`. */
/**
 * decide as the reconciler drives it: a new trigger over a Ready status is first announced (Ready=False,
 * requeue at once), then the collection is listed (answered with `jobs`), then the decision is taken.
 */
function decideListing(
  r: ExternalCollectionRefresh,
  now: number,
  jobs = [aJob(1, 'RefreshCompleted')],
  extra: Partial<DecideInput> = {},
): Decision {
  let d = decide(input(r, now, extra));
  if (
    d.kind === 'update' &&
    d.requeue &&
    'afterMs' in d.requeue &&
    d.requeue.afterMs === 0 &&
    ready(d).reason === 'Submitting'
  ) {
    r = withStatus(r, d.status);
    d = decide(input(r, now, extra));
  }
  return d.kind === 'listCollectionJobs' ? decide(input(r, now, { ...extra, collectionJobs: { jobs } })) : d;
}

function ready(d: Decision) {
  if (d.kind !== 'update') throw new Error(`expected update, got ${d.kind}`);
  return findCondition(d.status.conditions, 'Ready')!;
}

describe('cron evaluation (croner) across daylight saving time in Europe/Berlin', () => {
  const parsed = parseSchedule('30 2 * * *', 'Europe/Berlin');
  if (!parsed.ok) throw new Error(parsed.message);
  const fires = (from: string, to: string): string[] => {
    const out: string[] = [];
    for (let t = nextFire(parsed.cron, at(from)); t !== undefined && t <= at(to); t = nextFire(parsed.cron, t))
      out.push(iso(t));
    return out;
  };

  it('a skipped hour (spring forward) runs once, at the first valid time after the gap', () => {
    // 2026-03-29: 02:00 CET jumps to 03:00 CEST, so 02:30 does not exist.
    expect(fires('2026-03-28T12:00:00Z', '2026-03-30T12:00:00Z')).toEqual([
      '2026-03-29T01:00:00.000Z',
      '2026-03-30T00:30:00.000Z',
    ]);
  });

  it('a repeated hour (fall back) runs once, at its first occurrence', () => {
    // 2026-10-25: 03:00 CEST falls back to 02:00 CET, so 02:30 happens twice.
    expect(fires('2026-10-24T12:00:00Z', '2026-10-26T12:00:00Z')).toEqual([
      '2026-10-25T00:30:00.000Z',
      '2026-10-26T01:30:00.000Z',
    ]);
  });

  it('finds the latest fire after a cursor, or none', () => {
    expect(latestFire(parsed.cron, at('2026-11-20T00:00:00Z'), at('2026-11-23T12:00:00Z'))).toBe(
      at('2026-11-23T01:30:00Z'),
    );
    expect(latestFire(parsed.cron, at('2026-11-23T01:30:00Z'), at('2026-11-23T12:00:00Z'))).toBeUndefined();
  });

  it('accepts the macros and names the field of a bad schedule or zone', () => {
    for (const macro of ['@hourly', '@daily', '@weekly', '@monthly', '@yearly'])
      expect(parseSchedule(macro).ok).toBe(true);
    expect(parseSchedule('61 * * * *')).toMatchObject({
      ok: false,
      field: 'spec.schedule',
      message: expect.stringContaining('minute'),
    });
    expect(parseSchedule('* * * * * *')).toMatchObject({ ok: false, field: 'spec.schedule' });
    expect(parseSchedule('0 2 * * *', 'Mars/Olympus')).toMatchObject({
      ok: false,
      field: 'spec.timeZone',
      message: expect.stringContaining('Mars/Olympus'),
    });
  });
});

describe('decide with a schedule', () => {
  const base = scheduled({}, {});

  it('a new schedule starts counting now: no run for fires before it, and the next fire in status', () => {
    const r = withStatus(base, done(base, '2026-11-20T12:00:00.000Z'));
    delete r.status!.scheduleCursor; // the schedule was just added
    const d = decide(input(r, at('2026-11-23T12:00:00Z')));
    expect(d.kind).toBe('update');
    if (d.kind !== 'update') return;
    expect(d.status.scheduleCursor).toEqual({
      schedule: '30 2 * * *',
      timeZone: 'Europe/Berlin',
      consumedUntil: '2026-11-23T12:00:00.000Z',
    });
    expect(d.status.nextScheduleTime).toBe('2026-11-24T01:30:00.000Z');
    expect(d.requeue).toEqual({ afterMs: at('2026-11-24T01:30:00Z') - at('2026-11-23T12:00:00Z') + 1_000 });
  });

  it('runs a due fire once, consuming it', () => {
    const r = withStatus(base, done(base, '2026-11-23T01:30:00.000Z'));
    const d = decideListing(r, at('2026-11-24T01:30:05Z'));
    expect(d.kind).toBe('submit');
    if (d.kind !== 'submit') return;
    expect(d.status.run).toMatchObject({
      scheduledAt: '2026-11-24T01:30:00.000Z',
      trigger: 'scheduled (2026-11-24T01:30:00.000Z)',
    });
    expect(d.status.scheduleCursor?.consumedUntil).toBe('2026-11-24T01:30:00.000Z');
    expect(d.status.lastScheduleTime).toBe('2026-11-24T01:30:00.000Z');
    expect(d.status.history?.[0]?.jobId).toBe(id(1));
  });

  it("asks for the collection's own list for a fire: an all-jobs answer from before the fire cannot stand for it", () => {
    const r = withStatus(base, done(base, '2026-11-23T01:30:00.000Z'));
    const now = at('2026-11-24T01:30:05Z');
    const announced = decide(input(r, now)); // the new run is announced first (Ready=False)
    expect(ready(announced).reason).toBe('Submitting');
    expect(
      decide(input(withStatus(r, (announced as { status: ExternalCollectionRefreshStatus }).status), now)),
    ).toEqual({
      kind: 'listCollectionJobs',
    });
  });

  it('fires missed while the operator was down give exactly one catch-up run, never a burst', () => {
    const r = withStatus(base, done(base, '2026-11-20T01:30:00.000Z'));
    const d = decideListing(r, at('2026-11-23T12:00:00Z')); // three fires missed
    if (d.kind !== 'submit') throw new Error(d.kind);
    expect(d.status.run?.scheduledAt).toBe('2026-11-23T01:30:00.000Z');
    // The same resource after that run completed: nothing more is due until the next fire.
    const after = withStatus(r, { ...d.status, jobId: id(2), state: 'RefreshCompleted', progress: 100 });
    const next = decide(input(after, at('2026-11-23T12:00:05Z')));
    expect(next.kind).toBe('update');
    expect(ready(next).reason).toBe('RefreshCompleted');
  });

  it('skips a catch-up later than startingDeadlineSeconds, with a Warning event, and starts nothing', () => {
    const r = withStatus(scheduled({ startingDeadlineSeconds: 600 }, {}), done(base, '2026-11-20T01:30:00.000Z'));
    const d = decide(input(r, at('2026-11-23T12:00:00Z')));
    expect(d.kind).toBe('update');
    if (d.kind !== 'update') return;
    expect(d.status.scheduleCursor?.consumedUntil).toBe('2026-11-23T01:30:00.000Z');
    expect(d.status.lastScheduleTime).toBe('2026-11-23T01:30:00.000Z');
    expect(d.events).toEqual([
      expect.objectContaining({
        type: 'Warning',
        reason: 'ScheduleSkipped',
        message: expect.stringContaining('spec.startingDeadlineSeconds=600'),
      }),
    ]);
    expect(ready(d).reason).toBe('RefreshCompleted');
    // In time, the same fire runs.
    expect(decideListing(r, at('2026-11-23T01:35:00Z')).kind).toBe('submit');
  });

  it('queues a fire that comes while its job runs as one pending run, started when the job ends', () => {
    const running = withStatus(base, {
      ...done(base, '2026-11-22T01:30:00.000Z'),
      state: 'RefreshInProgress',
      progress: 40,
    });
    const now = at('2026-11-24T01:31:00Z'); // two fires while the job ran
    const view = { fetchedAtMs: now, job: aJob(1, 'RefreshInProgress', { progress: 50 }) };
    const during = decide(input(running, now, { view }));
    expect(during.kind).toBe('update');
    expect(ready(during).message).toMatch(
      /A new refresh \(scheduled \(2026-11-24T01:30:00.000Z\)\) starts when it ends/,
    );
    const ended = decide(input(running, now, { view: { fetchedAtMs: now, job: aJob(1, 'RefreshCompleted') } }));
    if (ended.kind !== 'update') throw new Error(ended.kind);
    expect(ended.requeue).toEqual({ afterMs: 0 });
    expect(ready(ended).reason).toBe('RefreshQueued');
    const next = decideListing(withStatus(running, ended.status), now);
    if (next.kind !== 'submit') throw new Error(next.kind);
    expect(next.status.run?.scheduledAt).toBe('2026-11-24T01:30:00.000Z');
  });

  it('a change of schedule, timeZone, suspend or limits alone starts no run, and is acknowledged in observedGeneration', () => {
    const r = withStatus(base, done(base, '2026-11-23T01:30:00.000Z'));
    for (const change of [
      { schedule: '0 4 * * *' },
      { timeZone: 'Asia/Tokyo' },
      { backoffLimit: 3 },
      { activeDeadlineSeconds: 60 },
      { historyLimit: 2 },
      { startingDeadlineSeconds: 5 },
    ]) {
      const changed = scheduled(change, r.status!, 2);
      const d = decide(input(changed, at('2026-11-23T12:00:00Z')));
      expect(d.kind, JSON.stringify(change)).toBe('update');
      if (d.kind !== 'update') continue;
      expect(d.status.observedGeneration).toBe(2);
      expect(findCondition(d.status.conditions, 'Ready')).toMatchObject({ status: 'True', observedGeneration: 2 });
    }
  });

  it('a change of a field that shapes the job starts a run', () => {
    const r = withStatus(base, done(base, '2026-11-23T01:30:00.000Z'));
    const changed = scheduled({ collectionName: 'other' }, r.status!, 2);
    expect(decideListing(changed, at('2026-11-23T12:00:00Z')).kind).toBe('submit');
  });

  it('an invalid schedule or time zone is Stalled with a message naming the field', () => {
    for (const [spec, field] of [
      [{ schedule: '61 * * * *' }, 'spec.schedule'],
      [{ timeZone: 'Mars/Olympus' }, 'spec.timeZone'],
    ] as const) {
      const d = decide(input(scheduled(spec, {}), at('2026-11-23T12:00:00Z')));
      expect(findCondition(d.kind === 'update' ? d.status.conditions : [], 'Stalled')).toMatchObject({
        status: 'True',
        reason: 'InvalidSchedule',
        message: expect.stringContaining(field),
      });
    }
  });
});

describe('decide with spec.suspend', () => {
  const base = scheduled({ suspend: true }, {});

  it('starts nothing for a new resource, says so, and leaves kstatus Current (all conditions False)', () => {
    const d = decide(input(aRefreshSuspended(), at('2026-11-23T12:00:00Z')));
    expect(d.kind).toBe('update');
    if (d.kind !== 'update') return;
    expect(d.status.conditions?.map((c) => [c.type, c.status, c.reason])).toEqual([
      ['Ready', 'False', 'Suspended'],
      ['Reconciling', 'False', 'Suspended'],
      ['Stalled', 'False', 'Suspended'],
    ]);
    expect(d.status.nextScheduleTime).toBeUndefined();
  });

  it('still follows a running job to its end', () => {
    const running = withStatus(base, {
      ...done(base, '2026-11-23T01:30:00.000Z'),
      state: 'RefreshInProgress',
      progress: 10,
    });
    const now = at('2026-11-23T12:00:00Z');
    const d = decide(input(running, now, { view: { fetchedAtMs: now, job: aJob(1, 'RefreshCompleted') } }));
    if (d.kind !== 'update') throw new Error(d.kind);
    expect(d.status.state).toBe('RefreshCompleted');
  });

  it('holds due fires, and resuming runs one catch-up for the latest', () => {
    const r = withStatus(base, done(base, '2026-11-20T01:30:00.000Z'));
    const now = at('2026-11-23T12:00:00Z');
    expect(ready(decide(input(r, now))).reason).toBe('Suspended');
    const resumed = withStatus(scheduled({ suspend: false }, {}), r.status!);
    const d = decideListing(resumed, now);
    if (d.kind !== 'submit') throw new Error(d.kind);
    expect(d.status.run?.scheduledAt).toBe('2026-11-23T01:30:00.000Z');
  });

  function aRefreshSuspended(): ExternalCollectionRefresh {
    const r = aRefresh();
    r.spec.suspend = true;
    return r;
  }
});

describe('decide with spec.backoffLimit', () => {
  const failedAt = '2026-11-23T12:00:00.000Z';
  function failed(limit: number, failedJobs: number): ExternalCollectionRefresh {
    const r = aRefresh();
    r.spec.backoffLimit = limit;
    r.status = {
      observedGeneration: 1,
      jobId: id(failedJobs),
      state: 'RefreshFailed',
      reason: 'no files found in external source',
      endTime: failedAt,
      run: {
        generation: 1,
        requestedAt: '',
        trigger: 'created',
        submittedAt: failedAt,
        baselineJobId: '0',
        attempts: 1,
        specHash: specHashOf(r),
        failedJobs,
      },
    };
    return r;
  }

  it('counts a failed job of the run when it is first seen', () => {
    const r = failed(2, 0);
    r.status = { ...r.status!, state: 'RefreshInProgress', endTime: undefined };
    const d = decide(
      input(r, at(failedAt), {
        view: { fetchedAtMs: at(failedAt), job: aJob(0, 'RefreshFailed', { reason: 'boom' }) },
      }),
    );
    if (d.kind !== 'update') throw new Error(d.kind);
    expect(d.status.run?.failedJobs).toBe(1);
  });

  it('waits 10 s, doubling per failure, then submits a new job for the same trigger', () => {
    const first = decide(input(failed(2, 1), at(failedAt) + 5_000));
    expect(ready(first)).toMatchObject({
      reason: 'RetryScheduled',
      message: expect.stringContaining('attempt 2 of 3'),
    });
    expect(first.kind === 'update' && first.requeue).toEqual({ afterMs: 5_000 });
    const second = decide(input(failed(2, 2), at(failedAt) + 15_000));
    expect(second.kind === 'update' && second.requeue).toEqual({ afterMs: 5_000 }); // 20 s after the second failure
    const d = decideListing(failed(2, 1), at(failedAt) + 10_000);
    if (d.kind !== 'submit') throw new Error(d.kind);
    expect(d.status.run).toMatchObject({ trigger: 'created', attempts: 1, failedJobs: 1 });
    expect(d.status.jobId).toBeUndefined();
    expect(d.status.history?.[0]).toMatchObject({ jobId: id(1), state: 'RefreshFailed' });
  });

  it('is Stalled past the limit, saying how many attempts failed', () => {
    const d = decide(input(failed(2, 3), at(failedAt) + 3_600_000));
    expect(findCondition(d.kind === 'update' ? d.status.conditions : [], 'Stalled')).toMatchObject({
      status: 'True',
      reason: 'RefreshFailed',
      message: expect.stringContaining('3 attempts failed (spec.backoffLimit 2)'),
    });
  });

  it('does not retry by default', () => {
    expect(ready(decide(input(failed(0, 1), at(failedAt) + 3_600_000))).reason).toBe('RefreshFailed');
  });
});

describe('decide with spec.activeDeadlineSeconds and spec.historyLimit', () => {
  it('stops following a job past its deadline: Stalled DeadlineExceeded, collection released', () => {
    const r = aRefresh({
      status: {
        observedGeneration: 1,
        jobId: id(1),
        state: 'RefreshInProgress',
        progress: 30,
        run: {
          generation: 1,
          requestedAt: '',
          trigger: 'created',
          submittedAt: '2026-11-23T12:00:00.000Z',
          baselineJobId: '0',
          attempts: 1,
        },
      },
    });
    r.spec.activeDeadlineSeconds = 60;
    const now = at('2026-11-23T12:01:00Z');
    const inTime = decide(
      input(r, now - 1_000, { view: { fetchedAtMs: now, job: aJob(1, 'RefreshInProgress', { progress: 40 }) } }),
    );
    expect(inTime.kind === 'update' && inTime.requeue).toEqual({ afterMs: 1_100 });
    const d = decide(
      input(r, now, { view: { fetchedAtMs: now, job: aJob(1, 'RefreshInProgress', { progress: 40 }) } }),
    );
    if (d.kind !== 'update') throw new Error(d.kind);
    expect(d.watch).toBeUndefined();
    expect(d.holdsCollection).toBe(false);
    expect(findCondition(d.status.conditions, 'Stalled')).toMatchObject({
      status: 'True',
      reason: 'DeadlineExceeded',
      message: expect.stringContaining('activeDeadlineSeconds=60'),
    });
    // The next trigger finds the job still running and waits for it.
    const next = aRefresh({ requestedAt: 'again', status: d.status });
    const waiting = decideListing(next, now + 1_000, [aJob(1, 'RefreshInProgress', { progress: 50 })]);
    expect(ready(waiting).reason).toBe('WaitingForActiveJob');
    expect(ready(waiting).message).toContain('started for an earlier run and stopped following');
    if (waiting.kind !== 'update') throw new Error(waiting.kind);
    // The wait is stored; the reconciles after it (the observer reporting the job, a recheck) keep waiting.
    // They used to follow the job again, find it past the deadline again and write DeadlineExceeded, then
    // WaitingForActiveJob, on every reconcile, with a Warning each time.
    const stored = aRefresh({ requestedAt: 'again', status: waiting.status });
    stored.spec.activeDeadlineSeconds = 60;
    const later = decide(
      input(stored, now + 3_000, {
        view: { fetchedAtMs: now + 3_000, job: aJob(1, 'RefreshInProgress', { progress: 60 }) },
      }),
    );
    expect(later.kind).toBe('update');
    expect(ready(later).reason).toBe('WaitingForActiveJob');
    expect(findCondition(later.kind === 'update' ? later.status.conditions : [], 'Stalled')?.status).not.toBe('True');
    expect(later.kind === 'update' && later.holdsCollection).toBe(false);
    // Once the job ends, the new trigger gets its own job.
    const after = decideListing(stored, now + 5_000, [aJob(1, 'RefreshCompleted')], {
      view: { fetchedAtMs: now + 5_000, job: aJob(1, 'RefreshCompleted') },
    });
    expect(after.kind).toBe('submit');
  });

  it('keeps at most spec.historyLimit earlier jobs', () => {
    const history = [1, 2, 3].map((n) => ({ jobId: id(n), state: 'RefreshCompleted' as const }));
    const r = aRefresh({
      requestedAt: 'again',
      status: {
        observedGeneration: 1,
        jobId: id(4),
        state: 'RefreshCompleted',
        history,
        run: {
          generation: 1,
          requestedAt: '',
          trigger: 'created',
          submittedAt: '2026-11-23T12:00:00.000Z',
          baselineJobId: '0',
          attempts: 1,
        },
      },
    });
    r.spec.historyLimit = 2;
    const d = decideListing(r, at('2026-11-23T13:00:00Z'), [aJob(4, 'RefreshCompleted')]);
    if (d.kind !== 'submit') throw new Error(d.kind);
    expect(d.status.history?.map((h) => h.jobId)).toEqual([id(4), id(1)]);
  });
});
