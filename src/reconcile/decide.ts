/**
 * The reconciler's decision, as a pure function of the resource, what was observed in Milvus and the clock.
 *
 * `decide` finds the run's phase (phase.ts) and hands it to one function per phase. Exactly one Milvus job
 * per trigger (docs/design.md):
 *  1. Before calling RefreshExternalCollection the operator records its intent in status.run (submittedAt and
 *     baselineJobId: the highest job id of the collection just before), with optimistic concurrency. A
 *     reconcile working from a stale copy cannot record intent, so it never calls Milvus.
 *  2. A run with intent but no job id is in doubt: the call may or may not have reached Milvus. The
 *     operator lists the collection's jobs and adopts the first job with an id above the baseline (Milvus
 *     allocates ids from one increasing allocator). Only when none appeared within the grace period (Milvus
 *     persists jobs asynchronously) does it call again.
 *  3. A job id that Milvus never reported and that is still unknown after the grace period was dropped by
 *     Milvus (milvus#49231): the run goes back to in doubt, and rule 2 applies.
 */
import { type Situation, STALLED, conditionsFor, findCondition } from '../api/conditions.js';
import {
  type ExternalCollectionRefresh,
  type ExternalCollectionRefreshStatus,
  REFRESH_REQUESTED_AT,
  type RunStatus,
  isTerminal,
} from '../api/v1alpha1.js';
import {
  compareIds,
  failureSituation,
  historyRecord,
  iso,
  jobSituation,
  jobWords,
  maxJobId,
  withJob,
  withoutJob,
} from './messages.js';
import type {
  DecideInput,
  Decision,
  RefreshRequest,
  Requeue,
  Settings,
  SubmitResult,
  UpdateDecision,
  Watch,
} from './model.js';
import { type Phase, phaseOf } from './phase.js';
import { desiredTrigger, triggerWords } from './trigger.js';
import type { JobInfo } from './types.js';

/** Decides what one reconcile does next. */
export function decide(input: DecideInput): Decision {
  const ctx = contextOf(input);
  const phase = phaseOf(input.resource);
  if (!input.connection.ok) return blocked(ctx, phase, input.connection);
  switch (phase.kind) {
    case 'Following':
      return follow(ctx, phase);
    case 'Settled':
      return settled(ctx);
    case 'InDoubt':
      return resolveDoubt(ctx, phase);
    case 'Starting':
      return start(ctx, phase);
  }
}

/** What every phase function works with. */
interface Context {
  input: DecideInput;
  r: ExternalCollectionRefresh;
  st: ExternalCollectionRefreshStatus;
  now: number;
  settings: Settings;
  /** Address for messages. */
  address: string;
  /** Whether the stored run serves the trigger the resource asks for now. */
  serves: boolean;
  update: (u: UpdateArgs) => UpdateDecision;
}

/** An `update` decision, by name. */
interface UpdateArgs {
  status: ExternalCollectionRefreshStatus;
  situation: Situation;
  watch?: Watch;
  holdsCollection: boolean;
  requeue?: Requeue;
}

function contextOf(input: DecideInput): Context {
  const r = input.resource;
  const st = r.status ?? {};
  const phase = phaseOf(r);
  return {
    input,
    r,
    st,
    now: input.now,
    settings: input.settings,
    address: input.connection.ok ? input.connection.address : r.spec.milvus.address,
    serves: phase.kind === 'Settled' || phase.serves,
    update: updater(desiredTrigger(r).generation, iso(input.now)),
  };
}

/** Builds `update` decisions whose status reflects `generation`, with the three conditions set for a situation. */
function updater(generation: number, nowIso: string) {
  return (u: UpdateArgs): UpdateDecision => ({
    kind: 'update',
    status: {
      ...u.status,
      observedGeneration: generation,
      conditions: conditionsFor(u.status.conditions ?? [], u.situation, generation, nowIso),
    },
    watch: u.watch,
    holdsCollection: u.holdsCollection,
    requeue: u.requeue,
  });
}

/** " A new refresh (...) starts when it ends." while a newer trigger waits behind the current job. */
function pendingTriggerWords(ctx: Context): string {
  return ctx.serves ? '' : ` A new refresh (${triggerWords(ctx.r)}) starts when it ends.`;
}

function startsNowWords(ctx: Context): string {
  return ` A new refresh (${triggerWords(ctx.r)}) starts now.`;
}

/**
 * The Milvus connection cannot be assembled (a Secret is missing or invalid). Ensures: nothing is called;
 * what is known is kept, and the collection stays held if a job may be running or a submission is in doubt.
 */
function blocked(ctx: Context, phase: Phase, connection: Extract<DecideInput['connection'], { ok: false }>): Decision {
  const following = phase.kind === 'Following';
  return ctx.update({
    status: ctx.st,
    situation: { kind: 'stalled', reason: connection.reason, message: connection.message },
    watch: following ? { jobId: phase.jobId } : undefined,
    holdsCollection: following || phase.kind === 'InDoubt',
    requeue: { backoff: true },
  });
}

/** The situation once a job ended: its own outcome, or, when a newer trigger waits, "queued". */
function endedSituation(ctx: Context, next: ExternalCollectionRefreshStatus): Situation {
  const s = jobSituation(next);
  if (ctx.serves) return s;
  // The ended job answered an older trigger: conditions at this generation must not claim success or failure.
  return { kind: 'progressing', reason: 'RefreshQueued', message: `${s.message}.${startsNowWords(ctx)}` };
}

/**
 * A job of this resource is active. Ensures: status mirrors the observer's latest view of the job; when it
 * ends, a waiting trigger starts at once; a job missing from Milvus for the grace period is declared dropped
 * (never reported: back to doubt) or lost (reported before: Stalled, no silent resubmission).
 */
function follow(ctx: Context, phase: Extract<Phase, { kind: 'Following' }>): Decision {
  const { st, settings } = ctx;
  const view = ctx.input.view;
  const watch: Watch = { jobId: phase.jobId };
  const job = view?.job?.jobId === phase.jobId ? view.job : undefined;
  if (job) {
    const next = withJob(st, job);
    if (isTerminal(job.state)) {
      return ctx.update({
        status: next,
        situation: endedSituation(ctx, next),
        holdsCollection: false,
        requeue: ctx.serves ? undefined : { afterMs: 0 },
      });
    }
    const s = jobSituation(next);
    return ctx.update({
      status: next,
      situation: { ...s, message: s.message + pendingTriggerWords(ctx) },
      watch,
      holdsCollection: true,
    });
  }
  if (view?.error) {
    const s = failureSituation({
      failure: view.error.failure,
      activity: 'observing the job',
      address: ctx.address,
      unavailableSinceMs: view.error.sinceMs,
      now: ctx.now,
      settings,
    });
    const known = st.state ? ` Last known: ${jobWords(st)}.` : '';
    return ctx.update({ status: st, situation: { ...s, message: s.message + known }, watch, holdsCollection: true });
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
    return ctx.update({
      status: st,
      situation: { ...s, message: s.message + pendingTriggerWords(ctx) },
      watch,
      holdsCollection: true,
      requeue: { afterMs: settings.submitGraceMs },
    });
  }
  if (st.state === undefined) {
    // Accepted but never persisted: Milvus dropped it (milvus#49231). The run is in doubt again.
    return ctx.update({
      status: withoutJob(st),
      situation: {
        kind: 'progressing',
        reason: 'JobDropped',
        message: `Milvus accepted refresh job ${phase.jobId} but never reported it; it was dropped. Checking the collection's jobs before submitting again.`,
      },
      holdsCollection: true,
      requeue: { afterMs: 0 },
    });
  }
  const lost = `Milvus no longer reports refresh job ${phase.jobId} (last seen ${st.state} at ${st.progress ?? 0}%); it may have been lost by a Milvus restart.`;
  if (!ctx.serves) {
    // JobLost stays the marker (Stalled) only for the trigger it served; a newer trigger just goes on.
    return ctx.update({
      status: st,
      situation: { kind: 'progressing', reason: 'RefreshQueued', message: `${lost}${startsNowWords(ctx)}` },
      holdsCollection: false,
      requeue: { afterMs: 0 },
    });
  }
  return ctx.update({
    status: st,
    situation: {
      kind: 'stalled',
      reason: 'JobLost',
      message: `${lost} Set ${REFRESH_REQUESTED_AT} to a new value to refresh again.`,
    },
    holdsCollection: false,
  });
}

/** The current trigger's run is over. Ensures: no Milvus call; the conditions restate the outcome. */
function settled(ctx: Context): Decision {
  const stalled = findCondition(ctx.st.conditions, STALLED);
  const situation: Situation =
    stalled?.status === 'True' && (stalled.reason === 'JobLost' || stalled.reason === 'SubmitLost')
      ? { kind: 'stalled', reason: stalled.reason, message: stalled.message }
      : jobSituation(ctx.st);
  return ctx.update({ status: ctx.st, situation, holdsCollection: false });
}

/**
 * Milvus may or may not have created a job for the recorded intent. Ensures: a job above the baseline is
 * adopted; another active job is waited for; nothing is submitted again before the grace period has passed,
 * nor more than --max-submit-attempts times for one trigger.
 */
function resolveDoubt(ctx: Context, phase: Extract<Phase, { kind: 'InDoubt' }>): Decision {
  const { st, settings, now, input } = ctx;
  const listed = collectionJobs(ctx, true);
  if (!('jobs' in listed)) return listed;
  const jobs = listed.jobs;
  const run = phase.run;
  const baseline = run.baselineJobId ?? '0';
  const ours = jobs
    .filter((j) => compareIds(j.jobId, baseline) > 0 && j.jobId !== input.claim?.jobId)
    .sort((a, b) => compareIds(a.jobId, b.jobId))[0];
  if (ours) {
    const next = withJob(st, ours);
    const ended = isTerminal(ours.state);
    const s = ended ? endedSituation(ctx, next) : jobSituation(next);
    return ctx.update({
      status: next,
      situation: {
        ...s,
        reason: s.kind === 'progressing' && !ended ? 'RefreshAdopted' : s.reason,
        message: `Adopted: ${s.message}`,
      },
      watch: ended ? undefined : { jobId: ours.jobId },
      holdsCollection: !ended,
      requeue: ctx.serves ? undefined : { afterMs: 0 },
    });
  }
  const active = jobs.find((j) => !isTerminal(j.state));
  if (active) return waitForActiveJob(ctx, active, true);
  const graceEnds = Date.parse(run.submittedAt) + settings.submitGraceMs;
  if (now < graceEnds) {
    return ctx.update({
      status: st,
      situation: {
        kind: 'progressing',
        reason: 'Submitting',
        message: `A refresh was requested from Milvus at ${run.submittedAt}; waiting until ${iso(graceEnds)} for its job to appear before trying again`,
      },
      holdsCollection: true,
      requeue: { afterMs: graceEnds - now },
    });
  }
  // The superseded trigger's call left no job: start the current trigger instead.
  if (!phase.serves) return submit(ctx, jobs, true);
  if ((run.attempts ?? 0) >= settings.maxSubmitAttempts) {
    return ctx.update({
      status: st,
      situation: {
        kind: 'stalled',
        reason: 'SubmitLost',
        message: `Milvus was asked ${run.attempts} times to refresh collection ${ctx.r.spec.collectionName} and no job appeared. Set ${REFRESH_REQUESTED_AT} to a new value to try again.`,
      },
      holdsCollection: false,
    });
  }
  return submit(ctx, jobs, false);
}

/**
 * The current trigger needs a job. Ensures: never beside another of our resources on the collection, never
 * beside an active foreign job; otherwise one submission, with the highest listed job id as baseline.
 */
function start(ctx: Context, phase: Extract<Phase, { kind: 'Starting' }>): Decision {
  const { input, r, settings } = ctx;
  if (input.claim) {
    const on = input.claim.jobId ? ` (job ${input.claim.jobId})` : '';
    return ctx.update({
      status: ctx.st,
      situation: {
        kind: 'progressing',
        reason: 'WaitingForResource',
        message: `Waiting for ${input.claim.owner}, which is refreshing collection ${r.spec.collectionName}${on}, to finish`,
      },
      holdsCollection: false,
      requeue: { afterMs: settings.pollIntervalMs },
    });
  }
  // Waiting for a foreign job: the observer follows it; list again only once it has ended.
  const foreign = input.view?.error ? undefined : input.view?.job;
  if (foreign && !isTerminal(foreign.state)) return waitForActiveJob(ctx, foreign, false);
  const listed = collectionJobs(ctx, false);
  if (!('jobs' in listed)) return listed;
  const active = listed.jobs.find((j) => !isTerminal(j.state));
  if (active) return waitForActiveJob(ctx, active, false);
  return submit(ctx, listed.jobs, !phase.serves);
}

/** The collection's jobs, or the decision to list them first, or the decision after listing failed. */
function collectionJobs(ctx: Context, holdsCollection: boolean): { jobs: JobInfo[] } | Decision {
  const listed = ctx.input.collectionJobs;
  if (!listed) return { kind: 'listCollectionJobs' };
  if ('jobs' in listed) return listed;
  return ctx.update({
    status: ctx.st,
    situation: failureSituation({
      failure: listed.failure,
      activity: "listing the collection's jobs",
      address: ctx.address,
      unavailableSinceMs: ctx.input.unavailableSinceMs ?? ctx.now,
      now: ctx.now,
      settings: ctx.settings,
    }),
    holdsCollection,
    requeue: { backoff: true },
  });
}

/** Waits for an active job this resource did not start, following it through the observer. */
function waitForActiveJob(ctx: Context, job: JobInfo, holdsCollection: boolean): Decision {
  return ctx.update({
    status: ctx.st,
    situation: {
      kind: 'progressing',
      reason: 'WaitingForActiveJob',
      message: `Waiting for Milvus refresh job ${job.jobId} on collection ${ctx.r.spec.collectionName}, which this resource did not start, to finish (${job.state}, ${job.progress}%)`,
    },
    watch: { jobId: job.jobId },
    holdsCollection,
    requeue: { afterMs: ctx.settings.foreignJobRecheckMs },
  });
}

/** The intent for a (new or repeated) submission, and the request to send once it is recorded. */
function submit(ctx: Context, jobs: JobInfo[], newRun: boolean): Decision {
  const { r, st, settings } = ctx;
  const d = desiredTrigger(r);
  const nowIso = iso(ctx.now);
  let base = newRun ? withoutJob(st) : { ...st };
  if (newRun && st.jobId) {
    base = {
      ...base,
      history: [historyRecord({ ...st, jobId: st.jobId }), ...(st.history ?? [])].slice(0, settings.historyLimit),
    };
  }
  const run: RunStatus = {
    generation: d.generation,
    requestedAt: d.requestedAt,
    trigger: newRun ? triggerWords(r) : (st.run?.trigger ?? triggerWords(r)),
    submittedAt: nowIso,
    baselineJobId: maxJobId(jobs),
    attempts: (newRun ? 0 : (st.run?.attempts ?? 0)) + 1,
  };
  const status: ExternalCollectionRefreshStatus = {
    ...base,
    run,
    observedGeneration: d.generation,
    conditions: conditionsFor(
      base.conditions ?? [],
      {
        kind: 'progressing',
        reason: 'Submitting',
        message: `Starting a Milvus refresh of collection ${r.spec.collectionName} (${run.trigger})`,
      },
      d.generation,
      nowIso,
    ),
  };
  return { kind: 'submit', status, request: requestFor(r) };
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

/** The status after the RefreshExternalCollection call that followed a `submit` (whose status is `resource.status`). */
export function afterSubmit(args: {
  resource: ExternalCollectionRefresh;
  result: SubmitResult;
  now: number;
  settings: Settings;
  address: string;
  /** Since when calls to this Milvus have been failing as unavailable (default: now). */
  unavailableSinceMs?: number;
}): UpdateDecision {
  const { resource: r, result, now, settings, address } = args;
  const st = r.status ?? {};
  const update = updater(desiredTrigger(r).generation, iso(now));
  if ('jobId' in result) {
    const status = { ...st, jobId: result.jobId, collectionName: r.spec.collectionName };
    return update({
      status,
      situation: jobSituation(status),
      watch: { jobId: result.jobId },
      holdsCollection: true,
      requeue: { afterMs: settings.submitGraceMs },
    });
  }
  const failure = result.failure;
  if (failure.kind === 'duplicate') {
    // Another job is active, perhaps ours from an earlier attempt: the in-doubt rules decide.
    return update({
      status: st,
      situation: {
        kind: 'progressing',
        reason: 'Submitting',
        message: `Milvus reports a refresh already in progress: ${failure.message}`,
      },
      holdsCollection: true,
      requeue: { afterMs: 0 },
    });
  }
  const situation = failureSituation({
    failure,
    activity: 'starting the refresh',
    address,
    unavailableSinceMs: args.unavailableSinceMs ?? now,
    now,
    settings,
  });
  if (failure.kind === 'unavailable' || failure.kind === 'other') {
    // The call may have reached Milvus: stay in doubt.
    return update({ status: st, situation, holdsCollection: true, requeue: { backoff: true } });
  }
  // Milvus refused: certainly no job. The run stays, without intent; the refused call is not an attempt
  // that could have left a job, so it does not count towards --max-submit-attempts.
  const run = st.run ? { ...st.run, attempts: Math.max(0, (st.run.attempts ?? 1) - 1) } : undefined;
  if (run) delete run.submittedAt;
  return update({
    status: { ...st, ...(run ? { run } : {}) },
    situation,
    holdsCollection: false,
    requeue: { backoff: true },
  });
}
