import { describe, expect, it } from 'vitest';
import { intern, slim } from '../../../src/adapters/slim.js';
import { heapUsedMiB } from '../../support/gc.js';

const object = () => ({
  apiVersion: 'milvus.io/v1alpha1',
  kind: 'ExternalCollectionRefresh',
  metadata: {
    name: 'products',
    namespace: 'search',
    uid: 'u-1',
    resourceVersion: '42',
    generation: 3,
    labels: { team: 'search' },
    annotations: {
      'kubectl.kubernetes.io/last-applied-configuration': '{"a":"big copy of the spec"}',
      'milvus.io/refresh-requested-at': '2026-01-01T00:00:00Z',
    },
    managedFields: [{ manager: 'kubectl', fieldsV1: { 'f:spec': {} } }],
  },
  spec: { milvus: { address: 'milvus:19530' }, collectionName: 'products' },
  status: {
    state: 'RefreshCompleted',
    conditions: [
      { type: 'Ready', status: 'True', reason: 'RefreshCompleted', message: 'done', lastTransitionTime: 't' },
    ],
  },
});

describe('slim', () => {
  it('drops managedFields and the last-applied copy, and keeps everything the operator reads', () => {
    const o = slim(object());
    expect(o.metadata).toEqual({
      name: 'products',
      namespace: 'search',
      uid: 'u-1',
      resourceVersion: '42',
      generation: 3,
      labels: { team: 'search' },
      annotations: { 'milvus.io/refresh-requested-at': '2026-01-01T00:00:00Z' },
    });
    expect(Object.keys(o.metadata)).toEqual([
      'name',
      'namespace',
      'uid',
      'resourceVersion',
      'generation',
      'labels',
      'annotations',
    ]);
    expect(o.spec).toEqual(object().spec);
    expect(o.status).toEqual(object().status);
  });

  it('leaves out an annotations map that only held the last-applied copy', () => {
    const o = object();
    o.metadata.annotations = {
      'kubectl.kubernetes.io/last-applied-configuration': '{}',
    } as typeof o.metadata.annotations;
    expect('annotations' in slim(o).metadata).toBe(false);
  });

  it('keeps one copy of strings that repeat across resources', () => {
    const a = slim(JSON.parse(JSON.stringify(object())) as ReturnType<typeof object>);
    const b = slim(JSON.parse(JSON.stringify(object())) as ReturnType<typeof object>);
    expect(a.status.conditions[0]!.reason).toBe(b.status.conditions[0]!.reason);
    expect(intern('x'.repeat(65))).toHaveLength(65); // long strings are left alone
    expect(slim(undefined)).toBeUndefined();
  });

  it("keeps one copy of a job's spec that many resources share", () => {
    // As Milvus reports it (secrets redacted): one lake's bucket, region and format, and its columns.
    const externalSpec = JSON.stringify({
      format: 'parquet',
      extfs: { cloud_provider: 'aws', region: 'eu-west-1', bucket: 'lake', access_key_id: '***' },
      columns: Array.from({ length: 200 }, (_, i) => `column_${i}`),
    });
    expect(externalSpec.length).toBeGreaterThan(2_000);
    const text = JSON.stringify({ ...object(), status: { ...object().status, externalSpec } });
    const before = heapUsedMiB();
    const kept = Array.from({ length: 1_000 }, () => slim(JSON.parse(text) as ReturnType<typeof object>));
    // A copy each would be 1,000 x 2 KB: about 2 MiB on top of the objects themselves.
    expect(heapUsedMiB() - before).toBeLessThan(1.5);
    expect(kept[999]!.status).toEqual(JSON.parse(text).status);
  });
});
