/**
 * Sharding past one replica the way Flux does it: each operator Deployment watches the resources carrying
 * its value of a label (--watch-label-selector). Two operator processes with disjoint selectors split 200
 * resources: each sees, submits for and writes only its own, every resource completes, and no Milvus
 * collection ever has two jobs at once, not even the collections shared by a resource of each shard.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubectlOk } from '../support/kubectl.js';
import { TestEnv } from '../support/env.js';
import type { OperatorProcess } from '../support/operator.js';

const KEY = 'sharding.fluxcd.io/key';
const PER_SHARD = 90; // resources with a collection of their own, per shard
const SHARED = 10; // collections with one resource in each shard

describe('sharding by label', () => {
  const env = new TestEnv('shard');
  const names: { name: string; collection: string; shard: string }[] = [];

  beforeAll(async () => {
    // Milvus' synchronous duplicate check sees every accepted job at once (no persistence delay).
    await env.setUp({ timings: { persistDelayMs: 0, job: { durationMs: 1_500, pendingMs: 200 } } });
    for (const shard of ['shard1', 'shard2']) {
      for (let i = 0; i < PER_SHARD; i++) names.push({ name: `${shard}-r${i}`, collection: `${shard}c${i}`, shard });
      for (let i = 0; i < SHARED; i++) names.push({ name: `${shard}-s${i}`, collection: `shared${i}`, shard });
    }
    for (const c of new Set(names.map((n) => n.collection)))
      env.emulator.seedCollection({ name: c, source: `s3://lake/${c}/`, spec: SPEC_ANON });
    const items = names.map(({ name, collection, shard }) => ({
      apiVersion: 'milvus.io/v1alpha1',
      kind: 'ExternalCollectionRefresh',
      metadata: { name, namespace: env.namespace, labels: { [KEY]: shard } },
      spec: { milvus: { address: env.emulator.address }, collectionName: collection },
    }));
    await kubectlOk(env.kubeconfig, ['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
  });

  afterAll(() => env.tearDown());

  it('splits 200 resources between two operators: each handles only its own, and every one completes', async () => {
    const operators: Record<string, OperatorProcess> = {};
    for (const shard of ['shard1', 'shard2'])
      operators[shard] = env.startOperator({ args: [`--watch-label-selector=${KEY}=${shard}`, '--log-level=info'] });

    // Every resource completes (one list for all of them, polled).
    const deadline = Date.now() + 45_000;
    let states: Record<string, string | undefined> = {};
    while (Date.now() < deadline) {
      const list = JSON.parse(await env.k('get', 'ecr', '-o', 'json')) as {
        items: { metadata: { name: string }; status?: { state?: string } }[];
      };
      states = Object.fromEntries(list.items.map((i) => [i.metadata.name, i.status?.state]));
      if (names.every((n) => states[n.name] === 'RefreshCompleted')) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(names.filter((n) => states[n.name] !== 'RefreshCompleted').map((n) => n.name)).toEqual([]);

    // Each operator saw, submitted for and wrote only the resources of its shard.
    for (const [shard, op] of Object.entries(operators)) {
      const mine = names.filter((n) => n.shard === shard);
      expect(await op.metric('milvus_refresh_resources')).toBe(mine.length);
      const touched = new Set(
        op.lines.flatMap((l) => {
          const m = /"refresh":"[^"/]+\/([^"]+)"/.exec(l);
          return m ? [m[1]!] : [];
        }),
      );
      for (const n of mine) expect(touched.has(n.name), `${n.name} handled by its shard's operator`).toBe(true);
      for (const n of names.filter((x) => x.shard !== shard))
        expect(touched.has(n.name), `${n.name} untouched by ${shard}'s operator`).toBe(false);
      expect(await op.metric('milvus_refresh_status_writes_total')).toBeGreaterThanOrEqual(3 * mine.length);
    }

    // Milvus never ran two jobs of one collection at once; each collection of its own got exactly one job.
    for (const c of new Set(names.map((n) => n.collection))) {
      const jobs = env.emulator
        .jobs(c)
        .map((j) => ({ start: Number(j.start_time), end: Number(j.end_time) }))
        .sort((a, b) => a.start - b.start);
      expect(jobs.length, c).toBeGreaterThanOrEqual(1);
      if (!c.startsWith('shared')) expect(jobs.length, c).toBe(1);
      for (let i = 1; i < jobs.length; i++)
        expect(jobs[i]!.start, `${c}: overlapping jobs`).toBeGreaterThanOrEqual(jobs[i - 1]!.end);
    }
  });
});

const SPEC_ANON = { format: 'parquet', extfs: { cloud_provider: 'aws', region: 'us-west-2', anonymous: 'true' } };
