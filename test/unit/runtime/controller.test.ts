/**
 * The controller driver and its error policy, with a real work queue and fake timers: what happens to a
 * key after each kind of outcome, that one key is never reconciled twice at once, and that every reconcile
 * logs with its own id.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Logger } from '../../../src/logger.js';
import type { Requeue } from '../../../src/reconcile/model.js';
import { ConflictError } from '../../../src/reconcile/ports.js';
import { Controller } from '../../../src/runtime/controller.js';
import { queueStep } from '../../../src/runtime/policy.js';
import { WorkQueue } from '../../../src/runtime/workqueue.js';
import { NO_JITTER } from '../../../src/util/backoff.js';

/** A logger that records every line with the fields of its children. */
function recordingLogger(
  lines: { level: string; message: string; fields: Record<string, unknown> }[],
  base: Record<string, unknown> = {},
): Logger {
  const at =
    (level: string) =>
    (message: string, fields: Record<string, unknown> = {}) =>
      lines.push({ level, message, fields: { ...base, ...fields } });
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (f) => recordingLogger(lines, { ...base, ...f }),
  };
}

describe('queueStep (the error policy)', () => {
  it.each<[string, Parameters<typeof queueStep>[0], ReturnType<typeof queueStep>]>([
    ['nothing to requeue', { requeue: undefined }, { kind: 'forget', result: 'success' }],
    ['a delay', { requeue: { afterMs: 5_000 } }, { kind: 'after', ms: 5_000, forget: true, result: 'requeue_after' }],
    ['backoff asked by the decision', { requeue: { backoff: true } }, { kind: 'backoff', result: 'requeue' }],
    [
      'a write conflict: a retry with backoff, not a hot loop',
      { error: new ConflictError('stale') },
      { kind: 'backoff', result: 'requeue' },
    ],
    ['any other error', { error: new Error('boom') }, { kind: 'backoff', result: 'error' }],
  ])('%s', (_name, outcome, step) => {
    expect(queueStep(outcome)).toEqual(step);
  });
});

describe('Controller', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  function harness(reconcile: (key: string, log: Logger) => Promise<Requeue>) {
    const queue = new WorkQueue({ baseBackoffMs: 1_000, maxBackoffMs: 60_000, random: NO_JITTER });
    const lines: { level: string; message: string; fields: Record<string, unknown> }[] = [];
    const results: string[] = [];
    const controller = new Controller({
      queue,
      reconcile,
      log: recordingLogger(lines),
      describeError: (e) => (e as Error).message,
      hooks: { reconciled: (r) => results.push(r) },
    });
    return { queue, lines, results, controller };
  }

  it('requeues after the delay a reconcile asks for, and not before', async () => {
    const calls: number[] = [];
    const h = harness(() => {
      calls.push(Date.now());
      return Promise.resolve(calls.length === 1 ? { afterMs: 5_000 } : undefined);
    });
    h.controller.start(1);
    h.queue.add('ns/a');
    await vi.advanceTimersByTimeAsync(4_999);
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(2);
    expect(h.results).toEqual(['requeue_after', 'success']);
    h.queue.shutdown();
  });

  it('backs off a failing key exponentially and logs the error with the key and a reconcile id', async () => {
    const calls: number[] = [];
    const start = Date.now();
    const h = harness(() => {
      calls.push(Date.now() - start);
      return Promise.reject(new Error('API server says no'));
    });
    h.controller.start(1);
    h.queue.add('ns/a');
    await vi.advanceTimersByTimeAsync(7_100);
    expect(calls).toEqual([0, 1_000, 3_000, 7_000]); // 1 s, 2 s, 4 s
    const errors = h.lines.filter((l) => l.message === 'Reconcile failed');
    expect(errors[0]?.fields).toMatchObject({ refresh: 'ns/a', error: 'API server says no', retryInMs: 1_000 });
    const ids = new Set(errors.map((l) => l.fields.reconcileID));
    expect(ids.size).toBe(errors.length); // one id per reconcile
    h.queue.shutdown();
  });

  it('backs off a key whose writes keep conflicting, like any failure, and logs it without alarm', async () => {
    let n = 0;
    const start = Date.now();
    const calls: number[] = [];
    const h = harness(() => {
      n += 1;
      calls.push(Date.now() - start);
      return n <= 3 ? Promise.reject(new ConflictError('stale')) : Promise.resolve(undefined);
    });
    h.controller.start(1);
    h.queue.add('ns/a');
    await vi.advanceTimersByTimeAsync(7_100);
    expect(calls).toEqual([0, 1_000, 3_000, 7_000]);
    expect(h.results).toEqual(['requeue', 'requeue', 'requeue', 'success']);
    expect(h.lines.filter((l) => l.level === 'error')).toEqual([]);
    h.queue.shutdown();
  });

  it('never reconciles one key on two workers at once, and passes each reconcile a logger carrying its key', async () => {
    let running = 0;
    let most = 0;
    const keys: unknown[] = [];
    const h = harness(async (key, log) => {
      running += 1;
      most = Math.max(most, running);
      log.info('working');
      await new Promise((r) => setTimeout(r, 100));
      running -= 1;
      keys.push(key);
      return undefined;
    });
    h.controller.start(4);
    h.queue.add('ns/a');
    await vi.advanceTimersByTimeAsync(10);
    h.queue.add('ns/a'); // arrives while ns/a is being reconciled
    h.queue.add('ns/b');
    await vi.advanceTimersByTimeAsync(500);
    expect(keys.sort()).toEqual(['ns/a', 'ns/a', 'ns/b']);
    expect(most).toBe(2); // a and b side by side, never a twice
    const working = h.lines.filter((l) => l.message === 'working');
    expect(working.map((l) => l.fields.refresh).sort()).toEqual(['ns/a', 'ns/a', 'ns/b']);
    h.queue.shutdown();
    await h.controller.drain();
  });

  it('reconciles an ended job on its reserved worker while every other worker is busy with a submission', async () => {
    const done: [string, number][] = [];
    const start = Date.now();
    const h = harness(async (key) => {
      await new Promise((r) => setTimeout(r, key.startsWith('ns/submit') ? 2_000 : 10));
      done.push([key, Date.now() - start]);
      return undefined;
    });
    h.controller.start(2, 1);
    for (let i = 0; i < 6; i++) h.queue.add(`ns/submit-${i}`);
    await vi.advanceTimersByTimeAsync(100);
    h.queue.add('ns/ended', 'urgent');
    await vi.advanceTimersByTimeAsync(100);
    // Without the reserved worker it would wait for a submission to end (2 s), then go first.
    expect(done).toEqual([['ns/ended', 110]]);
    await vi.advanceTimersByTimeAsync(6_000);
    expect(done).toHaveLength(7); // the reserved worker took no submission: 2 workers x 3 rounds of 2 s
    expect(Math.max(...done.map(([, t]) => t))).toBe(6_000);
    h.queue.shutdown();
    await h.controller.drain();
  });
});
