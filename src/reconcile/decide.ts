/**
 * The reconciler's decision, as a pure function of the resource, what was observed in Milvus and the clock.
 *
 * Exactly one Milvus job per trigger (docs/design.md):
 *  1. Before calling RefreshExternalCollection the operator records its intent in status.run (submittedAt and
 *     baselineJobId: the highest job id of the collection just before), with optimistic concurrency. A
 *     reconcile working from a stale copy cannot record intent, so it never calls Milvus.
 *  2. A run with intent but no job id is "in doubt": the call may or may not have reached Milvus. The
 *     operator lists the collection's jobs and adopts the first job with an id above the baseline (Milvus
 *     allocates ids from one increasing allocator). Only when none appeared within the grace period (Milvus
 *     persists jobs asynchronously) does it call again.
 *  3. A job id that Milvus never reported and that is still unknown after the grace period was dropped by
 *     Milvus (milvus#49231): the run goes back to in-doubt, and rule 2 applies.
 */
import { type Situation, STALLED, conditionsFor, findCondition } from '../api/conditions.js';
import {
  type ExternalCollectionRefresh,
  type ExternalCollectionRefreshStatus,
  type JobRecord,
  REFRESH_REQUESTED_AT,
  type RunStatus,
  isTerminal,
} from '../api/v1alpha1.js';
import type { JobInfo, MilvusFailure } from './types.js';

/** Tunables of the decision. */
export interface Settings {
  /** How often active jobs are observed. */
  pollIntervalMs: number;
  /** How long a submitted job may stay invisible before it counts as not created. */
  submitGraceMs: number;
  /** How long Milvus may stay unreachable before the resource is Stalled. */
  unavailableStallMs: number;
  /** RefreshExternalCollection calls per run before giving up (each after the previous one left no job). */
  maxSubmitAttempts: number;
  /** Earlier jobs kept in status.history. */
  historyLimit: number;
}

/** Whether the Milvus connection could be assembled (Secrets read and valid). */
export type ConnectionState = { ok: true; address: string } | { ok: false; reason: string; message: string };

/** The job observer's latest view for this resource (one list of all jobs per endpoint per poll). */
export interface ObservedView {
  /** When the list that this view comes from was fetched (0: never). */
  fetchedAtMs: number;
  /** The watched job, when the list had it. */
  job?: JobInfo;
  /** When the watched job was first missing from a list (unset while it is listed). */
  missingSinceMs?: number;
  /** Listing fails: since when, and why. */
  error?: { failure: MilvusFailure; sinceMs: number };
}

/** Another resource of this operator that is refreshing the same collection. */
export interface Claim {
  owner: string;
  jobId?: string;
}

export interface DecideInput {
  now: number;
  resource: ExternalCollectionRefresh;
  settings: Settings;
  connection: ConnectionState;
  claim?: Claim;
  view?: ObservedView;
  /** The collection's jobs, listed on request (decision `listCollectionJobs`). */
  collectionJobs?: { jobs: JobInfo[] } | { failure: MilvusFailure };
  /** Since when calls to this resource's Milvus have been failing as unavailable (undefined: they are not). */
  unavailableSinceMs?: number;
}

/** What to keep observing for this resource: its own job, or a foreign job it waits for. */
export type Watch = { jobId: string } | undefined;

/** When to look again: after a delay, or with per-key exponential backoff. */
export type Requeue = { afterMs: number } | { backoff: true } | undefined;

/** The request to send when submitting. */
export interface RefreshRequest {
  collection: string;
  database: string;
  externalSource?: string;
  externalSpec?: string;
}

export type Decision =
  /** Call again with `collectionJobs`. */
  | { kind: 'listCollectionJobs' }
  /** Write `status` (the intent) with optimistic concurrency; only if that succeeds, send `request`. */
  | { kind: 'submit'; status: ExternalCollectionRefreshStatus; request: RefreshRequest }
  /** Write `status` if it differs; keep observing `watch`; `claim`: this resource holds the collection. */
  | { kind: 'update'; status: ExternalCollectionRefreshStatus; watch: Watch; claim: boolean; requeue: Requeue };

/** Outcome of the RefreshExternalCollection call after a `submit`. */
export type SubmitResult = { jobId: string } | { failure: MilvusFailure };

const iso = (ms: number): string => new Date(ms).toISOString();

/** The trigger the resource asks for now. */
export function desiredTrigger(r: ExternalCollectionRefresh): { generation: number; requestedAt: string } {
  return { generation: r.metadata.generation ?? 1, requestedAt: r.metadata.annotations?.[REFRESH_REQUESTED_AT] ?? '' };
}

function runServes(run: RunStatus | undefined, r: ExternalCollectionRefresh): boolean {
  const d = desiredTrigger(r);
  return run !== undefined && run.generation === d.generation && run.requestedAt === d.requestedAt;
}

function triggerWords(r: ExternalCollectionRefresh): string {
  const run = r.status?.run;
  const d = desiredTrigger(r);
  if (!run) return 'created';
  if (run.generation !== d.generation) return `spec changed (generation ${d.generation})`;
  return `refresh requested (${REFRESH_REQUESTED_AT}=${d.requestedAt})`;
}

/**
 * The status with a Milvus job's fields as Milvus reports them; when the job has ended, also the run's
 * bookkeeping: the last success time and the handled refresh-requested-at value.
 */
function withJob(st: ExternalCollectionRefreshStatus, job: JobInfo): ExternalCollectionRefreshStatus {
  const next: ExternalCollectionRefreshStatus = {
    ...st,
    jobId: job.jobId,
    collectionName: job.collectionName,
    state: job.state,
    progress: job.progress,
    reason: job.reason,
    externalSource: job.externalSource,
    externalSpec: job.externalSpec,
    startTime: job.startTimeMs > 0 ? iso(job.startTimeMs) : undefined,
    endTime: job.endTimeMs > 0 ? iso(job.endTimeMs) : undefined,
  };
  if (!isTerminal(job.state)) return next;
  if (job.state === 'RefreshCompleted' && job.endTimeMs > 0) next.lastSuccessfulTime = iso(job.endTimeMs);
  if (next.run?.requestedAt) next.lastHandledRequestedAt = next.run.requestedAt;
  return next;
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

function withoutJob(st: ExternalCollectionRefreshStatus): ExternalCollectionRefreshStatus {
  const copy = { ...st };
  for (const k of JOB_KEYS) delete copy[k];
  return copy;
}

function stalledReason(st: ExternalCollectionRefreshStatus): string | undefined {
  const c = findCondition(st.conditions, STALLED);
  return c?.status === 'True' ? c.reason : undefined;
}

/** Describes a job for humans. */
function jobWords(job: { jobId?: string; state?: string; progress?: number; reason?: string }): string {
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

function jobSituation(st: ExternalCollectionRefreshStatus): Situation {
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

/** Situation for a failed Milvus call. */
function failureSituation(
  failure: MilvusFailure,
  what: string,
  address: string,
  sinceMs: number,
  now: number,
  settings: Settings,
): Situation {
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
        message: `Milvus at ${address} refused the credentials while ${what}: ${failure.message}`,
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
        message: `Milvus failed while ${what}: ${failure.message}. Retrying with backoff.`,
      };
  }
}

function compareIds(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function maxJobId(jobs: JobInfo[]): string {
  return jobs.reduce((max, j) => (compareIds(j.jobId, max) > 0 ? j.jobId : max), '0');
}

/** The current trigger's run has ended (or given up): nothing to call Milvus for until a new trigger. */
export function isSettled(r: ExternalCollectionRefresh): boolean {
  const st = r.status ?? {};
  if (!runServes(st.run, r)) return false;
  const stalled = stalledReason(st);
  if (stalled === 'SubmitLost') return true;
  return st.jobId !== undefined && (isTerminal(st.state) || stalled === 'JobLost');
}

/** Builds `update` decisions whose status reflects `generation`, with the three conditions set for a situation. */
function updater(generation: number, nowIso: string) {
  return (
    status: ExternalCollectionRefreshStatus,
    situation: Situation,
    watch: Watch,
    claim: boolean,
    requeue: Requeue,
  ): Decision => ({
    kind: 'update',
    status: {
      ...status,
      observedGeneration: generation,
      conditions: conditionsFor(status.conditions ?? [], situation, generation, nowIso),
    },
    watch,
    claim,
    requeue,
  });
}

/** Decides what one reconcile does next. */
export function decide(input: DecideInput): Decision {
  const { resource: r, now, settings } = input;
  const generation = desiredTrigger(r).generation;
  const st: ExternalCollectionRefreshStatus = r.status ?? {};
  const nowIso = iso(now);
  const address = input.connection.ok ? input.connection.address : r.spec.milvus.address;

  const update = updater(generation, nowIso);

  const lost = stalledReason(st) === 'JobLost';
  const tracking = st.jobId !== undefined && !isTerminal(st.state) && !lost;
  const serves = runServes(st.run, r);
  const pendingTrigger = !serves ? ` A new refresh (${triggerWords(r)}) starts when it ends.` : '';
  const startsNow = ` A new refresh (${triggerWords(r)}) starts now.`;

  const inDoubt = st.run?.submittedAt !== undefined && st.jobId === undefined;
  if (!input.connection.ok) {
    // Without the Secret nothing can be called; keep what is known (and the collection, if a job may be
    // running or in doubt) and retry with backoff.
    return update(
      st,
      { kind: 'stalled', reason: input.connection.reason, message: input.connection.message },
      tracking ? { jobId: st.jobId! } : undefined,
      tracking || inDoubt,
      {
        backoff: true,
      },
    );
  }

  /** The situation once a job ended: its own outcome, or, when a newer trigger waits, "queued". */
  const ended = (next: ExternalCollectionRefreshStatus): Situation => {
    const s = jobSituation(next);
    if (serves) return s;
    // The ended job answered an older trigger: conditions at this generation must not claim success or failure.
    return { kind: 'progressing', reason: 'RefreshQueued', message: `${s.message}.${startsNow}` };
  };

  // 1. A job is running: follow it through the observer.
  if (tracking) {
    const view = input.view;
    const watch: Watch = { jobId: st.jobId! };
    const job = view?.job?.jobId === st.jobId ? view?.job : undefined;
    if (job) {
      const next = withJob(st, job);
      if (isTerminal(job.state)) {
        // A trigger that arrived meanwhile starts right away.
        return update(next, ended(next), undefined, false, serves ? undefined : { afterMs: 0 });
      }
      const s = jobSituation(next);
      return update(next, { ...s, message: s.message + pendingTrigger }, watch, true, undefined);
    }
    if (view?.error) {
      const s = failureSituation(view.error.failure, 'observing the job', address, view.error.sinceMs, now, settings);
      const known = st.state ? ` Last known: ${jobWords(st)}.` : '';
      return update(st, { ...s, message: s.message + known }, watch, true, undefined);
    }
    // Missing from one list proves little (a DataCoord fail-over, the asynchronous persistence): the job must
    // stay missing for the grace period, counted from the submission and from its first absence.
    const submittedAt = st.run?.submittedAt ? Date.parse(st.run.submittedAt) : 0;
    const conclusive =
      view?.missingSinceMs !== undefined &&
      view.fetchedAtMs >= submittedAt + settings.submitGraceMs &&
      view.fetchedAtMs - view.missingSinceMs >= settings.submitGraceMs;
    if (!conclusive) {
      const s = jobSituation(st);
      return update(st, { ...s, message: s.message + pendingTrigger }, watch, true, {
        afterMs: settings.submitGraceMs,
      });
    }
    if (st.state === undefined) {
      // Accepted but never persisted: Milvus dropped it (milvus#49231). The run is in doubt again.
      return update(
        withoutJob(st),
        {
          kind: 'progressing',
          reason: 'JobDropped',
          message: `Milvus accepted refresh job ${st.jobId} but never reported it; it was dropped. Checking the collection's jobs before submitting again.`,
        },
        undefined,
        true,
        { afterMs: 0 },
      );
    }
    const lostMessage = `Milvus no longer reports refresh job ${st.jobId} (last seen ${st.state} at ${st.progress ?? 0}%); it may have been lost by a Milvus restart.`;
    if (!serves) {
      // JobLost stays the marker (Stalled) only for the trigger it served; a newer trigger just goes on.
      return update(
        st,
        { kind: 'progressing', reason: 'RefreshQueued', message: `${lostMessage}${startsNow}` },
        undefined,
        false,
        {
          afterMs: 0,
        },
      );
    }
    return update(
      st,
      {
        kind: 'stalled',
        reason: 'JobLost',
        message: `${lostMessage} Set ${REFRESH_REQUESTED_AT} to a new value to refresh again.`,
      },
      undefined,
      false,
      undefined,
    );
  }

  // 2. The current trigger's run has ended: nothing to do, no Milvus call.
  if (serves && st.jobId !== undefined) {
    const s = lost
      ? { kind: 'stalled' as const, reason: 'JobLost', message: findCondition(st.conditions, STALLED)!.message }
      : jobSituation(st);
    return update(st, s, undefined, false, undefined);
  }
  if (serves && stalledReason(st) === 'SubmitLost') {
    return update(
      st,
      { kind: 'stalled', reason: 'SubmitLost', message: findCondition(st.conditions, STALLED)!.message },
      undefined,
      false,
      undefined,
    );
  }

  // From here a job must be found or started: the collection's jobs are needed (one list call).
  if (!inDoubt && input.claim) {
    const on = input.claim.jobId ? ` (job ${input.claim.jobId})` : '';
    return update(
      st,
      {
        kind: 'progressing',
        reason: 'WaitingForResource',
        message: `Waiting for ${input.claim.owner}, which is refreshing collection ${r.spec.collectionName}${on}, to finish`,
      },
      undefined,
      false,
      { afterMs: settings.pollIntervalMs },
    );
  }
  // Waiting for a foreign job: the observer follows it; list again only once it has ended.
  const foreign = input.view?.error ? undefined : input.view?.job;
  if (!inDoubt && foreign && !isTerminal(foreign.state)) return waitForActive(foreign);
  if (!input.collectionJobs) return { kind: 'listCollectionJobs' };
  if ('failure' in input.collectionJobs) {
    const failure = input.collectionJobs.failure;
    return update(
      st,
      failureSituation(
        failure,
        "listing the collection's jobs",
        address,
        input.unavailableSinceMs ?? now,
        now,
        settings,
      ),
      undefined,
      inDoubt,
      {
        backoff: true,
      },
    );
  }
  const jobs = input.collectionJobs.jobs;
  const active = jobs.find((j) => !isTerminal(j.state));

  if (inDoubt) {
    const run = st.run!;
    const baseline = run.baselineJobId ?? '0';
    const ours = jobs
      .filter((j) => compareIds(j.jobId, baseline) > 0 && j.jobId !== input.claim?.jobId)
      .sort((a, b) => compareIds(a.jobId, b.jobId))[0];
    if (ours) {
      const next = withJob(st, ours);
      const s = isTerminal(ours.state) ? ended(next) : jobSituation(next);
      const adopted = {
        ...s,
        reason: s.kind === 'progressing' && !isTerminal(ours.state) ? 'RefreshAdopted' : s.reason,
        message: `Adopted: ${s.message}`,
      };
      return update(
        next,
        adopted,
        isTerminal(ours.state) ? undefined : { jobId: ours.jobId },
        !isTerminal(ours.state),
        serves ? undefined : { afterMs: 0 },
      );
    }
    if (active) return waitForActive(active, true);
    const graceEnds = Date.parse(run.submittedAt!) + settings.submitGraceMs;
    if (now < graceEnds) {
      return update(
        st,
        {
          kind: 'progressing',
          reason: 'Submitting',
          message: `A refresh was requested from Milvus at ${run.submittedAt}; waiting until ${iso(graceEnds)} for its job to appear before trying again`,
        },
        undefined,
        true,
        { afterMs: graceEnds - now },
      );
    }
    if (!serves) {
      // The superseded trigger's call left no job: start the current trigger instead.
      return submit(jobs, true);
    }
    if ((run.attempts ?? 0) >= settings.maxSubmitAttempts) {
      return update(
        st,
        {
          kind: 'stalled',
          reason: 'SubmitLost',
          message: `Milvus was asked ${run.attempts} times to refresh collection ${r.spec.collectionName} and no job appeared. Set ${REFRESH_REQUESTED_AT} to a new value to try again.`,
        },
        undefined,
        false,
        undefined,
      );
    }
    return submit(jobs, false);
  }

  if (active) return waitForActive(active);
  return submit(jobs, !serves);

  function waitForActive(job: JobInfo, claim = false): Decision {
    return update(
      st,
      {
        kind: 'progressing',
        reason: 'WaitingForActiveJob',
        message: `Waiting for Milvus refresh job ${job.jobId} on collection ${r.spec.collectionName}, which this resource did not start, to finish (${job.state}, ${job.progress}%)`,
      },
      { jobId: job.jobId },
      claim,
      { afterMs: settings.pollIntervalMs * 4 },
    );
  }

  function submit(jobs: JobInfo[], newRun: boolean): Decision {
    const d = desiredTrigger(r);
    let base = newRun ? withoutJob(st) : { ...st };
    if (newRun && st.jobId) {
      const record: JobRecord = {
        jobId: st.jobId,
        state: st.state,
        progress: st.progress,
        reason: st.reason,
        startTime: st.startTime,
        endTime: st.endTime,
        trigger: st.run?.trigger,
      };
      base = { ...base, history: [dropUndefined(record), ...(st.history ?? [])].slice(0, settings.historyLimit) };
    }
    const run: RunStatus = {
      generation: d.generation,
      requestedAt: d.requestedAt,
      trigger: newRun ? triggerWords(r) : st.run!.trigger,
      submittedAt: nowIso,
      baselineJobId: maxJobId(jobs),
      attempts: (newRun ? 0 : (st.run?.attempts ?? 0)) + 1,
    };
    const status: ExternalCollectionRefreshStatus = {
      ...base,
      run,
      observedGeneration: generation,
      conditions: conditionsFor(
        base.conditions ?? [],
        {
          kind: 'progressing',
          reason: 'Submitting',
          message: `Starting a Milvus refresh of collection ${r.spec.collectionName} (${run.trigger})`,
        },
        generation,
        nowIso,
      ),
    };
    return { kind: 'submit', status, request: requestFor(r) };
  }
}

/** The RefreshExternalCollection request for the resource's spec. */
export function requestFor(r: ExternalCollectionRefresh): RefreshRequest {
  const spec = r.spec;
  return {
    collection: spec.collectionName,
    database: spec.milvus.database ?? 'default',
    ...(spec.externalSource !== undefined && spec.externalSpec !== undefined
      ? { externalSource: spec.externalSource, externalSpec: JSON.stringify(spec.externalSpec) }
      : {}),
  };
}

/** The status after the RefreshExternalCollection call that followed a `submit` (whose status is `r.status`). */
export function afterSubmit(
  r: ExternalCollectionRefresh,
  result: SubmitResult,
  now: number,
  settings: Settings,
  address: string,
  unavailableSinceMs = now,
): Decision {
  const st = r.status ?? {};
  const generation = desiredTrigger(r).generation;
  const nowIso = iso(now);
  const done = updater(generation, nowIso);
  if ('jobId' in result) {
    const status = { ...st, jobId: result.jobId, collectionName: r.spec.collectionName };
    return done(status, jobSituation(status), { jobId: result.jobId }, true, { afterMs: settings.submitGraceMs });
  }
  const failure = result.failure;
  if (failure.kind === 'duplicate') {
    // Another job is active, perhaps ours from an earlier attempt: the in-doubt rules decide.
    return done(
      st,
      {
        kind: 'progressing',
        reason: 'Submitting',
        message: `Milvus reports a refresh already in progress: ${failure.message}`,
      },
      undefined,
      true,
      {
        afterMs: 0,
      },
    );
  }
  const s = failureSituation(failure, 'starting the refresh', address, unavailableSinceMs, now, settings);
  if (failure.kind === 'unavailable' || failure.kind === 'other') {
    // The call may have reached Milvus: stay in doubt.
    return done(st, s, undefined, true, { backoff: true });
  }
  // Milvus refused: certainly no job. The run stays, without intent; the refused call is not an attempt
  // that could have left a job, so it does not count towards --max-submit-attempts.
  const run = st.run ? { ...st.run, attempts: Math.max(0, (st.run.attempts ?? 1) - 1) } : undefined;
  if (run) delete run.submittedAt;
  return done({ ...st, ...(run ? { run } : {}) }, s, undefined, false, { backoff: true });
}

function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
