/**
 * Events are recorded on transitions: when Ready's reason changes, or a new job id appears (docs/design.md).
 * Milvus usually lists a job at once, so the submission's first report already says RefreshPending (a quiet
 * reason): the new job must still be recorded, as RefreshSubmitted with its id, and only once.
 */
import { describe, expect, it } from 'vitest';
import type { ExternalCollectionRefresh, ExternalCollectionRefreshStatus } from '../../../src/api/v1alpha1.js';
import { silentLogger } from '../../../src/logger.js';
import type { ObservedView } from '../../../src/reconcile/model.js';
import type { Endpoint } from '../../../src/reconcile/ports.js';
import { Reconciler } from '../../../src/reconcile/reconciler.js';
import type { JobInfo } from '../../../src/reconcile/types.js';
import { NOW, SETTINGS, aJob, aRefresh, id } from '../../support/builders.js';

const KEY = 'search/products';

/** A reconciler over one resource whose writes reach the cache at once; `listed` is what Milvus lists. */
function world(listed: (jobId: string) => JobInfo[]) {
  let current = aRefresh();
  let rv = 10;
  let refreshes = 0;
  let view: ObservedView | undefined;
  const events: { type: string; reason: string; message: string }[] = [];
  const endpoint: Endpoint = { key: 'e1', address: 'milvus:19530', database: 'default' };
  const reconciler = new Reconciler({
    kube: {
      cached: () => current,
      read: () => Promise.resolve(current),
      patchStatus: (r: ExternalCollectionRefresh, status: ExternalCollectionRefreshStatus) => {
        current = { ...r, metadata: { ...r.metadata, resourceVersion: String(++rv) }, status };
        return Promise.resolve(current);
      },
      event: (_r, type, reason, message) => {
        events.push({ type, reason, message });
        return Promise.resolve();
      },
    },
    milvus: {
      refresh: () => Promise.resolve(id(++refreshes)),
      listJobs: () => Promise.resolve(refreshes === 0 ? [] : listed(id(refreshes))),
    },
    connections: { resolve: () => Promise.resolve({ ok: true as const, endpoint }) },
    observer: { watch: () => undefined, unwatch: () => undefined, view: () => view },
    claims: { holder: () => undefined, acquire: () => true, set: () => undefined, release: () => undefined },
    settings: SETTINGS,
    log: silentLogger,
    now: () => NOW,
  });
  return {
    reconciler,
    events,
    status: () => current.status ?? {},
    observe: (job: JobInfo) => (view = { fetchedAtMs: NOW, job }),
  };
}

describe('events of a submission', () => {
  it('records a job Milvus reports pending at once as RefreshSubmitted, and its progress as nothing', async () => {
    const w = world((jobId) => [{ ...aJob(1, 'RefreshPending'), jobId }]);
    await w.reconciler.reconcile(KEY, silentLogger);
    expect(w.status()).toMatchObject({ jobId: id(1), state: 'RefreshPending' });
    expect(w.events).toEqual([
      { type: 'Normal', reason: 'RefreshSubmitted', message: expect.stringContaining(id(1)) as string },
    ]);

    // The job observer reports it running, then completed: one more event, for the completion.
    w.observe(aJob(1, 'RefreshInProgress', { progress: 40 }));
    await w.reconciler.reconcile(KEY, silentLogger);
    expect(w.status()).toMatchObject({ state: 'RefreshInProgress', progress: 40 });
    w.observe(aJob(1, 'RefreshCompleted', { progress: 100 }));
    await w.reconciler.reconcile(KEY, silentLogger);
    expect(w.events.map((e) => e.reason)).toEqual(['RefreshSubmitted', 'RefreshCompleted']);
  });

  it('records a job Milvus does not list yet as RefreshSubmitted, once', async () => {
    const w = world(() => []);
    await w.reconciler.reconcile(KEY, silentLogger);
    expect(w.status()).toMatchObject({ jobId: id(1) });
    expect(w.status().state).toBeUndefined();
    w.observe(aJob(1, 'RefreshPending'));
    await w.reconciler.reconcile(KEY, silentLogger);
    expect(w.status()).toMatchObject({ state: 'RefreshPending' });
    expect(w.events.map((e) => e.reason)).toEqual(['RefreshSubmitted']);
  });
});
