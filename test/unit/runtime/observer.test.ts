import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../../../src/logger.js';
import type { Endpoint, MilvusPort } from '../../../src/reconcile/ports.js';
import { type JobInfo, MilvusCallError } from '../../../src/reconcile/types.js';
import { MIN_ALL_JOBS_TO_SPLIT } from '../../../src/runtime/list-strategy.js';
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

/** Ended jobs of other collections: enough that the all-jobs list is worth splitting (MIN_ALL_JOBS_TO_SPLIT). */
const RETAINED = Array.from({ length: MIN_ALL_JOBS_TO_SPLIT }, (_, i) => ({
  ...job(String(100_000 + i), 'RefreshCompleted', 100, `old${i}`),
  endTimeMs: 1,
}));

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

/** An observer of resources whose collections are known (so it can list them one by one), polling every second. */
function perCollectionObserver(
  milvus: ConstructorParameters<typeof JobObserver>[0],
  onKey: ConstructorParameters<typeof JobObserver>[1],
  collections: Record<string, string>,
): JobObserver {
  return new JobObserver(
    milvus,
    onKey,
    {
      pollIntervalMs: 1_000,
      maxBackoffMs: 60_000,
      collectionOf: (k) => ({ database: 'default', collection: collections[k]! }),
    },
    silentLogger,
  );
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

  it('offers its latest all-jobs answer only to a trigger seen before that answer was asked for', async () => {
    const milvus = fakeMilvus();
    let release: (() => void) | undefined;
    const inner = milvus.listJobs.bind(milvus);
    // The first list is held until the test lets it answer: marks taken meanwhile are older than its answer.
    milvus.listJobs = async (e, c) => {
      if (!release) await new Promise<void>((r) => (release = r));
      return inner(e, c);
    };
    milvus.jobs = [
      job('40', 'RefreshInProgress', 10, 'busy'),
      job('41', 'RefreshCompleted', 100, 'products'),
      job('7', 'RefreshPending', 0, 'queued'),
    ];
    const obs = new JobObserver(milvus, () => undefined, { pollIntervalMs: 1_000, maxBackoffMs: 60_000 }, silentLogger);
    const before = obs.mark();
    expect(obs.recentJobs('a', 'products', before)).toBeUndefined(); // the endpoint was never listed
    obs.watch('ns/r', endpoint('a'), { jobId: '40' });
    await vi.advanceTimersByTimeAsync(10); // the list is asked for
    const during = obs.mark(); // a trigger seen while the list is on its way: the answer may predate it
    release!();
    await vi.advanceTimersByTimeAsync(10);
    expect(obs.recentJobs('a', 'products', before)).toEqual({ highestJobId: '41' });
    expect(obs.recentJobs('a', 'products', during)).toBeUndefined();
    // A collection of that name has an active job (in some database): its own list must tell.
    expect(obs.recentJobs('a', 'busy', before)).toBeUndefined();
    expect(obs.recentJobs('a', 'queued', before)).toBeUndefined();
    expect(obs.recentJobs('b', 'products', before)).toBeUndefined(); // another endpoint
    await vi.advanceTimersByTimeAsync(1_000); // the next poll was asked for after `during`
    expect(obs.recentJobs('a', 'products', during)).toEqual({ highestJobId: '41' });
    obs.stop();
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

  it('wakes a resource whose job only progressed at most once per progress interval, a state change at once', async () => {
    const milvus = fakeMilvus();
    milvus.jobs = [job('1', 'RefreshInProgress', 10)];
    const woken: string[] = [];
    const obs = new JobObserver(
      milvus,
      (k) => woken.push(k),
      { pollIntervalMs: 1_000, maxBackoffMs: 60_000, progressIntervalMs: 5_000 },
      silentLogger,
    );
    obs.watch('ns/r', endpoint('a'), { jobId: '1' });
    await vi.advanceTimersByTimeAsync(10);
    expect(woken).toHaveLength(1);
    for (let p = 20; p <= 50; p += 10) {
      milvus.jobs = [job('1', 'RefreshInProgress', p)];
      await vi.advanceTimersByTimeAsync(1_000); // progress every second
    }
    expect(woken).toHaveLength(1); // four progress changes within 5 s: none woke it
    milvus.jobs = [{ ...job('1', 'RefreshCompleted', 100), endTimeMs: 9 }];
    await vi.advanceTimersByTimeAsync(1_000);
    expect(woken).toHaveLength(2); // the end wakes it at once
    expect(obs.view('ns/r')?.job?.state).toBe('RefreshCompleted');
    obs.stop();
  });

  it('lists per collection when that measures cheaper than the list of every job, and back when it does not', async () => {
    const calls: string[] = [];
    const allCostMs = 60;
    let oneCostMs = 1;
    const jobs = [job('1', 'RefreshInProgress', 10, 'c1'), job('2', 'RefreshInProgress', 10, 'c2')];
    const milvus = {
      listJobs: async (_e: Endpoint, collection: string) => {
        calls.push(collection);
        await new Promise((r) => setTimeout(r, collection ? oneCostMs : allCostMs));
        return collection ? jobs.filter((j) => j.collectionName === collection) : [...jobs, ...RETAINED];
      },
    };
    const collections: Record<string, string> = { 'ns/r1': 'c1', 'ns/r2': 'c2' };
    const strategies: string[] = [];
    const obs = new JobObserver(
      milvus,
      () => undefined,
      {
        pollIntervalMs: 1_000,
        maxBackoffMs: 60_000,
        collectionOf: (k) => ({ database: 'default', collection: collections[k]! }),
        onList: (s) => strategies.push(s),
      },
      silentLogger,
    );
    obs.watch('ns/r1', endpoint('a'), { jobId: '1' });
    obs.watch('ns/r2', endpoint('a'), { jobId: '2' });
    await vi.advanceTimersByTimeAsync(3_500);
    expect(calls.slice(0, 3)).toEqual(['', 'c1', 'c2']); // measured all, then tried per collection
    expect(obs.strategies()).toEqual({ all: 0, collection: 1 });
    expect(obs.view('ns/r2')?.job?.jobId).toBe('2');
    // Per-collection lists turn slow: once they cost more than one list of every job, that list wins back.
    oneCostMs = 80;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(obs.strategies()).toEqual({ all: 1, collection: 0 });
    obs.stop();
  });

  it('keeps the all-jobs list while new triggers submit on its answer, which per-collection lists would not give', async () => {
    const calls: string[] = [];
    const jobs = [job('1', 'RefreshInProgress', 10, 'c1'), job('2', 'RefreshInProgress', 10, 'c2')];
    const milvus = {
      listJobs: async (_e: Endpoint, collection: string) => {
        calls.push(collection);
        await new Promise((r) => setTimeout(r, collection ? 1 : 60));
        return collection ? jobs.filter((j) => j.collectionName === collection) : [...jobs, ...RETAINED];
      },
    };
    const obs = perCollectionObserver(milvus, () => undefined, { 'ns/r1': 'c1', 'ns/r2': 'c2' });
    obs.watch('ns/r1', endpoint('a'), { jobId: '1' });
    obs.watch('ns/r2', endpoint('a'), { jobId: '2' });
    // Forty submissions a second ask for the answer (the test above, without them, splits after one poll).
    for (let second = 0; second < 5; second++) {
      for (let i = 0; i < 40; i++) obs.recentJobs('a', `new${i}`, obs.mark());
      await vi.advanceTimersByTimeAsync(1_000);
    }
    expect(calls.every((c) => c === '')).toBe(true);
    expect(obs.strategies()).toEqual({ all: 1, collection: 0 });
    obs.stop();
  });

  it('counts what each per-collection list costs, not how much it lengthens a poll that runs four at once', async () => {
    // 8 lists of 10 ms each cost 80 ms, more than the 60 ms list of every job, although four at a time they
    // make a poll of only 20 ms.
    const calls: string[] = [];
    const collections: Record<string, string> = {};
    const jobs: JobInfo[] = [];
    for (let i = 1; i <= 8; i++) {
      collections[`ns/r${i}`] = `c${i}`;
      jobs.push(job(String(i), 'RefreshInProgress', 10, `c${i}`));
    }
    const milvus = {
      listJobs: async (_e: Endpoint, collection: string) => {
        calls.push(collection);
        await new Promise((r) => setTimeout(r, collection ? 10 : 60));
        return collection ? jobs.filter((j) => j.collectionName === collection) : [...jobs, ...RETAINED];
      },
    };
    const obs = perCollectionObserver(milvus, () => undefined, collections);
    for (let i = 1; i <= 8; i++) obs.watch(`ns/r${i}`, endpoint('a'), { jobId: String(i) });
    await vi.advanceTimersByTimeAsync(1_500);
    // Measured the list of every job, then tried the collections one by one (their cost was not known yet).
    expect(calls.filter((c) => c === '')).toHaveLength(1);
    expect(calls.filter((c) => c !== '')).toHaveLength(8);
    calls.length = 0;
    await vi.advanceTimersByTimeAsync(3_000);
    expect(calls).toEqual(['', '', '']); // one list per poll from then on
    expect(obs.strategies()).toEqual({ all: 1, collection: 0 });
    expect(obs.view('ns/r8')?.job?.jobId).toBe('8');
    obs.stop();
  });
  it('stops looking for a job once it is seen ended: its collection is not listed, nor an endpoint with no running job', async () => {
    const calls: string[] = [];
    const jobs = [job('1', 'RefreshInProgress', 10, 'c1'), job('2', 'RefreshInProgress', 10, 'c2')];
    let down = false;
    const milvus = {
      listJobs: async (_e: Endpoint, collection: string) => {
        calls.push(collection);
        await new Promise((r) => setTimeout(r, collection ? 1 : 60));
        if (down) throw new MilvusCallError({ kind: 'unavailable', message: 'down' });
        return collection ? jobs.filter((j) => j.collectionName === collection) : [...jobs, ...RETAINED];
      },
    };
    const collections: Record<string, string> = { 'ns/r1': 'c1', 'ns/r2': 'c2' };
    const ended: string[] = [];
    const obs = perCollectionObserver(milvus, (k, isEnded) => void (isEnded && ended.push(k)), collections);
    obs.watch('ns/r1', endpoint('a'), { jobId: '1' });
    obs.watch('ns/r2', endpoint('a'), { jobId: '2' });
    await vi.advanceTimersByTimeAsync(2_500);
    expect(calls.slice(0, 3)).toEqual(['', 'c1', 'c2']);
    jobs[0] = { ...jobs[0]!, state: 'RefreshCompleted', progress: 100, endTimeMs: 5 };
    await vi.advanceTimersByTimeAsync(1_000);
    expect(ended).toEqual(['ns/r1']);
    calls.length = 0;
    await vi.advanceTimersByTimeAsync(3_000);
    expect(calls).toEqual(['c2', 'c2', 'c2']); // c1's job ended: only c2 is listed
    // Every watched job ended: the endpoint is not listed at all, and an ended job stays what it was even
    // while the endpoint fails.
    jobs[1] = { ...jobs[1]!, state: 'RefreshFailed', reason: 'boom', endTimeMs: 6 };
    await vi.advanceTimersByTimeAsync(1_000);
    expect(ended).toEqual(['ns/r1', 'ns/r2']);
    calls.length = 0;
    down = true;
    await vi.advanceTimersByTimeAsync(5_000);
    expect(calls).toEqual([]);
    expect(obs.view('ns/r2')).toMatchObject({ job: { state: 'RefreshFailed', reason: 'boom' } });
    expect(obs.view('ns/r2')?.error).toBeUndefined();
    expect(ended).toEqual(['ns/r1', 'ns/r2']); // not woken again
    // A new running job on the endpoint is listed again.
    jobs.push(job('3', 'RefreshInProgress', 0, 'c3'));
    collections['ns/r3'] = 'c3';
    down = false;
    obs.watch('ns/r3', endpoint('a'), { jobId: '3' });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls).toEqual(['c3']);
    expect(obs.view('ns/r3')?.job?.jobId).toBe('3');
    obs.stop();
  });

  it('keeps an ended job visible while the endpoint fails for a running one', async () => {
    const milvus = fakeMilvus();
    milvus.jobs = [job('1', 'RefreshCompleted', 100), job('2', 'RefreshInProgress', 10)];
    const obs = new JobObserver(milvus, () => undefined, { pollIntervalMs: 1_000, maxBackoffMs: 8_000 }, silentLogger);
    obs.watch('ns/done', endpoint('a'), { jobId: '1' });
    obs.watch('ns/running', endpoint('a'), { jobId: '2' });
    await vi.advanceTimersByTimeAsync(10);
    milvus.down = true;
    await vi.advanceTimersByTimeAsync(3_000);
    expect(obs.view('ns/running')).toMatchObject({ error: { failure: { kind: 'unavailable' } } });
    expect(obs.view('ns/done')).toMatchObject({ job: { state: 'RefreshCompleted' } });
    obs.stop();
  });
  it('wakes the resource of an ended job as soon as its collection is listed, not after the poll', async () => {
    const jobs = [job('1', 'RefreshInProgress', 10, 'c1'), job('2', 'RefreshInProgress', 10, 'c2')];
    let slowMs = 1;
    const milvus = {
      listJobs: async (_e: Endpoint, collection: string) => {
        await new Promise((r) => setTimeout(r, collection === 'c2' ? slowMs : collection ? 1 : 60));
        return collection ? jobs.filter((j) => j.collectionName === collection) : [...jobs, ...RETAINED];
      },
    };
    const collections: Record<string, string> = { 'ns/r1': 'c1', 'ns/r2': 'c2' };
    const woken: { key: string; ended: boolean; at: number }[] = [];
    const obs = perCollectionObserver(milvus, (key, ended) => woken.push({ key, ended, at: Date.now() }), collections);
    obs.watch('ns/r1', endpoint('a'), { jobId: '1' });
    obs.watch('ns/r2', endpoint('a'), { jobId: '2' });
    await vi.advanceTimersByTimeAsync(2_500);
    expect(obs.strategies()).toEqual({ all: 0, collection: 1 });
    jobs[0] = { ...jobs[0]!, state: 'RefreshCompleted', progress: 100, endTimeMs: 5 };
    slowMs = 300; // c2's list is slow on the next poll
    const pollAt = Date.now() + 500; // polls run at whole seconds
    await vi.advanceTimersByTimeAsync(500 + 20);
    expect(woken.filter((w) => w.ended)).toEqual([{ key: 'ns/r1', ended: true, at: pollAt + 1 }]);
    await vi.advanceTimersByTimeAsync(400);
    expect(woken.filter((w) => w.ended)).toHaveLength(1); // not woken again at the end of the poll
    expect(obs.view('ns/r1')?.job?.state).toBe('RefreshCompleted');
    obs.stop();
  });

  it('frees each poll’s answer once it has read it, before the next poll', async () => {
    const events: string[] = [];
    let polls = 0;
    const milvus = {
      listJobs: () => Promise.reject(new Error('not used: listSnapshot is')),
      listSnapshot: () => {
        const n = ++polls;
        const jobs = new Map([['1', job('1', n < 3 ? 'RefreshInProgress' : 'RefreshCompleted', 10 * n)]]);
        return Promise.resolve({
          size: jobs.size,
          fingerprints: (ids: string[]) => {
            events.push(`read ${n}`);
            return new Map(ids.filter((id) => jobs.has(id)).map((id) => [id, JSON.stringify(jobs.get(id))]));
          },
          jobs: (ids: string[]) => new Map(ids.filter((id) => jobs.has(id)).map((id) => [id, jobs.get(id)!])),
          release: () => events.push(`release ${n}`),
        });
      },
    };
    const obs = new JobObserver(milvus, () => undefined, { pollIntervalMs: 1_000, maxBackoffMs: 60_000 }, silentLogger);
    obs.watch('ns/r', endpoint('a'), { jobId: '1' });
    await vi.advanceTimersByTimeAsync(2_500);
    expect(events).toEqual(['read 1', 'release 1', 'read 2', 'release 2', 'read 3', 'release 3']);
    expect(obs.view('ns/r')?.job?.state).toBe('RefreshCompleted'); // what was read before the release stays
    expect(obs.view('ns/r')?.job?.progress).toBe(30);
    obs.stop();
  });
});
