/**
 * Status writes that only move a running job's progress are written at most once per progress interval
 * per resource; every other change (a new job id, the first report of a job, a move from pending to in
 * progress, its end, a failure, a new trigger, a condition turning True or False) is written at once: the
 * product promises that every Milvus state change reaches status within a poll interval. A short job
 * therefore costs four status writes (intent; job id with Milvus' first report, read back right after the
 * submission; in progress; end) whatever its progress does, and a long one adds one write per interval. Pure decisions plus
 * one timestamp per recently written resource.
 */
import type { ExternalCollectionRefreshStatus } from '../api/v1alpha1.js';
import { jsonEqual } from '../util/merge-patch.js';

type Status = ExternalCollectionRefreshStatus;

/** Job states between which a move is progress, not a change of state. */
const RUNNING = new Set(['RefreshPending', 'RefreshInProgress']);
/** Ready reasons that describe a running job (the first two also name its state). */
const RUNNING_REASONS = new Set(['RefreshPending', 'RefreshInProgress', 'RefreshAdopted']);

/** Fields a progress-only change may alter: the job's percentage, its (pending) reason text, the wording. */
const PROGRESS_FIELDS = new Set(['progress', 'reason', 'conditions']);

/**
 * Whether `after` differs from `before` only by the progress of the same running job in the same state: its
 * percentage, its (pending) reason text and the conditions' wording; the state, the conditions' statuses, the
 * generation and everything else are unchanged.
 */
export function isProgressOnly(before: Status | undefined, after: Status): boolean {
  if (!before || before.jobId === undefined || before.jobId !== after.jobId) return false;
  if (!RUNNING.has(before.state ?? '') || before.state !== after.state) return false;
  const ready = (s: Status): string | undefined => s.conditions?.find((c) => c.type === 'Ready')?.reason;
  if (!RUNNING_REASONS.has(ready(before) ?? '') || !RUNNING_REASONS.has(ready(after) ?? '')) return false;
  const shape = (s: Status): string =>
    JSON.stringify(
      (s.conditions ?? [])
        .map((c) => [c.type, c.status, c.observedGeneration])
        .sort(([a], [b]) => String(a).localeCompare(String(b))),
    );
  if (shape(before) !== shape(after)) return false;
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  for (const k of keys) {
    if (PROGRESS_FIELDS.has(k)) continue;
    if (!jsonEqual((before as Record<string, unknown>)[k] ?? null, (after as Record<string, unknown>)[k] ?? null))
      return false;
  }
  return true;
}

export class WriteThrottle {
  private readonly lastWrite = new Map<string, number>();
  private writes = 0;

  constructor(
    /** At most one progress-only write per resource per this many ms (0: no throttling). */
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** How long to hold back writing `after` over `before` for `key` (0: write now). */
  delay(key: string, before: Status | undefined, after: Status): number {
    if (this.intervalMs <= 0 || !isProgressOnly(before, after)) return 0;
    const last = this.lastWrite.get(key);
    if (last === undefined) return 0;
    return Math.max(0, last + this.intervalMs - this.now());
  }

  /** A status of `key` was written now. */
  wrote(key: string): void {
    this.lastWrite.set(key, this.now());
    // Forget resources written longer than an interval ago: they may write at once anyway.
    if (++this.writes % 1024 === 0) {
      const cutoff = this.now() - this.intervalMs;
      for (const [k, at] of this.lastWrite) if (at <= cutoff) this.lastWrite.delete(k);
    }
  }

  /** Resources remembered (for tests). */
  get size(): number {
    return this.lastWrite.size;
  }
}
