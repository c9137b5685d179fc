/**
 * The fault campaign's invariant checker on crafted histories: a clean one passes, and each kind of bad
 * history (a doubled job, a lost trigger, a foreign job in a status, a stale status, a stuck resource, a leaked
 * secret) is caught, so the campaign's "0 violations" is not vacuous.
 */
import { describe, expect, it } from 'vitest';
import {
  type CampaignHistory,
  type MilvusJob,
  type TriggerRecord,
  checkInvariants,
  longestFreeStretch,
} from '../../../tools/chaos-invariants.js';

const T0 = Date.UTC(2026, 11, 1, 1, 0, 0);
const V1 = 's3://lake/r000/v1/';
const V2 = 's3://lake/r000/v2/';

const trigger = (at: number, kind: TriggerRecord['kind'], source: string, requestedAt = '', generation = 1) => ({
  resource: 'r000',
  kind,
  source,
  t0: T0 + at,
  t1: T0 + at + 20,
  generation,
  requestedAt,
  phaseSeen: 'none',
});

const job = (id: string, start: number, source: string, extra: Partial<MilvusJob> = {}): MilvusJob => ({
  emulator: 0,
  jobId: id,
  collection: 'c0',
  source,
  state: 'RefreshCompleted',
  progress: 100,
  reason: '',
  startMs: T0 + start,
  endMs: T0 + start + 2_000,
  ...extra,
});

/**
 * r000: created (job 1), bumped to b1 while job 1 ran (job 2 after it), then its spec changed twice in quick
 * succession (v2 superseded before any submission could happen... then v3 runs), ending Ready on job 3.
 * A foreign job ran on the collection in between.
 */
function clean(): CampaignHistory {
  const V3 = 's3://lake/r000/v3/';
  return {
    resources: [
      {
        name: 'r000',
        emulator: 0,
        collection: 'c0',
        sources: [V1, V2, V3],
        finalGeneration: 3,
        finalRequestedAt: 'b1',
        finalStatus: {
          observedGeneration: 3,
          jobId: '3',
          state: 'RefreshCompleted',
          progress: 100,
          reason: '',
          externalSource: V3,
          startTime: new Date(T0 + 20_000).toISOString(),
          endTime: new Date(T0 + 22_000).toISOString(),
          lastHandledRequestedAt: 'b1',
          conditions: [{ type: 'Ready', status: 'True', reason: 'RefreshCompleted' }],
        },
      },
    ],
    triggers: [
      trigger(0, 'create', V1),
      trigger(1_000, 'bump', V1, 'b1'),
      trigger(10_000, 'spec', V2, 'b1', 2),
      trigger(10_200, 'spec', V3, 'b1', 3),
    ],
    jobs: [job('1', 300, V1), job('2', 2_500, V1), job('9', 6_000, 's3://foreign/c0/'), job('3', 20_000, V3)],
    foreignJobIds: ['9'],
    attributions: [
      { resource: 'r000', jobId: '1' },
      { resource: 'r000', jobId: '2' },
      { resource: 'r000', jobId: '3' },
    ],
    claims: [
      { resource: 'r000', jobId: '1', generation: 1, requestedAt: '' },
      { resource: 'r000', jobId: '2', generation: 1, requestedAt: 'b1' },
      { resource: 'r000', jobId: '3', generation: 3, requestedAt: 'b1' },
    ],
    faultWindows: [[T0 + 11_000, T0 + 18_000]],
    secretHits: [],
    settings: { submitSlackMs: 3_000, lostTriggerMs: 15_000, recoveryMs: 15_000, rpcTimeoutMs: 2_000 },
  };
}

describe('chaos invariant checker', () => {
  it('passes a history in which every trigger got its job or was superseded', () => {
    const r = checkInvariants(clean());
    expect(r.violations).toEqual([]);
    expect(r.served).toBe(3);
    expect(r.superseded).toBe(1);
    expect(r.operatorJobs).toBe(3);
  });

  it('catches a second job for one trigger', () => {
    const h = clean();
    h.jobs.push(job('4', 24_000, 's3://lake/r000/v3/'));
    expect(checkInvariants(h).violations.map((v) => v.kind)).toEqual(['double-job']);
  });

  it('catches a second job shown for one trigger', () => {
    const h = clean();
    h.jobs.push(job('4', 24_000, 's3://lake/r000/v3/'));
    h.claims.push({ resource: 'r000', jobId: '4', generation: 3, requestedAt: 'b1' });
    const v = checkInvariants(h).violations;
    expect(v.map((x) => x.kind)).toEqual(['double-job']);
    expect(v[0]!.detail).toContain('which job 3 already served');
  });

  it('ties a job to the newest of the triggers that waited for it, as the status names it', () => {
    const h = clean();
    // b2 and b3 both arrive while job 2 runs; the next job serves b3 and b2 is superseded.
    h.triggers.splice(2, 0, trigger(1_500, 'bump', V1, 'b2'), trigger(1_800, 'bump', V1, 'b3'));
    h.jobs.push(job('6', 4_600, V1));
    h.claims.push({ resource: 'r000', jobId: '6', generation: 1, requestedAt: 'b3' });
    const r = checkInvariants(h);
    expect(r.violations).toEqual([]);
    expect(r.served).toBe(4);
    expect(r.superseded).toBe(2);
  });

  it('ties a job to the newest trigger of a value written twice (an annotation set back)', () => {
    const h = clean();
    // b1 -> b2 -> b1 again: two triggers with the same (generation, value), each with its job.
    h.triggers.splice(2, 0, trigger(4_000, 'bump', V1, 'b2'), trigger(6_000, 'bump', V1, 'b1'));
    h.jobs.push(job('7', 4_200, V1), job('8', 6_300, V1));
    h.claims.push(
      { resource: 'r000', jobId: '7', generation: 1, requestedAt: 'b2' },
      { resource: 'r000', jobId: '8', generation: 1, requestedAt: 'b1' },
    );
    const r = checkInvariants(h);
    expect(r.violations).toEqual([]);
    expect(r.served).toBe(5);
  });

  it('catches a status that names a job for a trigger it cannot serve', () => {
    const h = clean();
    h.claims[2] = { resource: 'r000', jobId: '3', generation: 1, requestedAt: 'b1' }; // v1's trigger, v3's job
    expect(checkInvariants(h).violations.map((v) => v.kind)).toContain('misattributed');
    const h2 = clean();
    h2.triggers.push(trigger(25_000, 'bump', 's3://lake/r000/v3/', 'b9', 3));
    h2.claims[2] = { resource: 'r000', jobId: '3', generation: 3, requestedAt: 'b9' }; // written after the job started
    expect(checkInvariants(h2).violations.map((v) => v.kind)).toContain('misattributed');
  });

  it('catches a job no resource asked for', () => {
    const h = clean();
    h.jobs.push(job('5', 30_000, 's3://lake/nobody/v1/'));
    expect(checkInvariants(h).violations.map((v) => v.kind)).toEqual(['unknown-job']);
  });

  it('catches a last trigger without a job, but not one that ended Stalled', () => {
    const h = clean();
    h.jobs = h.jobs.filter((j) => j.jobId !== '3');
    h.resources[0]!.finalStatus = { ...h.resources[0]!.finalStatus, jobId: undefined };
    expect(checkInvariants(h).violations.map((v) => v.kind)).toContain('missing-job');
    h.resources[0]!.finalStatus.conditions = [{ type: 'Stalled', status: 'True', reason: 'SubmitLost' }];
    const r = checkInvariants(h);
    expect(r.violations).toEqual([]);
    expect(r.stalled).toEqual({ SubmitLost: 1 });
  });

  it('catches a trigger that sat with its collection free and got no job', () => {
    const h = clean();
    // The bump's job never ran; the next trigger came 9 s after job 1 ended, with nothing in the way.
    h.jobs = h.jobs.filter((j) => j.jobId !== '2' && j.jobId !== '9');
    h.attributions = h.attributions.filter((a) => a.jobId !== '2');
    h.claims = h.claims.filter((a) => a.jobId !== '2');
    h.faultWindows = [];
    h.triggers[2] = { ...h.triggers[2]!, t0: T0 + 30_000, t1: T0 + 30_020 };
    h.triggers[3] = { ...h.triggers[3]!, t0: T0 + 30_100, t1: T0 + 30_120 };
    h.jobs.find((j) => j.jobId === '3')!.startMs = T0 + 31_000;
    const kinds = checkInvariants(h).violations.map((v) => v.kind);
    expect(kinds).toContain('lost-trigger');
  });

  it('catches a status that showed a foreign job as its own', () => {
    const h = clean();
    h.attributions.push({ resource: 'r000', jobId: '9' });
    expect(checkInvariants(h).violations.map((v) => v.kind)).toEqual(['misattributed']);
  });

  it("catches a final status that differs from Milvus' report", () => {
    const h = clean();
    h.resources[0]!.finalStatus!.progress = 99;
    h.resources[0]!.finalStatus!.state = 'RefreshInProgress';
    const v = checkInvariants(h).violations;
    expect(v.map((x) => x.kind)).toEqual(['status-mismatch']);
    expect(v[0]!.detail).toContain('progress 99 vs 100');
  });

  it('catches a resource stuck without a Stalled reason', () => {
    const h = clean();
    h.resources[0]!.finalRequestedAt = 'b2';
    h.resources[0]!.finalStatus!.conditions = [{ type: 'Ready', status: 'False', reason: 'WaitingForActiveJob' }];
    expect(checkInvariants(h).violations.map((v) => v.kind)).toContain('stuck');
  });

  it('catches a job started after its resource was deleted', () => {
    const h = clean();
    h.resources[0]!.deletedAt = T0 + 12_000;
    expect(checkInvariants(h).violations.map((v) => v.kind)).toEqual(['job-after-deletion']);
  });

  it('reports every place a secret was found', () => {
    const h = clean();
    h.secretHits.push({ where: 'operator log 0', excerpt: 'password=...' });
    expect(checkInvariants(h).violations.map((v) => v.kind)).toEqual(['secret-leak']);
  });

  it('measures free stretches between busy intervals', () => {
    expect(longestFreeStretch(0, 100, [])).toBe(100);
    expect(
      longestFreeStretch(0, 100, [
        [10, 20],
        [15, 40],
        [90, 200],
      ]),
    ).toBe(50);
  });
});
