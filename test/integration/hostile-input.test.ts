/**
 * Hostile input, generated with fast-check (fixed seed, replayable) and sent through the real API server:
 * random names, addresses, collection names, Unicode, huge strings, nested specs, numbers at the int64
 * edges, wrong types. Each resource is either rejected at apply with a message naming a spec field, or
 * reconciled to a status with a reason. The operator never crashes, never writes a status the API server
 * refuses, and a well-formed resource applied afterwards still completes.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExternalCollectionRefresh } from '../../src/api/v1alpha1.js';
import { kubectl } from '../support/kubectl.js';
import type { OperatorProcess } from '../support/operator.js';
import { SPEC, TestEnv, condition } from '../support/env.js';

const env = new TestEnv('hostile');
let operator: OperatorProcess;
const SEED = 20261130;
const RUNS = 150;

const huge = fc.string({ minLength: 5_000, maxLength: 40_000 });
const weird = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), huge, fc.constant(''), fc.constant('../../etc'));
const int64Edge = fc.constantFrom(
  0,
  -1,
  1,
  2 ** 31,
  2 ** 53,
  2 ** 53 + 2,
  -(2 ** 63),
  2 ** 63,
  9223372036854775807n.toString(),
);
const anyValue = fc.oneof(
  weird,
  int64Edge,
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }),
);

/** A valid spec with one to three fields replaced by something between plausible and hostile. */
function specArb(emulatorAddress: string) {
  const fields: Record<string, fc.Arbitrary<unknown>> = {
    milvus: fc.oneof(
      fc.record({
        address: fc.oneof(
          weird,
          fc.constantFrom('milvus:0', 'milvus:99999', 'http://m:1', '[::1]:19530', emulatorAddress),
        ),
      }),
      fc.record({
        address: fc.constant(emulatorAddress),
        database: fc.oneof(weird, fc.constantFrom('db1', 'default')),
      }),
      anyValue,
    ),
    collectionName: fc.oneof(fc.constantFrom('products', 'nosuch', '_x', '1bad', 'a'.repeat(300)), weird, anyValue),
    externalSource: fc.oneof(fc.constantFrom('s3://lake/p/', 'file:///x', 's3://u:p@h/x'), weird),
    externalSpec: fc.oneof(
      fc.record(
        {
          format: fc.oneof(fc.constantFrom('parquet', 'csv'), weird),
          snapshot_id: int64Edge,
          extfs: fc.dictionary(
            fc.oneof(fc.constantFrom('access_key_value', 'region', 'cloud_provider'), fc.string()),
            fc.oneof(fc.string(), anyValue),
            { maxKeys: 4 },
          ),
        },
        { requiredKeys: [] },
      ),
      anyValue,
    ),
    schedule: fc.oneof(fc.constantFrom('* * * * *', '61 * * * *', '@daily', 'every day', '0 2 30 2 *'), weird),
    timeZone: fc.oneof(fc.constantFrom('Europe/Berlin', 'Mars/Olympus', 'UTC'), weird),
    suspend: fc.oneof(fc.boolean(), anyValue),
    backoffLimit: fc.oneof(int64Edge, fc.integer({ min: -5, max: 30 })),
    historyLimit: fc.oneof(int64Edge, fc.integer({ min: -5, max: 30 })),
    activeDeadlineSeconds: int64Edge,
    startingDeadlineSeconds: int64Edge,
  };
  return fc
    .subarray(Object.keys(fields), { minLength: 1, maxLength: 3 })
    .chain((keys) => fc.record(Object.fromEntries(keys.map((k) => [k, fields[k]!]))))
    .map((mutations) => {
      const spec: Record<string, unknown> = {
        milvus: { address: emulatorAddress },
        collectionName: 'products',
        ...mutations,
      };
      // The schema wants both or neither; keep them together often enough to reach the operator.
      if (
        'externalSource' in mutations !== 'externalSpec' in mutations &&
        Math.abs(JSON.stringify(mutations).length) % 2 === 0
      ) {
        spec.externalSource ??= 's3://lake/products/v2/';
        spec.externalSpec ??= { format: 'parquet', extfs: { cloud_provider: 'aws', region: 'us-east-1' } };
      }
      return spec;
    });
}

describe('hostile input through the API server', () => {
  beforeAll(async () => {
    await env.setUp();
    env.emulator.seedCollection({ name: 'products', source: 's3://lake/products/', spec: SPEC });
    env.emulator.seedCollection({ name: 'control', source: 's3://lake/control/', spec: SPEC });
    operator = env.startOperator();
    await operator.waitForLog(/Controller started/);
  });

  afterAll(async () => {
    await env.tearDown();
  });

  it(`rejects with a message naming a field, or reconciles to a reason; ${RUNS} inputs, seed ${SEED}`, async () => {
    const samples = fc.sample(specArb(env.emulator.address), { seed: SEED, numRuns: RUNS });
    let rejected = 0;
    const accepted: string[] = [];
    for (const [i, spec] of samples.entries()) {
      const name = `h${i}`;
      const body = {
        apiVersion: 'milvus.io/v1alpha1',
        kind: 'ExternalCollectionRefresh',
        metadata: { name, namespace: env.namespace },
        spec,
      };
      const res = await kubectl(env.kubeconfig, ['apply', '-f', '-'], JSON.stringify(body));
      if (res.code !== 0) {
        rejected += 1;
        expect(res.stderr, `input ${i}: ${JSON.stringify(spec).slice(0, 300)}`).toMatch(
          /spec(\.[A-Za-z_]+)*|Invalid value|Required value|unknown field/,
        );
      } else {
        accepted.push(name);
      }
    }
    // Every accepted resource gets a status with conditions and a reason from the operator.
    const deadline = Date.now() + 60_000;
    let pending = [...accepted];
    while (pending.length && Date.now() < deadline) {
      const list = JSON.parse(await env.k('get', 'ecr', '-o', 'json')) as { items: ExternalCollectionRefresh[] };
      const withReason = new Set(list.items.filter((r) => condition(r, 'Ready')?.reason).map((r) => r.metadata.name));
      pending = pending.filter((n) => !withReason.has(n));
      if (pending.length) await new Promise((r) => setTimeout(r, 500));
    }
    console.log(`hostile input: ${RUNS} tried, ${rejected} rejected at apply, ${accepted.length} reconciled`);
    expect(pending, 'resources never given a reason').toEqual([]);
    expect(operator.alive).toBe(true);
    expect(operator.text()).not.toMatch(
      /Unhandled promise rejection|HTTP 422|Unprocessable Entity|"level":"error","message":"Reconcile failed"/,
    );
    // Others keep completing.
    await env.applyRefresh('control');
    await env.waitForReason('control', 'RefreshCompleted', 60_000);
  }, 240_000);
});
