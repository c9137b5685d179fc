/**
 * The reconciler keeps its latest write of a resource while the informer cache has not caught up with it (a
 * reconcile from the lagging cache must not submit a second job), and lets it go as soon as the cache holds
 * that write or a newer version: at 10,000 resources in a burst, these copies were a second cache of 7,000
 * resources.
 */
import { describe, expect, it } from 'vitest';
import type { ExternalCollectionRefresh, ExternalCollectionRefreshStatus } from '../../../src/api/v1alpha1.js';
import { silentLogger } from '../../../src/logger.js';
import type { Claim, ObservedView } from '../../../src/reconcile/model.js';
import type { Endpoint } from '../../../src/reconcile/ports.js';
import { Reconciler } from '../../../src/reconcile/reconciler.js';
import { NOW, SETTINGS, aRefresh, id } from '../../support/builders.js';

const KEY = 'search/products';

function world() {
  /** The informer's cache: it lags, holding what it was given until the test moves it on. */
  const cache = new Map<string, ExternalCollectionRefresh>([[KEY, aRefresh()]]);
  let rv = 10;
  const writes: ExternalCollectionRefresh[] = [];
  let refreshes = 0;
  const claims = new Map<string, Claim>();
  const endpoint: Endpoint = { key: 'e1', address: 'milvus:19530', database: 'default' };
  const kube = {
    cached: (key: string) => cache.get(key),
    read: () => Promise.resolve(cache.get(KEY)),
    patchStatus: (r: ExternalCollectionRefresh, status: ExternalCollectionRefreshStatus) => {
      const updated = { ...r, metadata: { ...r.metadata, resourceVersion: String(++rv) }, status };
      writes.push(updated);
      return Promise.resolve(updated);
    },
    event: () => Promise.resolve(),
  };
  const reconciler = new Reconciler({
    kube: {
      cached: (key) => kube.cached(key),
      read: () => kube.read(),
      patchStatus: (r, status) => kube.patchStatus(r, status),
      event: () => kube.event(),
    },
    milvus: {
      refresh: () => Promise.resolve(id(++refreshes)),
      listJobs: () => Promise.resolve([]),
    },
    connections: { resolve: () => Promise.resolve({ ok: true as const, endpoint }) },
    observer: { watch: () => undefined, unwatch: () => undefined, view: (): ObservedView | undefined => undefined },
    claims: {
      holder: (collection) => claims.get(collection),
      acquire: (collection, owner) => {
        const c = claims.get(collection);
        if (c && c.owner !== owner) return false;
        claims.set(collection, { owner, ...(c?.jobId ? { jobId: c.jobId } : {}) });
        return true;
      },
      set: (collection, owner, jobId) => void claims.set(collection, { owner, ...(jobId ? { jobId } : {}) }),
      release: () => undefined,
    },
    settings: SETTINGS,
    log: silentLogger,
    now: () => NOW,
  });
  return { cache, kube, writes, reconciler, refreshes: () => refreshes };
}

describe("the reconciler's copies of its own writes", () => {
  it('keeps its latest write while the cache lags, and drops it once the cache has caught up', async () => {
    const w = world();
    await w.reconciler.reconcile(KEY, silentLogger);
    expect(w.refreshes()).toBe(1);
    const last = w.writes.at(-1)!;
    expect(last.status?.jobId).toBe(id(1));
    expect(w.reconciler.writesAheadOfCache).toBe(1);

    // The cache still holds the object from before the writes: the next reconcile works from the copy and
    // does not submit again.
    await w.reconciler.reconcile(KEY, silentLogger);
    expect(w.refreshes()).toBe(1);
    const latest = w.writes.at(-1) ?? last;

    // The cache taking in a version our writes superseded (the one read, or the intent: the first write)
    // changes nothing; once it holds the latest write, the copy goes.
    expect(w.writes.length).toBeGreaterThan(1);
    w.reconciler.cacheHolds(KEY, '10');
    w.reconciler.cacheHolds(KEY, w.writes[0]!.metadata.resourceVersion);
    expect(w.reconciler.writesAheadOfCache).toBe(1);
    w.cache.set(KEY, latest);
    w.reconciler.cacheHolds(KEY, latest.metadata.resourceVersion);
    expect(w.reconciler.writesAheadOfCache).toBe(0);

    // From the cache, which now holds the write, a reconcile still does not submit again.
    await w.reconciler.reconcile(KEY, silentLogger);
    expect(w.refreshes()).toBe(1);
  });
  it('keeps no copy when the echo of the write reached the cache before the answer to the write', async () => {
    const w = world();
    // The watch is faster than the write's answer: the cache takes in each write as it is made.
    const patch = w.kube.patchStatus;
    w.kube.patchStatus = async (r, status) => {
      const updated = await patch(r, status);
      w.cache.set(KEY, updated);
      return updated;
    };
    await w.reconciler.reconcile(KEY, silentLogger);
    expect(w.refreshes()).toBe(1);
    expect(w.reconciler.writesAheadOfCache).toBe(0);
    await w.reconciler.reconcile(KEY, silentLogger);
    expect(w.refreshes()).toBe(1);
  });

  it('lets the copy go when the cache takes in a newer version written by someone else', async () => {
    const w = world();
    await w.reconciler.reconcile(KEY, silentLogger);
    expect(w.reconciler.writesAheadOfCache).toBe(1);
    w.reconciler.cacheHolds(KEY, '999');
    expect(w.reconciler.writesAheadOfCache).toBe(0);
  });
});
