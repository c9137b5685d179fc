import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WorkQueue } from '../../../src/runtime/workqueue.js';
import { backoffMs } from '../../../src/util/backoff.js';

describe('WorkQueue', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const queue = (): WorkQueue => new WorkQueue({ baseBackoffMs: 1_000, maxBackoffMs: 300_000 });

  it('holds a key once however often it is added', async () => {
    const q = queue();
    q.add('a');
    q.add('b');
    q.add('a');
    expect(q.length).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
  });

  it('never hands a key to two workers: an add during processing is replayed after done()', async () => {
    const q = queue();
    q.add('a');
    const key = await q.get();
    q.add('a');
    expect(q.length).toBe(0);
    let second: string | undefined;
    void q.get().then((k) => (second = k));
    await Promise.resolve();
    expect(second).toBeUndefined();
    q.done(key!);
    await Promise.resolve();
    expect(second).toBe('a');
  });

  it('keeps the earliest delayed add', async () => {
    const q = queue();
    q.addAfter('a', 10_000);
    q.addAfter('a', 2_000);
    q.addAfter('a', 5_000);
    vi.advanceTimersByTime(1_999);
    expect(q.length).toBe(0);
    vi.advanceTimersByTime(1);
    expect(q.length).toBe(1);
    expect(await q.get()).toBe('a');
    vi.advanceTimersByTime(20_000);
    expect(q.length).toBe(0);
  });

  it('backs off per key exponentially up to the cap, and forget() resets it', () => {
    const q = queue();
    const delays = [0, 1, 2, 3, 20].map(() => q.addRateLimited('a'));
    expect(delays[0]).toBeGreaterThanOrEqual(900);
    expect(delays[0]).toBeLessThanOrEqual(1_100);
    expect(delays[3]).toBeGreaterThanOrEqual(7_200);
    expect(q.retries('a')).toBe(5);
    q.forget('a');
    expect(q.retries('a')).toBe(0);
    expect(backoffMs(30, 1_000, 300_000, () => 0.5)).toBe(300_000);
    expect(q.addRateLimited('b')).toBeLessThanOrEqual(1_100);
  });

  it('releases waiting workers on shutdown, drops queued keys and ignores later adds', async () => {
    const q = queue();
    const waiting = q.get();
    q.shutdown();
    expect(await waiting).toBeUndefined();
    q.add('a');
    expect(q.length).toBe(0);
    const q2 = queue();
    q2.add('x');
    q2.add('y');
    q2.shutdown();
    expect(await q2.get()).toBeUndefined(); // a replica that stopped leading starts nothing new
  });

  it('hands out high-priority keys first, and holds a key added at both priorities once, at the higher', async () => {
    const q = queue();
    for (const k of ['s1', 's2', 's3']) q.add(k); // submissions
    q.add('done', 'high'); // Milvus reported a job finished
    q.add('s3', 'high'); // already queued: moved up, still held once
    expect(q.length).toBe(4);
    expect(await q.get()).toBe('done');
    expect(await q.get()).toBe('s3');
    expect(await q.get()).toBe('s1');
    expect(await q.get()).toBe('s2');
    expect(q.length).toBe(0);
  });

  it('hands out urgent keys (ended jobs) before high ones (other job changes), each held once', async () => {
    const q = queue();
    q.add('s1'); // a submission
    for (const k of ['p1', 'p2', 'p3']) q.add(k, 'high'); // jobs moving to in progress
    q.add('end', 'urgent'); // Milvus reported a job finished
    q.add('p3', 'urgent'); // already queued at high: moved up, still held once
    q.add('end', 'high'); // a lower priority never moves a key down
    expect(q.length).toBe(5);
    expect(await q.get()).toBe('end');
    expect(await q.get()).toBe('p3');
    expect(await q.get()).toBe('p1');
    expect(await q.get()).toBe('p2');
    expect(await q.get()).toBe('s1');
    expect(q.length).toBe(0);
  });

  it('gives a worker that takes only urgent keys nothing else, and wakes it for an urgent key or a key moved up', async () => {
    const q = queue();
    let got: string | undefined;
    const reserved = q.get('urgent').then((k) => (got = k));
    q.add('submission'); // normal: left for the other workers
    q.add('progress', 'high');
    await Promise.resolve();
    expect(got).toBeUndefined();
    q.add('ended', 'urgent');
    await reserved;
    expect(got).toBe('ended');
    // A key already queued at normal and moved up reaches a waiting reserved worker at once.
    const next = q.get('urgent');
    q.add('submission', 'urgent');
    expect(await next).toBe('submission');
    expect(q.length).toBe(1); // 'progress' waits for an ordinary worker
    expect(await q.get()).toBe('progress');
    expect(q.length).toBe(0);
    // An ordinary worker still takes urgent keys first.
    q.add('n1');
    q.add('u1', 'urgent');
    expect(await q.get()).toBe('u1');
  });

  it('reports the wait of a key moved up from when it was moved up, beside its whole wait', async () => {
    let now = 0;
    const waits: [number, string, number][] = [];
    const q = new WorkQueue({
      baseBackoffMs: 1_000,
      maxBackoffMs: 300_000,
      now: () => now,
      hooks: { queued: (s, priority, atPriority) => waits.push([s, priority, atPriority]) },
    });
    q.add('a'); // a requeue, waiting behind a backlog
    now = 40_000;
    q.add('a', 'urgent'); // its job ended
    now = 40_050;
    expect(await q.get()).toBe('a');
    expect(waits).toEqual([[40.05, 'urgent', 0.05]]);
  });

  it('replays a key added at high priority while it was processed at high priority', async () => {
    const q = queue();
    q.add('a');
    const a = await q.get();
    q.add('b');
    q.add('a', 'high');
    q.done(a!);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
  });

  it('keeps thousands of delayed keys on one timer, each due at its own time', async () => {
    const timers: number[] = [];
    const q = new WorkQueue({
      baseBackoffMs: 1_000,
      maxBackoffMs: 300_000,
      setTimer: (fn, ms) => {
        timers.push(ms);
        const t = setTimeout(fn, ms);
        return { cancel: () => clearTimeout(t) };
      },
    });
    for (let i = 0; i < 5_000; i++) q.addAfter(`k${i}`, 10_000 + i);
    expect(q.delayedLength).toBe(5_000);
    expect(timers).toHaveLength(1);
    vi.advanceTimersByTime(10_000 + 2_499);
    expect(q.length).toBe(2_500);
    vi.advanceTimersByTime(5_000);
    expect(q.length).toBe(5_000);
    expect(await q.get()).toBe('k0');
  });
});
