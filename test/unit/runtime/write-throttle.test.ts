import { describe, expect, it } from 'vitest';
import type { ExternalCollectionRefreshStatus } from '../../../src/api/v1alpha1.js';
import { WriteThrottle, isProgressOnly } from '../../../src/runtime/write-throttle.js';

const condition = (type: string, status: 'True' | 'False', reason: string, message = reason) => ({
  type,
  status,
  reason,
  message,
  lastTransitionTime: '2026-01-01T00:00:00Z',
  observedGeneration: 1,
});

/** A status of job 7 in `state` at `progress`. */
function running(
  state: string | undefined,
  progress = 0,
  reason = state ?? 'RefreshSubmitted',
): ExternalCollectionRefreshStatus {
  return {
    jobId: '7',
    ...(state ? { state: state as ExternalCollectionRefreshStatus['state'], progress } : {}),
    observedGeneration: 1,
    run: { generation: 1, trigger: 'created', submittedAt: '2026-01-01T00:00:00Z', baselineJobId: '6' },
    conditions: [
      condition('Ready', 'False', reason, `job 7 ${progress}%`),
      condition('Reconciling', 'True', reason, `job 7 ${progress}%`),
      condition('Stalled', 'False', reason),
    ],
  } as ExternalCollectionRefreshStatus;
}

describe('isProgressOnly', () => {
  it('is true for a running job that only progressed, and false when it moved from pending to in progress', () => {
    expect(isProgressOnly(running('RefreshInProgress', 10), running('RefreshInProgress', 40))).toBe(true);
    // A move from pending to in progress is a state change: written at once.
    expect(isProgressOnly(running('RefreshPending', 0), running('RefreshInProgress', 5))).toBe(false);
  });

  it('compares the other fields by value: key order does not matter, any other change does', () => {
    const before = running('RefreshInProgress', 10);
    const reordered = running('RefreshInProgress', 20);
    reordered.run = {
      baselineJobId: '6',
      submittedAt: '2026-01-01T00:00:00Z',
      trigger: 'created',
      generation: 1,
    } as typeof reordered.run;
    expect(isProgressOnly(before, reordered)).toBe(true);
    const retried = running('RefreshInProgress', 20);
    retried.run = { ...retried.run!, attempts: 2 };
    expect(isProgressOnly(before, retried)).toBe(false);
    const withHistory = { ...running('RefreshInProgress', 20), history: [{ jobId: '6', state: 'RefreshCompleted' }] };
    expect(isProgressOnly(before, withHistory as ExternalCollectionRefreshStatus)).toBe(false);
  });

  it('is false for the first report of a job, its end, a new job, a new generation or a condition flip', () => {
    expect(isProgressOnly(running(undefined), running('RefreshPending'))).toBe(false);
    expect(isProgressOnly(undefined, running('RefreshPending'))).toBe(false);
    const done = running('RefreshCompleted', 100);
    done.conditions = [
      condition('Ready', 'True', 'RefreshCompleted'),
      condition('Reconciling', 'False', 'RefreshCompleted'),
      condition('Stalled', 'False', 'RefreshCompleted'),
    ];
    expect(isProgressOnly(running('RefreshInProgress', 90), done)).toBe(false);
    expect(isProgressOnly(running('RefreshInProgress', 10), { ...running('RefreshInProgress', 20), jobId: '8' })).toBe(
      false,
    );
    expect(
      isProgressOnly(running('RefreshInProgress', 10), { ...running('RefreshInProgress', 20), observedGeneration: 2 }),
    ).toBe(false);
    const unavailable = running('RefreshInProgress', 10, 'MilvusUnavailable');
    expect(isProgressOnly(running('RefreshInProgress', 10), unavailable)).toBe(false);
  });
});

describe('WriteThrottle', () => {
  it('holds progress-only writes until the interval since the last write has passed', () => {
    let now = 1_000;
    const t = new WriteThrottle(10_000, () => now);
    const a = running('RefreshInProgress', 10);
    const b = running('RefreshInProgress', 20);
    expect(t.delay('ns/r', a, b)).toBe(0); // nothing written yet: write now
    t.wrote('ns/r');
    now += 3_000;
    expect(t.delay('ns/r', a, b)).toBe(7_000);
    expect(t.delay('ns/r', running(undefined), a)).toBe(0); // a change of state is written at once
    now += 7_000;
    expect(t.delay('ns/r', a, b)).toBe(0);
    expect(new WriteThrottle(0).delay('ns/r', a, b)).toBe(0);
  });

  it('forgets resources written longer than an interval ago', () => {
    let now = 0;
    const t = new WriteThrottle(1_000, () => now);
    for (let i = 0; i < 1023; i++) t.wrote(`ns/r${i}`);
    now = 5_000;
    t.wrote('ns/last'); // the 1024th write sweeps
    expect(t.size).toBe(1);
  });
});
