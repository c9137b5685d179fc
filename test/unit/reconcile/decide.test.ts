import { describe, expect, it } from 'vitest';
import { findCondition } from '../../../src/api/conditions.js';
import type { ExternalCollectionRefresh, ExternalCollectionRefreshStatus } from '../../../src/api/v1alpha1.js';
import { NOW, SETTINGS, aJob, aRefresh, id, iso, submitted } from '../../support/builders.js';
import { afterSubmit, decide } from '../../../src/reconcile/decide.js';
import type { DecideInput, Decision } from '../../../src/reconcile/model.js';
import { isSettled } from '../../../src/reconcile/phase.js';
import { specHashOf } from '../../../src/reconcile/trigger.js';

function input(r: ExternalCollectionRefresh, extra: Partial<DecideInput> = {}): DecideInput {
  return { now: NOW, resource: r, settings: SETTINGS, connection: { ok: true, address: 'milvus:19530' }, ...extra };
}

function update(d: Decision): Extract<Decision, { kind: 'update' }> {
  if (d.kind !== 'update') throw new Error(`expected update, got ${d.kind}`);
  return d;
}

function ready(d: Decision): { status: string; reason: string; message: string } {
  const c = findCondition(update(d).status.conditions, 'Ready')!;
  return { status: c.status, reason: c.reason, message: c.message };
}

describe('decide: a new resource', () => {
  it('asks for the collection jobs first, then submits with the highest listed id as baseline', () => {
    const r = aRefresh();
    // A trigger in the object itself: a recent all-jobs answer may stand for the list (reconciler.ts).
    expect(decide(input(r))).toEqual({ kind: 'listCollectionJobs', newTrigger: true });
    const d = decide(
      input(r, {
        collectionJobs: {
          jobs: [aJob(3, 'RefreshCompleted', { progress: 100 }), aJob(7, 'RefreshFailed', { progress: 20 })],
        },
      }),
    );
    expect(d.kind).toBe('submit');
    if (d.kind !== 'submit') return;
    expect(d.status.run).toEqual({
      generation: 1,
      requestedAt: '',
      trigger: 'created',
      submittedAt: iso(NOW),
      baselineJobId: id(7),
      attempts: 1,
      specHash: specHashOf(r),
    });
    expect(d.request).toEqual({ collection: 'products', database: 'default' });
    expect(findCondition(d.status.conditions, 'Reconciling')).toMatchObject({
      status: 'True',
      reason: 'Submitting',
      observedGeneration: 1,
    });
  });

  it("takes the baseline from an all-jobs answer's highest job id when that stands for the list", () => {
    const d = decide(input(aRefresh(), { collectionJobs: { jobs: [], highestJobId: id(40) } }));
    expect(d.kind === 'submit' && d.status.run?.baselineJobId).toBe(id(40));
  });

  it('asks for a real list, not an all-jobs answer, to call again for the same trigger and to resolve a doubt', () => {
    // The same trigger's call again (Milvus refused it before): the trigger is not new.
    const refused = aRefresh({
      status: { observedGeneration: 1, run: { generation: 1, requestedAt: '', trigger: 'created', attempts: 0 } },
    });
    refused.status!.run!.specHash = specHashOf(refused);
    expect(decide(input(refused))).toEqual({ kind: 'listCollectionJobs' });
    // In doubt: only the collection's own list can tell whether the call left a job.
    expect(decide(input(aRefresh({ status: submitted(3) })))).toEqual({ kind: 'listCollectionJobs' });
  });

  it('sends the source and spec override together, the spec as JSON', () => {
    const r = aRefresh();
    r.spec.externalSource = 's3://lake/v2/';
    r.spec.externalSpec = { format: 'parquet', extfs: { cloud_provider: 'aws', region: 'us-west-2' } };
    const d = decide(input(r, { collectionJobs: { jobs: [] } }));
    expect(d.kind === 'submit' && d.request).toEqual({
      collection: 'products',
      database: 'default',
      externalSource: 's3://lake/v2/',
      externalSpec: '{"format":"parquet","extfs":{"cloud_provider":"aws","region":"us-west-2"}}',
    });
  });

  it('waits for a job it did not start instead of submitting, and watches the collection', () => {
    const d = update(
      decide(input(aRefresh(), { collectionJobs: { jobs: [aJob(9, 'RefreshInProgress', { progress: 40 })] } })),
    );
    expect(d.watch).toEqual({ jobId: id(9) });
    expect(d.holdsCollection).toBe(false);
    expect(ready(d)).toMatchObject({ status: 'False', reason: 'WaitingForActiveJob' });
    expect(ready(d).message).toContain(`job ${id(9)}`);
  });

  it('does not even list while the observer still sees a foreign active job', () => {
    const waiting = aRefresh({ status: { observedGeneration: 1 } }); // the wait was decided at this generation
    const d = decide(input(waiting, { view: { fetchedAtMs: NOW, job: aJob(9, 'RefreshPending') } }));
    expect(ready(d).reason).toBe('WaitingForActiveJob');
    expect(update(d).watch).toEqual({ jobId: id(9) });
    // Once it ended, the collection is listed again (the list, not the observer, says whether another started).
    expect(
      decide(input(aRefresh(), { view: { fetchedAtMs: NOW, job: aJob(9, 'RefreshCompleted', { progress: 100 }) } }))
        .kind,
    ).toBe('listCollectionJobs');
  });

  it('waits for another resource of the operator that holds the collection, without calling Milvus', () => {
    const d = decide(input(aRefresh(), { claim: { owner: 'search/other', jobId: id(5) } }));
    expect(ready(d)).toMatchObject({ reason: 'WaitingForResource' });
    expect(ready(d).message).toContain('search/other');
    expect(update(d).requeue).toEqual({ afterMs: SETTINGS.pollIntervalMs });
  });

  it('reports a missing collection as Stalled and backs off', () => {
    const d = update(
      decide(
        input(aRefresh(), {
          collectionJobs: {
            failure: {
              kind: 'collectionNotFound',
              message: 'collection not found[database=default][collection=products]',
            },
          },
        }),
      ),
    );
    expect(findCondition(d.status.conditions, 'Stalled')).toMatchObject({
      status: 'True',
      reason: 'CollectionNotFound',
    });
    expect(d.requeue).toEqual({ backoff: true });
  });

  it('says Milvus is unreachable when the list fails, and Stalled once it has been failing long enough', () => {
    const failure = { kind: 'unavailable' as const, message: 'unavailable: connect ECONNREFUSED' };
    const soon = update(decide(input(aRefresh(), { collectionJobs: { failure }, unavailableSinceMs: NOW - 1_000 })));
    expect(findCondition(soon.status.conditions, 'Reconciling')).toMatchObject({
      status: 'True',
      reason: 'MilvusUnavailable',
    });
    expect(soon.requeue).toEqual({ backoff: true });
    const late = update(
      decide(input(aRefresh(), { collectionJobs: { failure }, unavailableSinceMs: NOW - SETTINGS.unavailableStallMs })),
    );
    expect(findCondition(late.status.conditions, 'Stalled')).toMatchObject({
      status: 'True',
      reason: 'MilvusUnavailable',
    });
    expect(ready(late).message).toContain(`since ${iso(NOW - SETTINGS.unavailableStallMs)} (10 min)`);
  });

  it('reports a missing Secret without calling Milvus', () => {
    const d = update(
      decide(
        input(aRefresh(), {
          connection: { ok: false, reason: 'SecretNotFound', message: 'Secret search/creds not found' },
        }),
      ),
    );
    expect(findCondition(d.status.conditions, 'Stalled')).toMatchObject({
      status: 'True',
      reason: 'SecretNotFound',
      message: 'Secret search/creds not found',
    });
  });
});

describe('decide: after the refresh call (afterSubmit)', () => {
  const intent = aRefresh({ status: submitted(0) });
  it('records the job id and watches it', () => {
    const d = update(
      afterSubmit({
        resource: intent,
        result: { jobId: id(11) },
        now: NOW,
        settings: SETTINGS,
        address: 'milvus:19530',
      }),
    );
    expect(d.status.jobId).toBe(id(11));
    expect(d.status.state).toBeUndefined(); // not claimed before Milvus reports it
    expect(d.watch).toEqual({ jobId: id(11) });
    expect(ready(d).reason).toBe('RefreshSubmitted');
    // Not listed yet: looked at again when the grace period for an unpersisted job ends.
    expect(d.requeue).toEqual({ afterMs: SETTINGS.submitGraceMs });
  });

  it("writes Milvus' first report of the job with its id when the collection's list already shows it", () => {
    const args = { resource: intent, result: { jobId: id(11) }, now: NOW, settings: SETTINGS, address: 'milvus:19530' };
    const d = update(afterSubmit({ ...args, firstReport: aJob(11, 'RefreshPending') }));
    expect(d.status.jobId).toBe(id(11));
    expect(d.status.state).toBe('RefreshPending');
    expect(d.watch).toEqual({ jobId: id(11) });
    expect(ready(d).reason).toBe('RefreshPending');
    // Listed, so persisted: followed through the job observer, with no timer (but the deadline's).
    expect(d.requeue).toBeUndefined();
    const bounded = aRefresh({ status: submitted(0) });
    bounded.spec.activeDeadlineSeconds = 600;
    const deadline = update(afterSubmit({ ...args, resource: bounded, firstReport: aJob(11, 'RefreshPending') }));
    expect(deadline.requeue).toEqual({ afterMs: Date.parse(bounded.status!.run!.submittedAt!) + 600_000 - NOW + 100 });
    // An ended job, or another job, is left to the job observer.
    expect(update(afterSubmit({ ...args, firstReport: aJob(11, 'RefreshCompleted') })).status.state).toBeUndefined();
    expect(update(afterSubmit({ ...args, firstReport: aJob(12, 'RefreshPending') })).status.state).toBeUndefined();
    expect(update(afterSubmit({ ...args, firstReport: aJob(12, 'RefreshPending') })).requeue).toEqual({
      afterMs: SETTINGS.submitGraceMs,
    });
  });

  it('keeps the intent when the call may have reached Milvus (unavailable), and when Milvus says "in progress"', () => {
    for (const kind of ['unavailable', 'duplicate'] as const) {
      const d = update(
        afterSubmit({
          resource: intent,
          result: { failure: { kind, message: 'x' } },
          now: NOW,
          settings: SETTINGS,
          address: 'milvus:19530',
        }),
      );
      expect(d.status.run?.submittedAt).toBe(intent.status!.run!.submittedAt);
      expect(d.holdsCollection).toBe(true);
    }
  });

  it('drops the intent when Milvus certainly created no job', () => {
    const d = update(
      afterSubmit({
        resource: intent,
        result: {
          failure: {
            kind: 'notExternal',
            message: 'collection products is not an external collection: invalid parameter',
          },
        },
        now: NOW,
        settings: SETTINGS,
        address: 'm',
      }),
    );
    expect(d.status.run?.submittedAt).toBeUndefined();
    expect(findCondition(d.status.conditions, 'Stalled')).toMatchObject({
      status: 'True',
      reason: 'NotExternalCollection',
    });
    expect(d.holdsCollection).toBe(false);
  });
});

describe('decide: a submission in doubt (the process died around the call)', () => {
  it('adopts the first job above the baseline', () => {
    const r = aRefresh({ status: submitted(5) });
    const d = update(
      decide(
        input(r, {
          collectionJobs: {
            jobs: [
              aJob(12, 'RefreshPending'),
              aJob(9, 'RefreshInProgress', { progress: 10 }),
              aJob(5, 'RefreshCompleted', { progress: 100 }),
            ],
          },
        }),
      ),
    );
    expect(d.status.jobId).toBe(id(9));
    expect(d.status.state).toBe('RefreshInProgress');
    expect(ready(d).reason).toBe('RefreshAdopted');
    expect(d.watch).toEqual({ jobId: id(9) });
  });

  it('adopts a job that already ended, and is done', () => {
    const r = aRefresh({ status: submitted(5) });
    const d = update(decide(input(r, { collectionJobs: { jobs: [aJob(6, 'RefreshCompleted', { progress: 100 })] } })));
    expect(d.status).toMatchObject({
      jobId: id(6),
      state: 'RefreshCompleted',
      progress: 100,
      lastSuccessfulTime: iso(NOW - 1_000),
    });
    expect(ready(d)).toMatchObject({ status: 'True', reason: 'RefreshCompleted' });
    expect(d.watch).toBeUndefined();
  });

  it('does not adopt the job another resource holds', () => {
    const r = aRefresh({ status: submitted(5) });
    const d = update(
      decide(
        input(r, {
          claim: { owner: 'search/other', jobId: id(6) },
          collectionJobs: { jobs: [aJob(6, 'RefreshInProgress')] },
        }),
      ),
    );
    expect(d.status.jobId).toBeUndefined();
    expect(ready(d).reason).toBe('WaitingForActiveJob');
  });

  it('waits out the grace period before calling again (Milvus persists jobs asynchronously)', () => {
    const r = aRefresh({ status: submitted(5) });
    const d = update(decide(input(r, { collectionJobs: { jobs: [aJob(5, 'RefreshCompleted', { progress: 100 })] } })));
    expect(d.status.jobId).toBeUndefined();
    expect(d.requeue).toEqual({ afterMs: SETTINGS.submitGraceMs - 1_000 });
  });

  it('calls again after the grace period when no job appeared, counting the attempt', () => {
    const r = aRefresh({ status: submitted(5) });
    const d = decide(
      input(
        { ...r },
        { now: NOW + 40_000, collectionJobs: { jobs: [aJob(5, 'RefreshCompleted', { progress: 100 })] } },
      ),
    );
    expect(d.kind === 'submit' && d.status.run).toMatchObject({
      attempts: 2,
      baselineJobId: id(5),
      trigger: 'created',
      submittedAt: iso(NOW + 40_000),
    });
  });

  it('gives up after maxSubmitAttempts calls left no job', () => {
    const r = aRefresh({ status: submitted(5, { attempts: 3 }) });
    const d = update(decide(input(r, { now: NOW + 40_000, collectionJobs: { jobs: [] } })));
    expect(findCondition(d.status.conditions, 'Stalled')).toMatchObject({ status: 'True', reason: 'SubmitLost' });
    const again = decide(input({ ...r, status: d.status }, { now: NOW + 50_000 }));
    expect(update(again).requeue).toBeUndefined(); // no more Milvus calls until a new trigger
  });
});

describe('decide: following a job', () => {
  const running: ExternalCollectionRefreshStatus = {
    ...submitted(0),
    jobId: id(1),
    state: 'RefreshInProgress',
    progress: 10,
  };

  it('copies every field Milvus reports and stays Reconciling while it runs', () => {
    const job = aJob(1, 'RefreshInProgress', { progress: 55, reason: '' });
    const d = update(decide(input(aRefresh({ status: running }), { view: { fetchedAtMs: NOW, job } })));
    expect(d.status).toMatchObject({
      jobId: id(1),
      collectionName: 'products',
      state: 'RefreshInProgress',
      progress: 55,
      externalSource: 's3://lake/products/',
      externalSpec: '{"format":"parquet"}',
      startTime: iso(NOW - 60_000),
    });
    expect(d.status.endTime).toBeUndefined();
    expect(findCondition(d.status.conditions, 'Reconciling')).toMatchObject({
      status: 'True',
      reason: 'RefreshInProgress',
    });
    expect(d.watch).toEqual({ jobId: id(1) });
  });

  it('shows a transient reason while Pending without calling it a failure', () => {
    const d = update(
      decide(
        input(aRefresh({ status: { ...running, state: 'RefreshPending', progress: 0 } }), {
          view: { fetchedAtMs: NOW, job: aJob(1, 'RefreshPending', { progress: 0, reason: 'NoSuchBucket' }) },
        }),
      ),
    );
    expect(d.status.reason).toBe('NoSuchBucket');
    expect(findCondition(d.status.conditions, 'Stalled')?.status).toBe('False');
    expect(ready(d).message).toContain('Milvus reports: NoSuchBucket');
  });

  it("becomes Ready when the job completes, and Stalled with Milvus' reason when it fails", () => {
    const done = update(
      decide(
        input(aRefresh({ status: running }), {
          view: { fetchedAtMs: NOW, job: aJob(1, 'RefreshCompleted', { progress: 100 }) },
        }),
      ),
    );
    expect(ready(done)).toMatchObject({ status: 'True', reason: 'RefreshCompleted' });
    expect(done.status.lastSuccessfulTime).toBe(iso(NOW - 1_000));
    expect(done.status.endTime).toBe(iso(NOW - 1_000));
    expect(done.watch).toBeUndefined();
    const failed = update(
      decide(
        input(aRefresh({ status: running }), {
          view: {
            fetchedAtMs: NOW,
            job: aJob(1, 'RefreshFailed', { progress: 30, reason: 'worker failure 1/1: boom' }),
          },
        }),
      ),
    );
    expect(findCondition(failed.status.conditions, 'Stalled')).toMatchObject({
      status: 'True',
      reason: 'RefreshFailed',
    });
    expect(ready(failed).message).toBe(`Milvus refresh job ${id(1)} failed: worker failure 1/1: boom`);
  });

  it('says Milvus is unreachable, then Stalled once that lasts too long', () => {
    const since = NOW - 60_000;
    const view = {
      fetchedAtMs: NOW - 70_000,
      error: {
        failure: { kind: 'unavailable' as const, message: '14 UNAVAILABLE: connect ECONNREFUSED' },
        sinceMs: since,
      },
    };
    const d = update(decide(input(aRefresh({ status: running }), { view })));
    expect(findCondition(d.status.conditions, 'Reconciling')).toMatchObject({
      status: 'True',
      reason: 'MilvusUnavailable',
    });
    expect(ready(d).message).toContain('Last known: Milvus refresh job');
    const later = update(
      decide(input(aRefresh({ status: running }), { view, now: since + SETTINGS.unavailableStallMs })),
    );
    expect(findCondition(later.status.conditions, 'Stalled')).toMatchObject({
      status: 'True',
      reason: 'MilvusUnavailable',
    });
    expect(later.watch).toEqual({ jobId: id(1) }); // still observing: it recovers when Milvus returns
  });

  it('treats a job Milvus never reported after the grace period as dropped (milvus#49231) and goes back to doubt', () => {
    const unseen: ExternalCollectionRefreshStatus = { ...submitted(0), jobId: id(1) };
    const early = update(decide(input(aRefresh({ status: unseen }), { view: { fetchedAtMs: NOW } })));
    expect(early.status.jobId).toBe(id(1));
    // Missing from the lists for less than the grace period: not yet conclusive.
    const brief = update(
      decide(
        input(aRefresh({ status: unseen }), {
          now: NOW + 40_000,
          view: { fetchedAtMs: NOW + 39_000, missingSinceMs: NOW + 30_000 },
        }),
      ),
    );
    expect(brief.status.jobId).toBe(id(1));
    const d = update(
      decide(
        input(aRefresh({ status: unseen }), {
          now: NOW + 40_000,
          view: { fetchedAtMs: NOW + 39_000, missingSinceMs: NOW + 1_000 },
        }),
      ),
    );
    expect(d.status.jobId).toBeUndefined();
    expect(d.status.run?.submittedAt).toBe(unseen.run!.submittedAt);
    expect(ready(d).reason).toBe('JobDropped');
  });

  it('reports a job that vanished after being seen as JobLost, and stops following it', () => {
    const blip = update(
      decide(
        input(aRefresh({ status: running }), {
          now: NOW + 40_000,
          view: { fetchedAtMs: NOW + 39_000, missingSinceMs: NOW + 38_000 },
        }),
      ),
    );
    expect(findCondition(blip.status.conditions, 'Stalled')?.status).toBe('False'); // one missing list is a blip
    expect(blip.watch).toEqual({ jobId: id(1) });
    const d = update(
      decide(
        input(aRefresh({ status: running }), {
          now: NOW + 40_000,
          view: { fetchedAtMs: NOW + 39_000, missingSinceMs: NOW + 5_000 },
        }),
      ),
    );
    expect(findCondition(d.status.conditions, 'Stalled')).toMatchObject({ status: 'True', reason: 'JobLost' });
    expect(d.status.state).toBe('RefreshInProgress'); // the last state Milvus reported, not an invented one
    expect(d.watch).toBeUndefined();
    const after = update(decide(input(aRefresh({ status: d.status }), { now: NOW + 50_000 })));
    expect(after.requeue).toBeUndefined();
    expect(after.watch).toBeUndefined();
  });

  it('starts a newer trigger at once when the job of the older one is lost, instead of following it again', () => {
    // The job vanished while a newer annotation value was waiting for it. That decision used to keep the
    // missing job as the status' active job (RefreshQueued, requeue at once): every later reconcile followed it
    // again, found it lost again, and the newer trigger never got a job.
    const r = aRefresh({ status: running, requestedAt: 'again' });
    const missing = { now: NOW + 40_000, view: { fetchedAtMs: NOW + 39_000, missingSinceMs: NOW + 5_000 } };
    expect(decide(input(r, missing)).kind).toBe('listCollectionJobs');
    const d = decide(input(r, { ...missing, collectionJobs: { jobs: [] } }));
    if (d.kind !== 'submit') throw new Error(`expected submit, got ${d.kind}`);
    expect(d.status.run?.requestedAt).toBe('again');
    expect(d.status.history?.[0]).toMatchObject({ jobId: id(1), state: 'RefreshInProgress' });
  });
});

describe('decide: triggers', () => {
  const completed: ExternalCollectionRefreshStatus = {
    ...submitted(0),
    jobId: id(1),
    state: 'RefreshCompleted',
    progress: 100,
    endTime: iso(NOW - 5_000),
  };

  it('does nothing, and calls nothing, when the current trigger is done', () => {
    const d = update(decide(input(aRefresh({ status: completed }))));
    expect(d.requeue).toBeUndefined();
    expect(d.watch).toBeUndefined();
    expect(isSettled(aRefresh({ status: completed }), NOW)).toBe(true); // not even a Secret is read for it
    expect(isSettled(aRefresh({ status: completed, requestedAt: 'again' }), NOW)).toBe(false);
    expect(isSettled(aRefresh({ status: { ...completed, state: 'RefreshInProgress' } }), NOW)).toBe(false);
  });

  it('starts a new run for a new annotation value, keeping the previous job in history', () => {
    const d = decide(
      input(aRefresh({ status: completed, requestedAt: '2026-11-29T12:00:00Z' }), {
        collectionJobs: { jobs: [aJob(1, 'RefreshCompleted', { progress: 100 })] },
      }),
    );
    expect(d.kind).toBe('submit');
    if (d.kind !== 'submit') return;
    expect(d.status.run).toMatchObject({
      generation: 1,
      requestedAt: '2026-11-29T12:00:00Z',
      trigger: 'refresh requested (milvus.io/refresh-requested-at=2026-11-29T12:00:00Z)',
      attempts: 1,
    });
    expect(d.status.jobId).toBeUndefined();
    expect(d.status.history).toEqual([
      { jobId: id(1), state: 'RefreshCompleted', progress: 100, endTime: iso(NOW - 5_000), trigger: 'created' },
    ]);
  });

  it('starts a new run for a spec change, but only after the running job ends', () => {
    const running: ExternalCollectionRefreshStatus = {
      ...completed,
      state: 'RefreshInProgress',
      progress: 30,
      endTime: undefined,
    };
    const r = aRefresh({ status: running, generation: 2 });
    const d = update(
      decide(input(r, { view: { fetchedAtMs: NOW, job: aJob(1, 'RefreshInProgress', { progress: 40 }) } })),
    );
    expect(ready(d).message).toContain('A new refresh (spec changed (generation 2)) starts when it ends');
    expect(d.status.observedGeneration).toBe(2);
    const ended = update(
      decide(input(r, { view: { fetchedAtMs: NOW, job: aJob(1, 'RefreshCompleted', { progress: 100 }) } })),
    );
    expect(ended.requeue).toEqual({ afterMs: 0 });
    expect(decide(input(aRefresh({ status: ended.status, generation: 2 }))).kind).toBe('listCollectionJobs');
  });

  it("does not report an older trigger's job as the outcome of the new one", () => {
    const running: ExternalCollectionRefreshStatus = {
      ...completed,
      state: 'RefreshInProgress',
      progress: 30,
      endTime: undefined,
    };
    const r = aRefresh({ status: running, generation: 2 });
    for (const state of ['RefreshCompleted', 'RefreshFailed'] as const) {
      const d = update(
        decide(
          input(r, {
            view: { fetchedAtMs: NOW, job: aJob(1, state, { progress: state === 'RefreshCompleted' ? 100 : 20 }) },
          }),
        ),
      );
      expect(ready(d)).toMatchObject({ status: 'False', reason: 'RefreshQueued' });
      expect(findCondition(d.status.conditions, 'Stalled')?.status).toBe('False');
      expect(ready(d).message).toContain('A new refresh (spec changed (generation 2)) starts now');
      expect(d.status.state).toBe(state); // status still shows what Milvus reports for that job
    }
  });

  it('does not count a call Milvus refused towards the attempts', () => {
    const intent = aRefresh({ status: submitted(0, { attempts: 2 }) });
    const d = update(
      afterSubmit({
        resource: intent,
        result: { failure: { kind: 'collectionNotFound', message: 'collection not found' } },
        now: NOW,
        settings: SETTINGS,
        address: 'm',
      }),
    );
    expect(d.status.run?.attempts).toBe(1);
  });

  it('keeps holding the collection while a run is in doubt even when its Secret cannot be read', () => {
    const d = update(
      decide(
        input(aRefresh({ status: submitted(0) }), {
          connection: { ok: false, reason: 'SecretNotFound', message: 'gone' },
        }),
      ),
    );
    expect(d.holdsCollection).toBe(true);
  });

  it('keeps conditions at the current generation so kubectl wait does not return early', () => {
    const d = update(
      decide(
        input(aRefresh({ status: completed, generation: 3 }), {
          collectionJobs: { jobs: [aJob(9, 'RefreshInProgress')] },
        }),
      ),
    );
    for (const c of d.status.conditions ?? []) expect(c.observedGeneration).toBe(3);
    expect(ready(d).status).toBe('False');
  });
});
