import { describe, expect, it } from 'vitest';
import { MilvusError } from '../../src/errors.js';
import { redactExternalSpec, validateSourceAndSpec } from '../../src/external-spec.js';
import type { DecodedSchema } from '../../src/schema-rules.js';
import { DEFAULT_TIMINGS, MilvusState } from '../../src/state.js';

const T0 = Date.UTC(2026, 10, 29, 12, 0, 0);
const SPEC = JSON.stringify({
  format: 'parquet',
  extfs: { cloud_provider: 'aws', region: 'us-east-1', anonymous: 'true' },
});

function schema(name: string, source = 's3://lake/x/', spec = SPEC): DecodedSchema {
  return {
    name,
    description: '',
    autoID: false,
    enable_dynamic_field: false,
    external_source: source,
    external_spec: spec,
    fields: [
      {
        name: 'id',
        is_primary_key: false,
        data_type: 'Int64',
        autoID: false,
        is_partition_key: false,
        is_clustering_key: false,
        external_field: 'id',
      },
    ],
  };
}

function world(job = { durationMs: 10_000, pendingMs: 1_000 }, persistDelayMs = 0): MilvusState {
  const s = new MilvusState({ ...DEFAULT_TIMINGS, persistDelayMs, job }, T0);
  s.createCollection(
    { db: 'default', name: 'c', schema: schema('c'), shardsNum: 1, consistencyLevel: 'Bounded', properties: [] },
    T0,
  );
  return s;
}

function milvusError(fn: () => unknown): MilvusError {
  try {
    fn();
  } catch (err) {
    if (err instanceof MilvusError) return err;
    throw err;
  }
  throw new Error('expected a MilvusError');
}

describe('MilvusState refresh jobs', () => {
  it('moves Pending -> InProgress -> Completed on the clock, capping progress at 99 until done', () => {
    const s = world();
    const id = s.refresh({ db: 'default', name: 'c', source: '', spec: '' }, T0).toString();
    expect(s.progress(id, T0 + 500)).toMatchObject({ state: 'RefreshPending', progress: '0', end_time: '0' });
    expect(s.progress(id, T0 + 5_500)).toMatchObject({ state: 'RefreshInProgress', progress: '50' });
    expect(s.progress(id, T0 + 9_999)).toMatchObject({ state: 'RefreshInProgress', progress: '99' });
    expect(s.progress(id, T0 + 10_000)).toMatchObject({
      state: 'RefreshCompleted',
      progress: '100',
      end_time: String(T0 + 10_000),
    });
    expect(s.progress(id, T0 + 50_000).end_time).toBe(String(T0 + 10_000));
  });

  it('allocates strictly increasing ids above 2^53', () => {
    const s = world({ durationMs: 1, pendingMs: 0 });
    const ids = [0, 1, 2, 3].map((i) => s.refresh({ db: 'default', name: 'c', source: '', spec: '' }, T0 + 10 * i));
    for (const id of ids) expect(id).toBeGreaterThan(2n ** 53n);
    expect([...ids].sort((a, b) => (a < b ? -1 : 1))).toEqual(ids);
    expect(new Set(ids).size).toBe(4);
  });

  it('fails at the configured percentage with the reason, keeping that progress', () => {
    const s = world({ durationMs: 10_000, pendingMs: 0, failAtPercent: 30, failReason: 'boom' } as never);
    const id = s.refresh({ db: 'default', name: 'c', source: '', spec: '' }, T0).toString();
    expect(s.progress(id, T0 + 2_900)).toMatchObject({ state: 'RefreshInProgress', progress: '29' });
    expect(s.progress(id, T0 + 3_000)).toMatchObject({
      state: 'RefreshFailed',
      progress: '30',
      reason: 'boom',
      end_time: String(T0 + 3_000),
    });
  });

  it('rejects a second refresh while one is active and accepts one after it ended', () => {
    const s = world();
    const first = s.refresh({ db: 'default', name: 'c', source: '', spec: '' }, T0);
    const err = milvusError(() => s.refresh({ db: 'default', name: 'c', source: '', spec: '' }, T0 + 100));
    expect(err.code).toBe(1100);
    expect(err.message).toContain(`refresh job ${first} is already in progress for collection c`);
    expect(s.refresh({ db: 'default', name: 'c', source: '', spec: '' }, T0 + 10_000)).toBeGreaterThan(first);
  });

  it('drops a job accepted inside the persistence window of another (milvus#49231) and one whose collection vanished', () => {
    const s = world(undefined, 1_000);
    const first = s.refresh({ db: 'default', name: 'c', source: '', spec: '' }, T0).toString();
    const second = s.refresh({ db: 'default', name: 'c', source: '', spec: '' }, T0 + 10).toString();
    expect(milvusError(() => s.progress(first, T0 + 999)).message).toBe(
      `refresh job ${first} not found: invalid parameter`,
    );
    expect(s.progress(first, T0 + 1_000).state).toBe('RefreshPending');
    expect(() => s.progress(second, T0 + 5_000)).toThrow(/not found/);
    s.createCollection(
      { db: 'default', name: 'd', schema: schema('d'), shardsNum: 1, consistencyLevel: 'Bounded', properties: [] },
      T0,
    );
    const orphan = s.refresh({ db: 'default', name: 'd', source: '', spec: '' }, T0 + 20_000).toString();
    s.dropCollection('default', 'd', T0 + 20_500);
    expect(() => s.progress(orphan, T0 + 30_000)).toThrow(/not found/);
    expect(s.drainEvents().map((e) => e.message)).toEqual(
      expect.arrayContaining([
        expect.stringContaining(`job ${second} dropped by the ack callback`),
        expect.stringContaining(`job ${orphan} dropped`),
      ]),
    );
  });

  it('times a stuck job out with its last transient cause and removes ended jobs after retention', () => {
    const s = world({ durationMs: 10_000, pendingMs: 1_000, stuck: true, transientReason: 'NoSuchBucket' } as never);
    const id = s.refresh({ db: 'default', name: 'c', source: '', spec: '' }, T0).toString();
    expect(s.progress(id, T0 + 3_599_999)).toMatchObject({ state: 'RefreshPending', reason: 'NoSuchBucket' });
    expect(s.progress(id, T0 + 3_600_000)).toMatchObject({
      state: 'RefreshFailed',
      reason: 'timeout, last failure: NoSuchBucket',
    });
    expect(s.list('default', 'c', T0 + 3_600_000 + 86_400_000)).toHaveLength(1);
    expect(s.list('default', 'c', T0 + 3_600_001 + 86_400_000)).toHaveLength(0);
  });

  it('stores an override only when its job completes', () => {
    const s = world({ durationMs: 1_000, pendingMs: 0 });
    s.setCollectionBehaviour('default', 'c', { failAtPercent: 50, failReason: 'bad' });
    s.refresh({ db: 'default', name: 'c', source: 's3://lake/v2/', spec: SPEC }, T0);
    expect(s.getCollection('default', 'c', T0 + 2_000).externalSource).toBe('s3://lake/x/');
    s.setCollectionBehaviour('default', 'c', undefined);
    s.refresh({ db: 'default', name: 'c', source: 's3://lake/v2/', spec: SPEC }, T0 + 3_000);
    expect(s.getCollection('default', 'c', T0 + 3_999).externalSource).toBe('s3://lake/x/');
    expect(s.getCollection('default', 'c', T0 + 4_000).externalSource).toBe('s3://lake/v2/');
  });

  it('lists newest first, all databases when the name is empty', () => {
    const s = world({ durationMs: 100, pendingMs: 0 });
    s.createDatabase('other', T0);
    s.createCollection(
      { db: 'other', name: 'c', schema: schema('c'), shardsNum: 1, consistencyLevel: 'Bounded', properties: [] },
      T0,
    );
    const a = s.refresh({ db: 'default', name: 'c', source: '', spec: '' }, T0).toString();
    const b = s.refresh({ db: 'other', name: 'c', source: '', spec: '' }, T0 + 50).toString();
    const c = s.refresh({ db: 'default', name: 'c', source: '', spec: '' }, T0 + 500).toString();
    expect(s.list('default', '', T0 + 1_000).map((j) => j.job_id)).toEqual([c, b, a]);
    expect(s.list('default', 'c', T0 + 1_000).map((j) => j.job_id)).toEqual([c, a]);
    expect(s.list('other', 'c', T0 + 1_000).map((j) => j.job_id)).toEqual([b]);
  });
});

describe('external source and spec', () => {
  it.each([
    ['', SPEC, 'external_source is invalid: external_source is empty'],
    ['lake/x', SPEC, 'must have an explicit scheme'],
    ['http://lake/x', SPEC, 'scheme "http" is not allowed'],
    ['s3://key:secret@lake/x', SPEC, 'must not embed credentials'],
    ['s3://lake/x', '{', 'invalid external spec JSON'],
    ['s3://lake/x', JSON.stringify({ format: 'csv' }), 'unsupported format "csv"'],
    [
      's3://lake/x',
      JSON.stringify({ extfs: { cloud_provider: 'aws', region: 'r', anonymous: 'true', use_iam: 'true' } }),
      'mutually exclusive',
    ],
    [
      's3://lake/x',
      JSON.stringify({ extfs: { cloud_provider: 'aws', anonymous: 'true' } }),
      'extfs.region is required for scheme "s3"',
    ],
    [
      's3://lake/x',
      JSON.stringify({ extfs: { cloud_provider: 'AWS', region: 'r', anonymous: 'true' } }),
      'canonical lowercase',
    ],
    [
      's3://lake/x',
      JSON.stringify({ extfs: { cloud_provider: 'aws', region: 'r', bogus: '1' } }),
      'extfs key "bogus" is not allowed',
    ],
  ])('rejects source %j with spec %j', (source, spec, fragment) => {
    expect(milvusError(() => validateSourceAndSpec(source, spec)).message).toContain(fragment);
  });

  it('accepts minio:// without a cloud provider', () => {
    expect(() =>
      validateSourceAndSpec(
        'minio://minio:9000/bucket/key',
        JSON.stringify({ extfs: { access_key_id: 'a', access_key_value: 'b' } }),
      ),
    ).not.toThrow();
  });

  it('redacts secrets, sorts keys, stringifies snapshot_id and marks invalid JSON', () => {
    const spec = JSON.stringify({
      snapshot_id: 42,
      format: 'iceberg-table',
      extfs: { region: 'r', access_key_value: 'SK', cloud_provider: 'aws', access_key_id: 'AK' },
    });
    expect(redactExternalSpec(spec)).toBe(
      '{"extfs":{"access_key_id":"***","access_key_value":"***","cloud_provider":"aws","region":"r"},"format":"iceberg-table","snapshot_id":"42"}',
    );
    expect(redactExternalSpec('not json')).toBe('<invalid spec>');
    expect(redactExternalSpec('')).toBe('');
  });
});
