/** Status and message helpers of the decision: a job's fields in status, and situations in plain words. */
import { type Situation, truncate } from '../api/conditions.js';
import { type ExternalCollectionRefreshStatus, type JobRecord, isTerminal } from '../api/v1alpha1.js';
import type { Settings } from './model.js';
import type { JobInfo, MilvusFailure } from './types.js';

export const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * The status with a Milvus job's fields as Milvus reports them; when the job has ended, also the run's
 * bookkeeping: the last success time and the handled refresh-requested-at value.
 */
export function withJob(st: ExternalCollectionRefreshStatus, seen: JobInfo): ExternalCollectionRefreshStatus {
  const job = notBackwards(st, seen);
  const next: ExternalCollectionRefreshStatus = {
    ...st,
    jobId: job.jobId,
    collectionName: job.collectionName,
    state: job.state,
    progress: job.progress,
    reason: truncate(job.reason, MAX_TEXT),
    externalSource: truncate(job.externalSource, MAX_TEXT),
    externalSpec: truncate(job.externalSpec, MAX_TEXT),
    startTime: job.startTimeMs > 0 ? iso(job.startTimeMs) : undefined,
    endTime: job.endTimeMs > 0 ? iso(job.endTimeMs) : undefined,
  };
  if (!isTerminal(job.state)) return next;
  if (job.state === 'RefreshCompleted' && job.endTimeMs > 0) next.lastSuccessfulTime = iso(job.endTimeMs);
  const newlyFailed = job.state === 'RefreshFailed' && (st.jobId !== job.jobId || st.state !== 'RefreshFailed');
  if (newlyFailed && next.run) next.run = { ...next.run, failedJobs: (next.run.failedJobs ?? 0) + 1 };
  if (next.run?.requestedAt) next.lastHandledRequestedAt = next.run.requestedAt;
  return next;
}

/** Longest Milvus text (reason, source, spec) kept in status. */
const MAX_TEXT = 8_192;

const STATE_ORDER: Record<string, number> = {
  RefreshPending: 0,
  RefreshInProgress: 1,
  RefreshCompleted: 2,
  RefreshFailed: 2,
};

/**
 * A view of the job that never moves its state or progress backwards from what status shows: an older
 * snapshot (an observer list fetched before an adoption, a lagging replica of Milvus' meta) is not news.
 */
function notBackwards(st: ExternalCollectionRefreshStatus, job: JobInfo): JobInfo {
  if (st.jobId !== job.jobId || st.state === undefined) return job;
  const before = STATE_ORDER[st.state] ?? 0;
  const now = STATE_ORDER[job.state] ?? 0;
  if (now < before) return { ...job, state: st.state, progress: Math.max(job.progress, st.progress ?? 0) };
  if (now === before && !isTerminal(job.state)) return { ...job, progress: Math.max(job.progress, st.progress ?? 0) };
  return job;
}

const JOB_KEYS = [
  'jobId',
  'collectionName',
  'state',
  'progress',
  'reason',
  'externalSource',
  'externalSpec',
  'startTime',
  'endTime',
] as const;

/** The status without the current job's fields. */
export function withoutJob(st: ExternalCollectionRefreshStatus): ExternalCollectionRefreshStatus {
  const copy = { ...st };
  for (const k of JOB_KEYS) delete copy[k];
  return copy;
}

/** The current job as an entry of status.history. */
export function historyRecord(st: ExternalCollectionRefreshStatus & { jobId: string }): JobRecord {
  const record: JobRecord = {
    jobId: st.jobId,
    state: st.state,
    progress: st.progress,
    reason: st.reason,
    startTime: st.startTime,
    endTime: st.endTime,
    trigger: st.run?.trigger,
  };
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined)) as unknown as JobRecord;
}

/** Describes a job for humans. */
export function jobWords(job: { jobId?: string; state?: string; progress?: number; reason?: string }): string {
  switch (job.state) {
    case 'RefreshPending':
      return job.reason
        ? `Milvus refresh job ${job.jobId} is pending; Milvus reports: ${job.reason}`
        : `Milvus refresh job ${job.jobId} is pending`;
    case 'RefreshInProgress':
      return `Milvus refresh job ${job.jobId} is in progress: ${job.progress ?? 0}%`;
    case 'RefreshCompleted':
      return `Milvus refresh job ${job.jobId} completed`;
    case 'RefreshFailed':
      return `Milvus refresh job ${job.jobId} failed: ${job.reason || 'no reason given'}`;
    default:
      return `Milvus refresh job ${job.jobId} was submitted; waiting for Milvus to report it`;
  }
}

/** The situation of the job recorded in `st`. */
export function jobSituation(st: ExternalCollectionRefreshStatus): Situation {
  const message = jobWords(st);
  switch (st.state) {
    case 'RefreshCompleted':
      return { kind: 'ready', reason: 'RefreshCompleted', message };
    case 'RefreshFailed':
      return { kind: 'stalled', reason: 'RefreshFailed', message };
    case 'RefreshInProgress':
      return { kind: 'progressing', reason: 'RefreshInProgress', message };
    case 'RefreshPending':
      return { kind: 'progressing', reason: 'RefreshPending', message };
    default:
      return { kind: 'progressing', reason: 'RefreshSubmitted', message };
  }
}

/** The situation after a failed Milvus call. */
export function failureSituation(args: {
  failure: MilvusFailure;
  /** What the operator was doing, e.g. "listing the collection's jobs". */
  activity: string;
  address: string;
  unavailableSinceMs: number;
  now: number;
  settings: Settings;
}): Situation {
  const { failure, activity, address, unavailableSinceMs: sinceMs, now, settings } = args;
  switch (failure.kind) {
    case 'unavailable': {
      const minutes = Math.floor((now - sinceMs) / 60_000);
      const since = `since ${iso(sinceMs)}${minutes > 0 ? ` (${minutes} min)` : ''}`;
      const stalled = now - sinceMs >= settings.unavailableStallMs;
      return {
        kind: stalled ? 'stalled' : 'progressing',
        reason: 'MilvusUnavailable',
        message: `Cannot reach Milvus at ${address} ${since}: ${failure.message}. Retrying with backoff.`,
      };
    }
    case 'auth':
      return {
        kind: 'stalled',
        reason: 'AuthenticationFailed',
        message: `Milvus at ${address} refused the credentials while ${activity}: ${failure.message}`,
      };
    case 'databaseNotFound':
      return {
        kind: 'stalled',
        reason: 'DatabaseNotFound',
        message: `Milvus reports the database does not exist: ${failure.message}`,
      };
    case 'collectionNotFound':
      return {
        kind: 'stalled',
        reason: 'CollectionNotFound',
        message: `Milvus reports the collection does not exist: ${failure.message}. Retrying with backoff.`,
      };
    case 'notExternal':
      return {
        kind: 'stalled',
        reason: 'NotExternalCollection',
        message: `The collection is not an external collection, so it cannot be refreshed: ${failure.message}`,
      };
    case 'invalid':
      return {
        kind: 'stalled',
        reason: 'InvalidRequest',
        message: `Milvus rejected the refresh request: ${failure.message}`,
      };
    case 'unsupported':
      return {
        kind: 'stalled',
        reason: 'UnsupportedServer',
        message: `Milvus at ${address} does not implement external-collection refresh (Milvus 3.0 or later is required)`,
      };
    default:
      return {
        kind: 'progressing',
        reason: 'MilvusError',
        message: `Milvus failed while ${activity}: ${failure.message}. Retrying with backoff.`,
      };
  }
}

/** Orders Milvus job ids (int64 as decimal strings). */
export function compareIds(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The highest job id listed ('0' for none). */
export function maxJobId(jobs: JobInfo[]): string {
  return jobs.reduce((max, j) => (compareIds(j.jobId, max) > 0 ? j.jobId : max), '0');
}
