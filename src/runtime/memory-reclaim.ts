/**
 * Gives memory back while the operator is busy, so that its resident size follows what it holds, not what it
 * received. Two kinds of memory pile up in a burst, measured with `npm run bench` (docs/scale.md):
 *
 * - **Received HTTP/2 data.** Node hands each HTTP/2 DATA frame (gRPC answers from Milvus, API server answers
 *   and watch events) to JavaScript as a view of a 64 KiB read buffer, and those buffers are freed only by a
 *   full garbage collection: in a process started as the image starts it, young-generation collections keep
 *   them, unlike TCP read buffers (probe: 3.5 MB received over HTTP/2, +3.5 MiB of array buffers after a
 *   scavenge, +0 after a full collection; test/integration/memory-reclaim.test.ts).
 *   V8 starts a full collection for external memory only after about 64 MiB; an all-jobs answer of 24,000
 *   retained jobs is 3.5 MB per endpoint per poll, so at 10,000 resources 47-65 MiB of dead buffers waited.
 * - **A grown heap.** V8's ordinary full collections free objects but seldom give pages back: in the first
 *   minute of a burst of 10,000 the heap stayed at 100-105 MiB while collections brought its use down to
 *   52-66 MiB; the first forced collection took it to 66-78 MiB.
 *
 * Every `intervalMs` the reclaimer looks at `process.memoryUsage()`. When array buffers or the heap have grown
 * by `stepBytes` since the last reclaim (or since V8's own collections brought them lowest), it runs a full
 * collection, which frees the buffers and compacts the heap, returning its pages. Reclaims are at least
 * `minSpacingMs` apart. Once no reclaim was needed for `quietMs`, it returns the C heap's free pages to the
 * system, once (glibc's `malloc_trim`, through `node:ffi` where Node has it): freed buffers leave holes that
 * glibc's malloc keeps. Not after every reclaim: at 10,000 resources that cost 21 s of CPU in a burst (the
 * returned pages are faulted in again at once) and lowered nothing at the peak.
 *
 * Off unless --memory-reclaim-mib is set: a forced full collection costs the operator several times its pause
 * in CPU afterwards (at 16 MiB, 15-60% more CPU in a burst of 10,000 for a peak of 206-216 MiB instead of 257).
 */
import type { Logger } from '../logger.js';

export interface MemorySample {
  heapTotal: number;
  arrayBuffers: number;
}

export interface MemoryReclaimOptions {
  /** Growth of array buffers or of the heap, in bytes, that triggers a reclaim. */
  stepBytes: number;
  /** How often memory is looked at. */
  intervalMs?: number;
  /** Least time between two reclaims. */
  minSpacingMs?: number;
  /** How long after the last reclaim the C heap is trimmed (once). */
  quietMs?: number;
  /** A full, compacting garbage collection (Node's `gc`, with --expose-gc). */
  collect: () => void;
  /** Returns free C heap pages to the system; absent where the platform has no such call. */
  trim?: () => void;
  usage?: () => MemorySample;
  now?: () => number;
  /** After each reclaim: why, and how long the collection took. */
  onReclaim?: (trigger: ReclaimTrigger, seconds: number) => void;
}

export type ReclaimTrigger = 'buffers' | 'heap';

/**
 * The decision, apart from timers: given a sample and the lowest values seen since the last reclaim, whether
 * to reclaim now and why. Array buffers first: they are what piles up fastest.
 */
export function reclaimTrigger(
  sample: MemorySample,
  floor: MemorySample,
  stepBytes: number,
): ReclaimTrigger | undefined {
  if (sample.arrayBuffers - floor.arrayBuffers >= stepBytes) return 'buffers';
  if (sample.heapTotal - floor.heapTotal >= stepBytes) return 'heap';
  return undefined;
}

export class MemoryReclaimer {
  // No constructor parameter properties: tests load this file with Node's own type stripping.
  private readonly options: MemoryReclaimOptions;
  private readonly intervalMs: number;
  private readonly minSpacingMs: number;
  private readonly quietMs: number;
  private readonly usage: () => MemorySample;
  private readonly now: () => number;
  private timer: ReturnType<typeof setInterval> | undefined;
  /** Lowest readings since the last reclaim (what V8's own collections brought memory down to); unset until
   * the first look after a reclaim. */
  private floor: MemorySample | undefined;
  private lastReclaim = Number.NEGATIVE_INFINITY;
  /** When the C heap is to be trimmed: a quiet while after the last reclaim. */
  private trimAt: number | undefined;

  constructor(options: MemoryReclaimOptions) {
    this.options = options;
    if (!(options.stepBytes > 0)) throw new Error('MemoryReclaimer: stepBytes must be positive');
    this.intervalMs = options.intervalMs ?? 200;
    this.minSpacingMs = options.minSpacingMs ?? 1_000;
    this.quietMs = options.quietMs ?? 10_000;
    this.usage = options.usage ?? (() => process.memoryUsage());
    this.now = options.now ?? (() => performance.now());
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.check(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One look (the timer's tick). Returns what it did, for tests. */
  check(): ReclaimTrigger | 'trimmed' | undefined {
    const sample = this.usage();
    if (this.floor === undefined) {
      // The first look, or the first after a collection: V8 frees dead array buffers on a background thread,
      // so only now has memory come down to where the next step counts from.
      this.floor = { ...sample };
      return undefined;
    }
    const now = this.now();
    if (this.trimAt !== undefined && now >= this.trimAt) {
      this.trimAt = undefined;
      if (this.options.trim) {
        this.options.trim();
        return 'trimmed';
      }
    }
    const trigger = reclaimTrigger(sample, this.floor, this.options.stepBytes);
    if (trigger === undefined || now - this.lastReclaim < this.minSpacingMs) {
      this.floor.arrayBuffers = Math.min(this.floor.arrayBuffers, sample.arrayBuffers);
      this.floor.heapTotal = Math.min(this.floor.heapTotal, sample.heapTotal);
      return undefined;
    }
    this.options.collect();
    this.lastReclaim = this.now();
    this.floor = undefined;
    this.trimAt = this.lastReclaim + this.quietMs;
    this.options.onReclaim?.(trigger, (this.lastReclaim - now) / 1000);
    return trigger;
  }
}

type FfiModule = {
  dlopen(
    path: string,
    definitions: Record<string, { arguments: string[]; return: string }>,
  ): { functions: Record<string, (...args: unknown[]) => unknown> };
};

/**
 * glibc's `malloc_trim(0)` through Node's `node:ffi` (Node 26; experimental), or undefined where there is no
 * such module or no glibc (musl, macOS): then freed C heap memory is reused but not returned.
 */
export function loadMallocTrim(log?: Logger): (() => void) | undefined {
  if (process.platform !== 'linux') return undefined;
  const getBuiltin = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  let ffi: FfiModule | undefined;
  try {
    ffi = getBuiltin?.call(process, 'node:ffi') as FfiModule | undefined;
  } catch {
    ffi = undefined;
  }
  if (!ffi) return undefined;
  try {
    const { functions } = ffi.dlopen('libc.so.6', { malloc_trim: { arguments: ['uint64'], return: 'int32' } });
    const trim = functions.malloc_trim;
    if (typeof trim !== 'function') return undefined;
    return () => void trim(0n);
  } catch (err) {
    log?.debug('malloc_trim is not available', { error: err instanceof Error ? err.message : String(err) });
    return undefined;
  }
}

/** Node's `gc` when the process was started with --expose-gc. */
export function exposedGc(): (() => void) | undefined {
  const gc = (globalThis as { gc?: (options?: { type?: string }) => unknown }).gc;
  return typeof gc === 'function' ? () => void gc({ type: 'major' }) : undefined;
}
