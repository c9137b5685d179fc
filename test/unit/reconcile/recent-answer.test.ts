/**
 * A new trigger's submission takes its baseline from the job observer's latest all-jobs answer, instead of a
 * list of the collection of its own, when that answer was asked for after the operator first saw the trigger
 * and shows no active job on a collection of that name. Otherwise the collection is listed, as before.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ExternalCollectionRefresh, ExternalCollectionRefreshStatus } from '../../../src/api/v1alpha1.js';
import { REFRESH_REQUESTED_AT } from '../../../src/api/v1alpha1.js';
import { silentLogger } from '../../../src/logger.js';
import type { Claim } from '../../../src/reconcile/model.js';
import type { Endpoint } from '../../../src/reconcile/ports.js';
import { Reconciler } from '../../../src/reconcile/reconciler.js';
import type { JobInfo } from '../../../src/reconcile/types.js';
import { JobObserver } from '../../../src/runtime/observer.js';
import { SETTINGS, aRefresh } from '../../support/builders.js';

const KEY = 'search/products';
const endpoint: Endpoint = { key: 'e1', address: 'milvus:19530', database: 'default' };

const job = (jobId: string, collectionName: string, state: JobInfo['state']): JobInfo => ({
  jobId,
  collectionName,
  state,
  progress: state === 'RefreshCompleted' ? 100 : 10,
  reason: '',
  externalSource: '',
  externalSpec: '',
  startTimeMs: 1,
  endTimeMs: state === 'RefreshCompleted' ? 2 : 0,
});

function world() {
  const cache = new Map<string, ExternalCollectionRefresh>([[KEY, aRefresh()]]);
  /** Every job Milvus keeps: a running job of another resource keeps the observer polling the endpoint. */
  const jobs: JobInfo[] = [job('500', 'other', 'RefreshInProgress'), job('320', 'products', 'RefreshCompleted')];
  const calls: string[] = [];
  const writes: ExternalCollectionRefreshStatus[] = [];
  let nextId = 1_000;
  const milvus = {
    refresh: () => {
      calls.push('refresh');
      const id = String(nextId++);
      jobs.unshift(job(id, 'products', 'RefreshPending'));
      return Promise.resolve(id);
    },
    listJobs: (_e: Endpoint, collection: string) => {
      calls.push(`list:${collection}`);
      return Promise.resolve(jobs.filter((j) => !collection || j.collectionName === collection));
    },
  };
  const observer = new JobObserver(
    milvus,
    () => undefined,
    { pollIntervalMs: 1_000, maxBackoffMs: 60_000 },
    silentLogger,
  );
  const claims = new Map<string, Claim>();
  let rv = 10;
  const reconciler = new Reconciler({
    kube: {
      cached: (key) => cache.get(key),
      read: () => Promise.resolve(cache.get(KEY)),
      patchStatus: (r, status) => {
        writes.push(status);
        const updated = { ...r, metadata: { ...r.metadata, resourceVersion: String(++rv) }, status };
        cache.set(KEY, updated);
        return Promise.resolve(updated);
      },
      event: () => Promise.resolve(),
    },
    milvus,
    connections: { resolve: () => Promise.resolve({ ok: true as const, endpoint }) },
    observer,
    claims: {
      holder: (collection, self) => {
        const c = claims.get(collection);
        return c && c.owner !== self ? c : undefined;
      },
      acquire: (collection, owner) => {
        const c = claims.get(collection);
        if (c && c.owner !== owner) return false;
        claims.set(collection, { owner });
        return true;
      },
      set: (collection, owner, jobId) => void claims.set(collection, { owner, ...(jobId ? { jobId } : {}) }),
      release: () => undefined,
    },
    settings: SETTINGS,
    log: silentLogger,
  });
  /** What the informer does with each version it caches. */
  const informerCaches = (r: ExternalCollectionRefresh) => {
    cache.set(KEY, r);
    reconciler.cached(KEY, r);
  };
  /** Another resource's running job: the observer polls the endpoint, one all-jobs list a second. */
  observer.watch('search/other', endpoint, { jobId: '500' });
  const baseline = () => writes.find((s) => s.run?.submittedAt)?.run?.baselineJobId;
  return { cache, jobs, calls, writes, observer, reconciler, informerCaches, baseline };
}

describe('a new trigger and the job observer’s recent all-jobs answer', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('submits without a list of its own when the answer was asked for after the trigger was seen', async () => {
    const w = world();
    w.informerCaches(w.cache.get(KEY)!);
    await vi.advanceTimersByTimeAsync(10); // the observer's first poll, asked for after the resource was cached
    w.calls.length = 0;
    await w.reconciler.reconcile(KEY, silentLogger);
    // The submission, then the first report of the new job (its collection's list): no list before.
    expect(w.calls).toEqual(['refresh', 'list:products']);
    expect(w.baseline()).toBe('500'); // the highest job id Milvus had, in any collection
    expect(w.writes.at(-1)?.jobId).toBe('1000');
    w.observer.stop();
  });

  it('lists the collection when the answer may predate the trigger', async () => {
    const w = world();
    await vi.advanceTimersByTimeAsync(10); // polled before the resource was seen
    w.informerCaches(w.cache.get(KEY)!);
    w.calls.length = 0;
    await w.reconciler.reconcile(KEY, silentLogger);
    expect(w.calls).toEqual(['list:products', 'refresh', 'list:products']);
    expect(w.baseline()).toBe('320'); // the collection's own highest job id
    w.observer.stop();
  });

  it('lists the collection when a collection of that name has an active job (the answer names no database)', async () => {
    const w = world();
    w.jobs.unshift(job('600', 'products', 'RefreshInProgress'));
    w.informerCaches(w.cache.get(KEY)!);
    await vi.advanceTimersByTimeAsync(10);
    w.calls.length = 0;
    await w.reconciler.reconcile(KEY, silentLogger);
    // The list shows the active job: the resource waits for it instead of submitting beside it.
    expect(w.calls).toEqual(['list:products']);
    expect(w.writes.at(-1)?.conditions?.find((c) => c.type === 'Ready')?.reason).toBe('WaitingForActiveJob');
    w.observer.stop();
  });

  it('lists the collection for a resource deleted and created again under the same name since the answer', async () => {
    const w = world();
    const first = w.cache.get(KEY)!;
    first.metadata.uid = 'uid-1';
    w.informerCaches(first);
    await vi.advanceTimersByTimeAsync(10);
    const again = structuredClone(first); // the same name, generation, annotations and (no) status
    again.metadata.uid = 'uid-2';
    w.informerCaches(again);
    w.calls.length = 0;
    await w.reconciler.reconcile(KEY, silentLogger);
    expect(w.calls[0]).toBe('list:products');
    w.observer.stop();
  });

  it('lists the collection for a trigger the cache has not held, and for a trigger newer than the answer', async () => {
    const w = world();
    w.informerCaches(w.cache.get(KEY)!);
    await vi.advanceTimersByTimeAsync(10);
    // A refresh is requested in an object the reconcile reads (say from the API server after a conflict)
    // before the informer has cached it: the mark of the older trigger says nothing about this one.
    const requested = structuredClone(w.cache.get(KEY)!);
    requested.metadata.annotations = { [REFRESH_REQUESTED_AT]: 'now' };
    w.cache.set(KEY, requested);
    w.calls.length = 0;
    await w.reconciler.reconcile(KEY, silentLogger);
    expect(w.calls[0]).toBe('list:products');
    // Cached now, but the latest answer was asked for before: still a list, until the next poll.
    const again = structuredClone(w.cache.get(KEY)!);
    again.metadata.annotations = { [REFRESH_REQUESTED_AT]: 'later' };
    again.status = {};
    w.informerCaches(again);
    w.calls.length = 0;
    await w.reconciler.reconcile(KEY, silentLogger);
    expect(w.calls[0]).toBe('list:products');
    w.observer.stop();
  });
});
