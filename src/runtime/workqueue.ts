/**
 * A keyed work queue with client-go's guarantees: a key waiting in the queue is held once however often it
 * is added; a key is never handed to two workers at once (an add while it is processed is replayed after
 * done()); delayed adds keep the earliest time; failures back off per key exponentially.
 *
 * Three priorities: `urgent` keys (a job that Milvus reports ended) before `high` ones (a job that Milvus
 * reports changed otherwise: progressed, appeared or went missing) before `normal` ones (watch events,
 * resyncs, retries, new submissions), so in a burst of thousands of submissions a finished job still reaches
 * its status within a poll or two, even when one poll reports hundreds of jobs moving to in progress. A key
 * added at several priorities is held once, at the highest. Delayed adds share one timer (a heap by due time),
 * so thousands of waiting keys cost one timer, not thousands.
 */
import { backoffMs } from '../util/backoff.js';

export type Priority = 'urgent' | 'high' | 'normal';

/** Higher first. */
const RANK: Record<Priority, number> = { urgent: 2, high: 1, normal: 0 };
const ORDER: Priority[] = ['urgent', 'high', 'normal'];

/** Observes the queue (metrics). */
export interface QueueHooks {
  depth?(n: number): void;
  added?(): void;
  retried?(): void;
  /**
   * Seconds a key waited in the queue since it was added, the seconds of those it waited at the priority it
   * was handed out at (a key moved up waited at its new priority only since then), and that priority.
   */
  queued?(seconds: number, priority: Priority, atPrioritySeconds: number): void;
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

/** A FIFO of keys with O(1) push and shift. Entries may be stale (already taken); the queue skips them. */
class Fifo {
  private items: (string | undefined)[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(key: string): void {
    this.items.push(key);
  }

  shift(): string | undefined {
    if (this.head >= this.items.length) return undefined;
    const key = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return key;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }
}

/** Keys due at a time, earliest first (a binary heap). */
class DueHeap {
  private readonly heap: { key: string; at: number }[] = [];

  get size(): number {
    return this.heap.length;
  }

  peek(): { key: string; at: number } | undefined {
    return this.heap[0];
  }

  push(key: string, at: number): void {
    const h = this.heap;
    h.push({ key, at });
    for (let i = h.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (h[parent]!.at <= h[i]!.at) break;
      [h[parent], h[i]] = [h[i]!, h[parent]!];
      i = parent;
    }
  }

  pop(): { key: string; at: number } | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && h[l]!.at < h[m]!.at) m = l;
        if (r < h.length && h[r]!.at < h[m]!.at) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top;
  }

  clear(): void {
    this.heap.length = 0;
  }
}

export class WorkQueue {
  private readonly fifos: Record<Priority, Fifo> = { urgent: new Fifo(), high: new Fifo(), normal: new Fifo() };
  /** Keys waiting to be handed out (or replayed after done()), with their priority and when they came. */
  private readonly dirty = new Map<string, { priority: Priority; at: number; since: number }>();
  private readonly processing = new Map<string, number>();
  /** Keys waiting in a FIFO now (dirty and not processing). */
  private waiting = 0;
  private readonly delayed = new Map<string, number>();
  private readonly due = new DueHeap();
  private timer: { at: number; handle: { cancel(): void } } | undefined;
  private readonly failures = new Map<string, number>();
  /** Workers waiting for a key, each with the lowest priority it takes. */
  private readonly waiters: { resolve: (key: string | undefined) => void; min: Priority }[] = [];
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
    return this.waiting;
  }

  /** Keys waiting for a delayed add. */
  get delayedLength(): number {
    return this.delayed.size;
  }

  /** Adds `key` now. */
  add(key: string, priority: Priority = 'normal'): void {
    if (this.shuttingDown) return;
    const entry = this.dirty.get(key);
    if (entry) {
      if (RANK[priority] > RANK[entry.priority]) {
        entry.priority = priority;
        entry.since = this.now();
        // Queued at a lower priority: queue it again at this one; the other entry is skipped when reached. A
        // worker that takes only this priority may be waiting for it.
        if (!this.processing.has(key)) {
          const waiter = this.waiterFor(priority);
          if (waiter) waiter.resolve(this.take(key));
          else this.fifos[priority].push(key);
        }
      }
      return;
    }
    this.options.hooks?.added?.();
    const now = this.now();
    this.dirty.set(key, { priority, at: now, since: now });
    if (this.processing.has(key)) return;
    this.push(key, priority);
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
    if (existing !== undefined && existing <= at) return;
    this.delayed.set(key, at);
    this.due.push(key, at); // an earlier entry for the key, if any, is skipped when it comes due
    this.arm();
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

  /**
   * Resolves with the next key of at least priority `min`, or undefined once the queue is shut down. A worker
   * that takes only `urgent` keys is free for an ended job however long the submissions ahead of it are.
   */
  get(min: Priority = 'normal'): Promise<string | undefined> {
    const key = this.next(min);
    if (key !== undefined) return Promise.resolve(this.take(key));
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push({ resolve, min }));
  }

  /** Marks `key` processed; replays it if it was added meanwhile. */
  done(key: string): void {
    const started = this.processing.get(key);
    this.processing.delete(key);
    if (this.shuttingDown) return;
    if (started !== undefined) this.options.hooks?.worked?.((this.now() - started) / 1000);
    const entry = this.dirty.get(key);
    if (entry) this.push(key, entry.priority);
  }

  /** Stops accepting and handing out keys (queued ones are dropped); waiting get() calls resolve undefined. */
  shutdown(): void {
    this.shuttingDown = true;
    for (const fifo of Object.values(this.fifos)) fifo.clear();
    this.dirty.clear();
    this.waiting = 0;
    this.timer?.handle.cancel();
    this.timer = undefined;
    this.delayed.clear();
    this.due.clear();
    for (const w of this.waiters.splice(0)) w.resolve(undefined);
  }

  /** The next key to hand out: urgent, then high, then normal (down to `min`), skipping stale entries. */
  private next(min: Priority): string | undefined {
    for (const priority of ORDER) {
      if (RANK[priority] < RANK[min]) break;
      const fifo = this.fifos[priority];
      for (let key = fifo.shift(); key !== undefined; key = fifo.shift()) {
        if (this.dirty.has(key) && !this.processing.has(key)) return key;
      }
    }
    return undefined;
  }

  private take(key: string): string {
    const entry = this.dirty.get(key)!;
    this.dirty.delete(key);
    this.waiting -= 1;
    this.processing.set(key, this.now());
    const now = this.now();
    this.options.hooks?.queued?.((now - entry.at) / 1000, entry.priority, (now - entry.since) / 1000);
    this.options.hooks?.depth?.(this.waiting);
    return key;
  }

  private push(key: string, priority: Priority): void {
    this.waiting += 1;
    const waiter = this.waiterFor(priority);
    if (waiter) {
      waiter.resolve(this.take(key));
      return;
    }
    this.fifos[priority].push(key);
    this.options.hooks?.depth?.(this.waiting);
  }

  /** Takes the first waiting worker that takes `priority` off the waiting list. */
  private waiterFor(priority: Priority): { resolve: (key: string | undefined) => void } | undefined {
    const i = this.waiters.findIndex((w) => RANK[w.min] <= RANK[priority]);
    return i < 0 ? undefined : this.waiters.splice(i, 1)[0];
  }

  /** Keeps one timer, set for the earliest delayed add. */
  private arm(): void {
    const first = this.due.peek();
    if (!first || this.shuttingDown) return;
    if (this.timer && this.timer.at <= first.at) return;
    this.timer?.handle.cancel();
    const at = first.at;
    this.timer = { at, handle: this.setTimer(() => this.fire(), Math.max(0, at - this.now())) };
  }

  private fire(): void {
    this.timer = undefined;
    const now = this.now();
    for (let top = this.due.peek(); top && top.at <= now; top = this.due.peek()) {
      this.due.pop();
      if (this.delayed.get(top.key) !== top.at) continue; // superseded by an earlier add
      this.delayed.delete(top.key);
      this.add(top.key);
    }
    this.arm();
  }
}
