/**
 * The phase of a resource's run, read from its stored status, its spec and the clock. Every part of the
 * operator that needs to know where a run stands (the decision, the claims table at start-up, whether a
 * Secret must be read) asks `phaseOf`, so the answer is worked out in one place.
 */
import { STALLED, findCondition } from '../api/conditions.js';
import {
  type ExternalCollectionRefresh,
  type ExternalCollectionRefreshStatus,
  type RunStatus,
  isTerminal,
} from '../api/v1alpha1.js';
import { runServes } from './trigger.js';

export type Phase =
  /** A job this resource started or adopted is active in Milvus: follow it until it ends. */
  | { kind: 'Following'; jobId: string; serves: boolean }
  /** The current trigger's run is over (its job ended or was given up, or submitting gave up): no Milvus call. */
  | { kind: 'Settled' }
  /** The current trigger's job failed and spec.backoffLimit allows another: submit again after a backoff. */
  | { kind: 'Retrying'; failedJobs: number }
  /** Milvus was asked for a job (the intent is recorded) but the job id is unknown: find it or ask again. */
  | { kind: 'InDoubt'; run: RunStatus & { submittedAt: string }; serves: boolean }
  /** The current trigger has no job yet: wait for the collection to be free, then submit. */
  | { kind: 'Starting'; serves: boolean };

/** Stalled reasons after which the operator stops following a job that Milvus may still run. */
const GAVE_UP_ON_JOB = new Set(['JobLost', 'DeadlineExceeded']);

/** The reason of a Stalled=True condition, if the resource is stalled. */
export function stalledReason(r: ExternalCollectionRefresh): string | undefined {
  const c = findCondition(r.status?.conditions, STALLED);
  return c?.status === 'True' ? c.reason : undefined;
}

/** When spec.activeDeadlineSeconds ends for the job of `st.run` (epoch ms), if set. */
export function deadlineOf(r: ExternalCollectionRefresh, st: ExternalCollectionRefreshStatus): number | undefined {
  const seconds = r.spec.activeDeadlineSeconds;
  const submittedAt = st.run?.submittedAt ? Date.parse(st.run.submittedAt) : undefined;
  return seconds && submittedAt !== undefined ? submittedAt + seconds * 1_000 : undefined;
}

/**
 * Whether the operator has stopped following the status' job: the run records it (run.gaveUpAt), the
 * Stalled condition says so (JobLost, DeadlineExceeded: statuses written before run.gaveUpAt), or a newer
 * trigger came after the job's deadline. A newer trigger's wait replaces the Stalled condition, so the
 * condition alone would make the job followed again, found lost or overdue again, on every reconcile.
 */
function gaveUpOnJob(r: ExternalCollectionRefresh, st: ExternalCollectionRefreshStatus, serves: boolean, now: number) {
  if (st.run?.gaveUpAt !== undefined || GAVE_UP_ON_JOB.has(stalledReason(r) ?? '')) return true;
  const deadline = serves ? undefined : deadlineOf(r, st);
  return deadline !== undefined && now >= deadline;
}

export function phaseOf(r: ExternalCollectionRefresh, now: number): Phase {
  const st = r.status ?? {};
  const serves = runServes(st.run, r, now);
  const stalled = stalledReason(r);
  if (st.jobId !== undefined && !isTerminal(st.state) && !gaveUpOnJob(r, st, serves, now)) {
    return { kind: 'Following', jobId: st.jobId, serves };
  }
  if (serves && st.jobId !== undefined && st.state === 'RefreshFailed') {
    const failedJobs = st.run?.failedJobs ?? 1;
    if (failedJobs <= (r.spec.backoffLimit ?? 0)) return { kind: 'Retrying', failedJobs };
  }
  if (serves && (st.jobId !== undefined || stalled === 'SubmitLost')) return { kind: 'Settled' };
  if (st.jobId === undefined && st.run?.submittedAt !== undefined) {
    return { kind: 'InDoubt', run: { ...st.run, submittedAt: st.run.submittedAt }, serves };
  }
  return { kind: 'Starting', serves };
}

/** The current trigger's run has ended (or given up): nothing to call Milvus for until a new trigger. */
export function isSettled(r: ExternalCollectionRefresh, now: number): boolean {
  return phaseOf(r, now).kind === 'Settled';
}

/** Whether the resource holds its collection: a job of its own is active, or a submission is in doubt. */
export function holdsCollection(r: ExternalCollectionRefresh, now: number): boolean {
  const kind = phaseOf(r, now).kind;
  return kind === 'Following' || kind === 'InDoubt';
}
