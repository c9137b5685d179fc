/**
 * Known defects, each with the scenario that broke a promise (issue "Nothing lost, nothing doubled, nobody
 * blocked"). Every test here failed before its fix.
 */
import { describe, expect, it } from 'vitest';
import { MAX_MESSAGE, findCondition } from '../../../src/api/conditions.js';
import type { ExternalCollectionRefreshStatus } from '../../../src/api/v1alpha1.js';
import { Connections } from '../../../src/adapters/connection.js';
import { afterSubmit, decide, requestFor } from '../../../src/reconcile/decide.js';
import type { DecideInput, Decision } from '../../../src/reconcile/model.js';
import { specHashOf } from '../../../src/reconcile/trigger.js';
import { canonicalAddress, collectionKeyOf } from '../../../src/reconcile/collection.js';
import { NOW, SETTINGS, aJob, aRefresh, id, iso, submitted } from '../../support/builders.js';

function input(r: ReturnType<typeof aRefresh>, extra: Partial<DecideInput> = {}): DecideInput {
  return { now: NOW, resource: r, settings: SETTINGS, connection: { ok: true, address: 'milvus:19530' }, ...extra };
}
function ready(d: Decision) {
  if (d.kind !== 'update') throw new Error(`expected update, got ${d.kind}`);
  return findCondition(d.status.conditions, 'Ready')!;
}
const completed = (r: ReturnType<typeof aRefresh>): ExternalCollectionRefreshStatus => ({
  observedGeneration: 1,
  jobId: id(1),
  state: 'RefreshCompleted',
  progress: 100,
  run: { ...submitted(0).run!, specHash: specHashOf(r) },
  conditions: [
    {
      type: 'Ready',
      status: 'True',
      reason: 'RefreshCompleted',
      message: 'done',
      lastTransitionTime: iso(NOW - 60_000),
    },
  ],
});

describe('2. a spec change while waiting or in doubt', () => {
  it('drops a wait for a foreign job on the old collection: the new one is listed', () => {
    const r = aRefresh({ generation: 2, collectionName: 'new', status: { observedGeneration: 1 } });
    const d = decide(
      input(r, { view: { fetchedAtMs: NOW, job: aJob(9, 'RefreshInProgress', { collectionName: 'old' }) } }),
    );
    expect(d.kind).toBe('listCollectionJobs');
  });

  it('never adopts a job on the new collection for a call in doubt on the old one', () => {
    const old = aRefresh({ collectionName: 'old' });
    const r = aRefresh({
      generation: 2,
      collectionName: 'new',
      status: { ...submitted(0), run: { ...submitted(0).run!, specHash: specHashOf(old) } },
    });
    r.status!.run!.submittedAt = iso(NOW - 60_000);
    const foreign = aJob(5, 'RefreshInProgress', { collectionName: 'new' });
    const d = decide(input(r, { collectionJobs: { jobs: [foreign] } }));
    expect(ready(d).reason).toBe('WaitingForActiveJob'); // not "Adopted"
    expect(d.kind === 'update' && d.status.jobId).toBeUndefined();
  });
});

describe('3. unbounded texts', () => {
  it('keeps every condition message within the CRD limit, whatever the annotation or Milvus reason', () => {
    const huge = 'x'.repeat(40_000);
    const r = aRefresh({ requestedAt: huge });
    r.status = completed(aRefresh());
    const d = decide(input(r));
    if (d.kind !== 'update') throw new Error(d.kind);
    for (const c of d.status.conditions ?? []) expect(c.message.length).toBeLessThanOrEqual(MAX_MESSAGE);
    const failing = aRefresh({ status: { ...submitted(0), jobId: id(1), state: 'RefreshInProgress' } });
    const f = decide(input(failing, { view: { fetchedAtMs: NOW, job: aJob(1, 'RefreshFailed', { reason: huge }) } }));
    if (f.kind !== 'update') throw new Error(f.kind);
    expect(f.status.reason!.length).toBeLessThanOrEqual(8_192);
    expect(f.status.reason).toMatch(/more characters\]$/);
    for (const c of f.status.conditions ?? []) expect(c.message.length).toBeLessThanOrEqual(MAX_MESSAGE);
  });
});

describe('4. snapshot ids beyond 2^53', () => {
  it('sends a snapshot_id given as a string as the exact JSON integer', () => {
    const r = aRefresh();
    r.spec.externalSource = 's3://lake/t/metadata/v3.json';
    r.spec.externalSpec = {
      format: 'iceberg-table',
      snapshot_id: '3051729675574597004',
      extfs: { cloud_provider: 'aws', region: 'us-east-1' },
    };
    expect(requestFor(r).externalSpec).toContain('"snapshot_id":3051729675574597004');
  });
});

describe('5. an annotation bump makes kubectl wait --for=condition=Ready wait', () => {
  it('turns Ready False before any Milvus call', () => {
    const r = aRefresh({ requestedAt: 'again' });
    r.status = completed(aRefresh());
    const d = decide(input(r));
    expect(d.kind).toBe('update');
    expect(ready(d)).toMatchObject({ status: 'False', reason: 'Submitting' });
    expect(findCondition(d.kind === 'update' ? d.status.conditions : [], 'Reconciling')?.status).toBe('True');
    expect(d.kind === 'update' && d.requeue).toEqual({ afterMs: 0 });
  });
});

describe('7. refusals that cannot succeed', () => {
  const refused = afterSubmit({
    resource: aRefresh({ status: submitted(0) }),
    result: {
      failure: { kind: 'notExternal', message: 'collection products is not an external collection: invalid parameter' },
    },
    now: NOW,
    settings: SETTINGS,
    address: 'milvus:19530',
  });
  const r = aRefresh({ status: refused.status });

  it('stays Stalled with no write and no call until --refusal-recheck', () => {
    const d = decide(input(r, { now: NOW + 60_000 }));
    expect(d.kind).toBe('update');
    if (d.kind !== 'update') return;
    expect(d.status).toEqual({ ...refused.status, conditions: d.status.conditions });
    expect(findCondition(d.status.conditions, 'Stalled')).toMatchObject({
      status: 'True',
      reason: 'NotExternalCollection',
    });
    expect(d.requeue).toEqual({ afterMs: SETTINGS.refusalRecheckMs - 60_000 });
  });

  it('re-checks slowly without leaving Stalled, so GitOps tools see no flapping', () => {
    const d = decide(input(r, { now: NOW + SETTINGS.refusalRecheckMs, collectionJobs: { jobs: [] } }));
    expect(d.kind).toBe('submit');
    if (d.kind !== 'submit') return;
    expect(findCondition(d.status.conditions, 'Stalled')).toMatchObject({
      status: 'True',
      reason: 'NotExternalCollection',
    });
  });
});

describe('8. progress and state never step backwards', () => {
  it('ignores an older snapshot of the job', () => {
    const r = aRefresh({ status: { ...submitted(0), jobId: id(1), state: 'RefreshInProgress', progress: 60 } });
    const older = decide(input(r, { view: { fetchedAtMs: NOW, job: aJob(1, 'RefreshPending', { progress: 0 }) } }));
    if (older.kind !== 'update') throw new Error(older.kind);
    expect(older.status).toMatchObject({ state: 'RefreshInProgress', progress: 60 });
    const lower = decide(input(r, { view: { fetchedAtMs: NOW, job: aJob(1, 'RefreshInProgress', { progress: 40 }) } }));
    expect(lower.kind === 'update' && lower.status.progress).toBe(60);
  });
});

describe('10 and 11. Secrets that cannot be read; the endpoint key', () => {
  it('turns a 403 on a Secret into a Stalled reason that names the field', async () => {
    const denied = new Connections(
      () => Promise.reject(new Error('HTTP 403: secrets "creds" is forbidden')),
      (e) => (e as Error).message,
    );
    const r = aRefresh();
    r.spec.milvus.credentialsSecretRef = { name: 'creds' };
    expect(await denied.resolve(r)).toEqual({
      ok: false,
      reason: 'SecretUnreadable',
      message: expect.stringContaining('Cannot read Secret search/creds (spec.milvus.credentialsSecretRef): HTTP 403'),
    });
  });

  it('derives the endpoint key with a per-process secret, so it cannot be linked to the password', async () => {
    const read = () => Promise.resolve({ username: 'root', password: 'Milvus' });
    const r = aRefresh();
    r.spec.milvus.credentialsSecretRef = { name: 'creds' };
    const [a, b] = await Promise.all([new Connections(read).resolve(r), new Connections(read).resolve(r)]);
    if (!a.ok || !b.ok) throw new Error('unresolved');
    expect(a.endpoint.key).not.toBe(b.endpoint.key);
  });

  it('keeps one key per connection and gives rotated credentials a new one', async () => {
    let password = 'Milvus';
    const connections = new Connections(() => Promise.resolve({ username: 'root', password }));
    const r = aRefresh();
    r.spec.milvus.credentialsSecretRef = { name: 'creds' };
    const keyOf = async () => {
      const c = await connections.resolve(r);
      if (!c.ok) throw new Error('unresolved');
      return c.endpoint.key;
    };
    const first = await keyOf();
    expect(await keyOf()).toBe(first);
    password = 'rotated';
    const rotated = await keyOf();
    expect(rotated).not.toBe(first);
    password = 'Milvus';
    expect(await keyOf()).toBe(first);
  });
});

describe('1. two names for one Milvus', () => {
  it('gives one canonical address to the spellings cluster DNS resolves alike', () => {
    const spellings = [
      'milvus:19530',
      'milvus.milvus:19530',
      'Milvus.milvus.svc:19530',
      'http://milvus.milvus.svc.cluster.local.:19530',
    ];
    expect(new Set(spellings.map((a) => canonicalAddress(a, 'milvus')))).toEqual(
      new Set(['milvus.milvus.svc.cluster.local:19530']),
    );
    expect(canonicalAddress('milvus:19530', 'search')).toBe('milvus.search.svc.cluster.local:19530');
    expect(canonicalAddress('10.0.0.5:19530', 'milvus')).toBe('10.0.0.5:19530');
    expect(canonicalAddress('milvus.example.com:443', 'milvus')).toBe('milvus.example.com:443');
    const a = aRefresh({ namespace: 'milvus', address: 'milvus:19530' });
    const b = aRefresh({ namespace: 'milvus', address: 'milvus.milvus.svc:19530' });
    expect(collectionKeyOf(a)).toBe(collectionKeyOf(b));
  });

  it('in doubt, does not adopt a job above the baseline that another request started', () => {
    const r = aRefresh({ status: { ...submitted(0) } });
    r.spec.externalSource = 's3://lake/products/v2/';
    r.spec.externalSpec = { format: 'parquet', extfs: { cloud_provider: 'aws', region: 'us-east-1' } };
    r.status!.run!.specHash = specHashOf(r);
    const theirs = aJob(5, 'RefreshInProgress', { externalSource: 's3://lake/products/v1/' });
    const d = decide(input(r, { collectionJobs: { jobs: [theirs] } }));
    expect(ready(d).reason).toBe('WaitingForActiveJob');
    expect(d.kind === 'update' && d.status.jobId).toBeUndefined();
    const mine = aJob(6, 'RefreshInProgress', { externalSource: 's3://lake/products/v2/' });
    expect(ready(decide(input(r, { collectionJobs: { jobs: [theirs, mine] } }))).message).toContain(
      `Adopted: Milvus refresh job ${id(6)}`,
    );
  });
});
