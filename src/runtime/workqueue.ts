/**
 * A keyed work queue with client-go's guarantees: a key waiting in the queue is held once however often it
 * is added; a key is never handed to two workers at once (an add while it is processed is replayed after
 * done()); delayed adds keep the earliest time; failures back off per key exponentially.
 */
import { backoffMs } from '../util/backoff.js';

/** Observes the queue (metrics). */
export interface QueueHooks {
  depth?(n: number): void;
  added?(): void;
  retried?(): void;
  /** Seconds a key waited in the queue, and seconds a worker held it. */
  queued?(seconds: number): void;
  worked?(seconds: number): void;
}

export interface WorkQueueOptions {
  baseBackoffMs: number;
  maxBackoffMs: number;
  hooks?: QueueHooks;
  /** Injected for tests. */
  setTimer?: (fn: () => void, ms: number) => { cancel(): void };
  now?: () => number;
  /** Jitter source of the backoff (tests pass NO_JITTER). */
  random?: () => number;
}

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly addedAt = new Map<string, number>();
  private readonly startedAt = new Map<string, number>();
  private readonly delayed = new Map<string, { at: number; timer: { cancel(): void } }>();
  private readonly failures = new Map<string, number>();
  private readonly waiters: ((key: string | undefined) => void)[] = [];
  private shuttingDown = false;
  private readonly setTimer: NonNullable<WorkQueueOptions['setTimer']>;
  private readonly now: () => number;

  constructor(private readonly options: WorkQueueOptions) {
    this.setTimer =
      options.setTimer ??
      ((fn, ms) => {
        const t = setTimeout(fn, ms);
        return { cancel: () => clearTimeout(t) };
      });
    this.now = options.now ?? Date.now;
  }

  /** Keys waiting (not counting delayed ones or those being processed). */
  get length(): number {
    return this.queue.length;
  }

  /** Adds `key` now. */
  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.options.hooks?.added?.();
    this.dirty.add(key);
    this.addedAt.set(key, this.now());
    if (this.processing.has(key)) return;
    this.push(key);
  }

  /** Adds `key` after `ms`, unless an earlier add is already scheduled. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = this.now() + ms;
    const existing = this.delayed.get(key);
    if (existing && existing.at <= at) return;
    existing?.timer.cancel();
    const timer = this.setTimer(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    this.delayed.set(key, { at, timer });
  }

  /** Adds `key` after its backoff, and counts a failure. */
  addRateLimited(key: string): number {
    const failures = this.failures.get(key) ?? 0;
    this.failures.set(key, failures + 1);
    this.options.hooks?.retried?.();
    const delay = backoffMs(failures, this.options.baseBackoffMs, this.options.maxBackoffMs, this.options.random);
    this.addAfter(key, delay);
    return delay;
  }

  /** Forgets `key`'s failures. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** Failures counted for `key`. */
  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Resolves with the next key, or undefined once the queue is shut down and drained. */
  get(): Promise<string | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) return Promise.resolve(this.take(key));
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Marks `key` processed; replays it if it was added meanwhile. */
  done(key: string): void {
    this.processing.delete(key);
    if (this.shuttingDown) return;
    const started = this.startedAt.get(key);
    if (started !== undefined) this.options.hooks?.worked?.((this.now() - started) / 1000);
    this.startedAt.delete(key);
    if (this.dirty.has(key)) this.push(key);
  }

  /** Stops accepting and handing out keys (queued ones are dropped); waiting get() calls resolve undefined. */
  shutdown(): void {
    this.shuttingDown = true;
    this.queue.length = 0;
    this.dirty.clear();
    for (const d of this.delayed.values()) d.timer.cancel();
    this.delayed.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
  }

  private take(key: string): string {
    this.dirty.delete(key);
    this.processing.add(key);
    this.startedAt.set(key, this.now());
    const added = this.addedAt.get(key);
    if (added !== undefined) this.options.hooks?.queued?.((this.now() - added) / 1000);
    this.addedAt.delete(key);
    this.options.hooks?.depth?.(this.queue.length);
    return key;
  }

  private push(key: string): void {
    const waiter = this.waiters.shift();
    if (waiter) {
      waiter(this.take(key));
      return;
    }
    this.queue.push(key);
    this.options.hooks?.depth?.(this.queue.length);
  }
}
