/** The per-endpoint gate on the reconciles' Milvus calls (issue 11, defect 9). */
import { describe, expect, it } from 'vitest';
import { EndpointBusyError, type Endpoint, type MilvusPort } from '../../../src/reconcile/ports.js';
import { type JobInfo, MilvusCallError } from '../../../src/reconcile/types.js';
import { EndpointGate } from '../../../src/runtime/endpoint-gate.js';

const bad: Endpoint = { key: 'bad', address: '127.0.0.1:1', database: 'default' };
const good: Endpoint = { key: 'good', address: '127.0.0.1:2', database: 'default' };
const request = { collection: 'c', database: 'default' };

/** A Milvus whose calls to `bad` hang until released (then fail as unavailable); `good` answers at once. */
function fakeMilvus(): MilvusPort & { calls: string[]; release(): void } {
  const pending: (() => void)[] = [];
  const calls: string[] = [];
  const call = <T>(endpoint: Endpoint, value: T): Promise<T> => {
    calls.push(endpoint.key);
    if (endpoint.key === 'good') return Promise.resolve(value);
    return new Promise<T>((_, reject) =>
      pending.push(() => reject(new MilvusCallError({ kind: 'unavailable', message: 'deadline exceeded: no answer' }))),
    );
  };
  return {
    calls,
    release: () => pending.splice(0).forEach((f) => f()),
    listJobs: (e) => call(e, []),
    refresh: (e) => call(e, '1'),
  };
}

describe('EndpointGate', () => {
  it("finds one job through the inner port's lookup, or by listing when it has none, as a gated call", async () => {
    const job: JobInfo = {
      jobId: '7',
      collectionName: 'c',
      state: 'RefreshPending',
      progress: 0,
      reason: '',
      externalSource: '',
      externalSpec: '',
      startTimeMs: 0,
      endTimeMs: 0,
    };
    const listing: MilvusPort = { listJobs: () => Promise.resolve([job]), refresh: () => Promise.resolve('7') };
    const gate = new EndpointGate(listing, { concurrency: 1, coolDownMs: 1_000, maxCoolDownMs: 8_000 });
    await expect(gate.findJob(good, 'c', '7')).resolves.toMatchObject({ jobId: '7', state: 'RefreshPending' });
    await expect(gate.findJob(good, 'c', '8')).resolves.toBeUndefined();

    const looked: string[] = [];
    const lookup: MilvusPort = {
      ...listing,
      listJobs: () => Promise.reject(new Error('the lookup should be used')),
      findJob: (_e, collection, jobId) => {
        looked.push(`${collection}/${jobId}`);
        return Promise.resolve(undefined);
      },
    };
    await expect(
      new EndpointGate(lookup, { concurrency: 1, coolDownMs: 1_000, maxCoolDownMs: 8_000 }).findJob(good, 'c', '7'),
    ).resolves.toBeUndefined();
    expect(looked).toEqual(['c/7']);

    // Like a list, it is deferred while the endpoint's slots are taken by old calls.
    let now = 1_000_000;
    const milvus = fakeMilvus();
    const busy = new EndpointGate(milvus, { concurrency: 1, coolDownMs: 1_000, maxCoolDownMs: 8_000, now: () => now });
    busy.listJobs(bad, 'a').catch(() => undefined);
    now += 1_000;
    await expect(busy.findJob(bad, 'c', '7')).rejects.toBeInstanceOf(EndpointBusyError);
  });

  it('defers list calls beyond the limit while the calls in flight are old, and never touches other endpoints', async () => {
    let now = 1_000_000;
    const milvus = fakeMilvus();
    const gate = new EndpointGate(milvus, { concurrency: 2, coolDownMs: 1_000, maxCoolDownMs: 8_000, now: () => now });
    const held = [gate.listJobs(bad, 'a'), gate.listJobs(bad, 'b')];
    for (const p of held) p.catch(() => undefined);
    now += 1_000; // they have been out for a second: a third call does not wait for them
    await expect(gate.listJobs(bad, 'c')).rejects.toBeInstanceOf(EndpointBusyError);
    await expect(gate.listJobs(good, 'a')).resolves.toEqual([]);
    expect(milvus.calls.filter((k) => k === 'bad')).toHaveLength(2);
  });

  it('after an unreachable answer fails at once, saying when, then lets one probe through after the cool-down', async () => {
    let now = Date.parse('2026-12-01T01:00:00Z');
    const milvus = fakeMilvus();
    const gate = new EndpointGate(milvus, { concurrency: 2, coolDownMs: 1_000, maxCoolDownMs: 8_000, now: () => now });
    const first = gate.listJobs(bad, 'a');
    milvus.release();
    await expect(first).rejects.toBeInstanceOf(MilvusCallError);
    const fast = await gate.refresh(bad, request).catch((e: unknown) => e);
    expect(fast).toBeInstanceOf(MilvusCallError);
    expect((fast as MilvusCallError).failure.kind).toBe('unavailable');
    expect((fast as MilvusCallError).message).toContain('unreachable at 2026-12-01T01:00:00.000Z');
    expect((fast as MilvusCallError).message).toContain('deadline exceeded: no answer');
    expect(milvus.calls).toHaveLength(1);

    now += 1_000;
    const probe = gate.listJobs(bad, 'a'); // the probe goes through ...
    await expect(gate.listJobs(bad, 'b')).rejects.toThrow(/unreachable at/); // ... the others do not
    milvus.release();
    await expect(probe).rejects.toBeInstanceOf(MilvusCallError);
    expect(milvus.calls).toHaveLength(2);
    now += 1_000; // the cool-down doubled
    await expect(gate.listJobs(bad, 'a')).rejects.toThrow(
      /unreachable at 2026-12-01T01:00:01.000Z.*next attempt after 2026-12-01T01:00:03.000Z/,
    );
    expect(milvus.calls).toHaveLength(2);
  });

  it('closes again when the endpoint answers', async () => {
    let now = 0;
    let down = true;
    const inner: MilvusPort = {
      listJobs: () =>
        down
          ? Promise.reject(new MilvusCallError({ kind: 'unavailable', message: 'unavailable: refused' }))
          : Promise.resolve([]),
      refresh: () => Promise.resolve('1'),
    };
    const gate = new EndpointGate(inner, { concurrency: 1, coolDownMs: 500, maxCoolDownMs: 500, now: () => now });
    await expect(gate.listJobs(bad, 'a')).rejects.toThrow(/refused/);
    down = false;
    await expect(gate.listJobs(bad, 'a')).rejects.toThrow(/not called/);
    now += 500;
    await expect(gate.listJobs(bad, 'a')).resolves.toEqual([]);
    await expect(gate.listJobs(bad, 'a')).resolves.toEqual([]);
    expect(gate.downSince('bad')).toBeUndefined();
  });
});
