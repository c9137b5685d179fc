import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../../../src/logger.js';
import type { Endpoint, MilvusPort } from '../../../src/reconcile/ports.js';
import { type JobInfo, MilvusCallError } from '../../../src/reconcile/types.js';
import { JobObserver } from '../../../src/runtime/observer.js';

const endpoint = (key: string): Endpoint => ({ key, address: `${key}:19530`, database: 'default' });
const job = (id: string, state: JobInfo['state'], progress = 0, collection = 'c'): JobInfo => ({
  jobId: id,
  collectionName: collection,
  state,
  progress,
  reason: '',
  externalSource: '',
  externalSpec: '',
  startTimeMs: 1,
  endTimeMs: 0,
});

/** A Milvus whose job list the test controls, counting calls per endpoint. */
function fakeMilvus(): MilvusPort & { jobs: JobInfo[]; calls: string[]; down: boolean } {
  const m = {
    jobs: [] as JobInfo[],
    calls: [] as string[],
    down: false,
    refresh: () => Promise.reject(new Error('not used')),
    listJobs: (e: Endpoint, collection: string) => {
      m.calls.push(`${e.key}:${collection}`);
      return m.down
        ? Promise.reject(new MilvusCallError({ kind: 'unavailable', message: 'down' }))
        : Promise.resolve([...m.jobs]);
    },
  };
  return m;
}

describe('JobObserver', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('lists once per endpoint per poll however many jobs it follows, and stops when none is left', async () => {
    const milvus = fakeMilvus();
    milvus.jobs = [job('1', 'RefreshInProgress'), job('2', 'RefreshInProgress'), job('3', 'RefreshInProgress')];
    const woken: string[] = [];
    const obs = new JobObserver(
      milvus,
      (k) => woken.push(k),
      { pollIntervalMs: 1_000, maxBackoffMs: 60_000 },
      silentLogger,
    );
    for (const id of ['1', '2', '3']) obs.watch(`ns/r${id}`, endpoint('a'), { jobId: id });
    obs.watch('ns/other', endpoint('b'), { jobId: '1' });
    await vi.advanceTimersByTimeAsync(5_500);
    expect(milvus.calls.filter((c) => c.startsWith('a:'))).toHaveLength(6); // t=0 and one per second
    expect(milvus.calls.filter((c) => c.startsWith('b:'))).toHaveLength(6);
    expect(milvus.calls.every((c) => c.endsWith(':'))).toBe(true); // empty collection name: every job at once
    expect(obs.view('ns/r2')?.job?.jobId).toBe('2');
    for (const key of ['ns/r1', 'ns/r2', 'ns/r3', 'ns/other']) obs.unwatch(key);
    const before = milvus.calls.length;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(milvus.calls.length).toBe(before);
    expect(obs.activeEndpoints).toBe(0);
  });

  it('wakes a resource only when its view changes (or its job is still missing)', async () => {
    const milvus = fakeMilvus();
    milvus.jobs = [job('1', 'RefreshInProgress', 10)];
    const woken: string[] = [];
    const obs = new JobObserver(
      milvus,
      (k) => woken.push(k),
      { pollIntervalMs: 1_000, maxBackoffMs: 60_000 },
      silentLogger,
    );
    obs.watch('ns/r', endpoint('a'), { jobId: '1' });
    obs.watch('ns/missing', endpoint('a'), { jobId: '9' });
    await vi.advanceTimersByTimeAsync(2_500); // three lists, nothing changes for ns/r
    expect(woken.filter((k) => k === 'ns/r')).toHaveLength(1);
    expect(woken.filter((k) => k === 'ns/missing')).toHaveLength(3);
    milvus.jobs = [job('1', 'RefreshInProgress', 50)];
    await vi.advanceTimersByTimeAsync(1_000);
    expect(woken.filter((k) => k === 'ns/r')).toHaveLength(2);
    obs.stop();
  });

  it('reports a failing endpoint with the time it started failing, backs off, and recovers', async () => {
    const milvus = fakeMilvus();
    milvus.jobs = [job('1', 'RefreshInProgress')];
    milvus.down = true;
    const obs = new JobObserver(
      milvus,
      () => undefined,
      { pollIntervalMs: 1_000, maxBackoffMs: 8_000, now: Date.now },
      silentLogger,
    );
    const t0 = Date.now();
    obs.watch('ns/r', endpoint('a'), { jobId: '1' });
    await vi.advanceTimersByTimeAsync(30_000);
    // Polls at 0, 1, 3, 7, 15, 23 s: doubling up to the 8 s cap instead of thirty polls.
    expect(milvus.calls.length).toBe(6);
    expect(obs.view('ns/r')).toMatchObject({ error: { failure: { kind: 'unavailable' }, sinceMs: t0 } });
    expect(obs.view('ns/r')?.job).toBeUndefined();
    milvus.down = false;
    await vi.advanceTimersByTimeAsync(8_000);
    expect(obs.view('ns/r')?.error).toBeUndefined();
    expect(obs.view('ns/r')?.job?.jobId).toBe('1');
    obs.stop();
  });

  it('reports since when a watched job has been missing, and forgets it when the job is back', async () => {
    const milvus = fakeMilvus();
    milvus.jobs = [job('1', 'RefreshInProgress')];
    const obs = new JobObserver(
      milvus,
      () => undefined,
      { pollIntervalMs: 1_000, maxBackoffMs: 8_000, now: Date.now },
      silentLogger,
    );
    obs.watch('ns/r', endpoint('a'), { jobId: '1' });
    await vi.advanceTimersByTimeAsync(10);
    expect(obs.view('ns/r')?.missingSinceMs).toBeUndefined();
    milvus.jobs = [];
    await vi.advanceTimersByTimeAsync(1_000);
    const since = obs.view('ns/r')?.missingSinceMs;
    expect(since).toBeDefined();
    await vi.advanceTimersByTimeAsync(2_000);
    expect(obs.view('ns/r')?.missingSinceMs).toBe(since); // the first absence, not the latest
    expect(obs.view('ns/r')!.fetchedAtMs - since!).toBeGreaterThanOrEqual(2_000);
    milvus.jobs = [job('1', 'RefreshCompleted', 100)];
    await vi.advanceTimersByTimeAsync(1_000);
    expect(obs.view('ns/r')).toMatchObject({ job: { state: 'RefreshCompleted' } });
    expect(obs.view('ns/r')?.missingSinceMs).toBeUndefined();
    obs.stop();
  });
});
