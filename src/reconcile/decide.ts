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
 *
 * Around the phases: spec.schedule's fires are triggers (trigger.ts), spec.suspend holds every new
 * submission, spec.backoffLimit resubmits after RefreshFailed (phase Retrying), spec.activeDeadlineSeconds
 * stops following a job that runs too long, and every status carries the schedule's bookkeeping.
 */
import { READY, type Situation, STALLED, conditionsFor, findCondition } from '../api/conditions.js';
import type { Reason } from '../api/reasons.js';
import {
  type ExternalCollectionRefresh,
  type ExternalCollectionRefreshStatus,
  REFRESH_REQUESTED_AT,
  type RunStatus,
  isTerminal,
} from '../api/v1alpha1.js';
import { backoffMs } from '../util/backoff.js';
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
  EventNote,
  RefreshRequest,
  Requeue,
  Settings,
  SubmitResult,
  UpdateDecision,
  Watch,
} from './model.js';
import { type Phase, deadlineOf, phaseOf } from './phase.js';
import { nextFire, parseSchedule } from './schedule.js';
import { desiredTrigger, dueFire, runMatchesSpec, triggerWords } from './trigger.js';
import type { JobInfo } from './types.js';

/** Decides what one reconcile does next. */
export function decide(input: DecideInput): Decision {
  const phase = phaseOf(input.resource, input.now);
  const ctx = contextOf(input, phase);
  const { schedule, timeZone } = input.resource.spec;
  const parsed = schedule ? parseSchedule(schedule, timeZone) : undefined;
  if (parsed && !parsed.ok)
    return blocked(ctx, phase, { reason: 'InvalidSchedule', message: parsed.message }, undefined);
  if (!input.connection.ok) return blocked(ctx, phase, input.connection, { backoff: true });
  switch (phase.kind) {
    case 'Following':
      return follow(ctx, phase);
    case 'Settled':
      return settled(ctx);
    case 'Retrying':
      return retry(ctx, phase);
    case 'InDoubt':
      return resolveDoubt(ctx, phase);
    case 'Starting':
      return start(ctx, phase);
  }
}

/** Stalled reasons that end a run without a job outcome to restate. */
const GAVE_UP = new Set<string>(['JobLost', 'SubmitLost', 'DeadlineExceeded']);

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
  events?: EventNote[];
}

function contextOf(input: DecideInput, phase: Phase): Context {
  const r = input.resource;
  const st = r.status ?? {};
  return {
    input,
    r,
    st,
    now: input.now,
    settings: input.settings,
    address: input.connection.ok ? input.connection.address : r.spec.milvus.address,
    serves: phase.kind === 'Settled' || phase.kind === 'Retrying' || phase.serves,
    update: updater(r, input.now, input.settings),
  };
}

/**
 * Builds `update` decisions: the status reflects the current generation, carries the three conditions for
 * the situation and the schedule's bookkeeping, and the resource is looked at again by the next fire.
 */
function updater(r: ExternalCollectionRefresh, now: number, settings: Settings) {
  const generation = r.metadata.generation ?? 1;
  return (u: UpdateArgs): UpdateDecision => {
    const status = withSchedule(u.status, r, now);
    const limit = r.spec.historyLimit ?? settings.historyLimit;
    if (status.history && status.history.length > limit) status.history = status.history.slice(0, limit);
    return {
      kind: 'update',
      status: {
        ...status,
        observedGeneration: generation,
        conditions: conditionsFor(status.conditions ?? [], u.situation, generation, iso(now)),
      },
      watch: u.watch,
      holdsCollection: u.holdsCollection,
      requeue: untilNextFire(u.requeue, status, now),
      ...(u.events?.length ? { events: u.events } : {}),
    };
  };
}

/**
 * The schedule's bookkeeping in a status: the cursor (fires at or before `consumedUntil` are consumed; a new
 * or changed schedule starts counting now, so it starts no run by itself) and the next fire time.
 */
function withSchedule(
  st: ExternalCollectionRefreshStatus,
  r: ExternalCollectionRefresh,
  now: number,
): ExternalCollectionRefreshStatus {
  const { schedule, timeZone = 'UTC', suspend } = r.spec;
  const next = { ...st };
  const parsed = schedule ? parseSchedule(schedule, timeZone) : undefined;
  if (!schedule || !parsed?.ok) {
    delete next.scheduleCursor;
    delete next.nextScheduleTime;
    return next;
  }
  const cursor = st.scheduleCursor;
  if (!cursor || cursor.schedule !== schedule || cursor.timeZone !== timeZone) {
    next.scheduleCursor = { schedule, timeZone, consumedUntil: iso(now) };
  }
  const fire = suspend ? undefined : nextFire(parsed.cron, now);
  if (fire === undefined) delete next.nextScheduleTime;
  else next.nextScheduleTime = iso(fire);
  return next;
}

/** A resource with a schedule is looked at again when it next fires, at the latest. */
function untilNextFire(requeue: Requeue, st: ExternalCollectionRefreshStatus, now: number): Requeue {
  if (!st.nextScheduleTime || (requeue && 'backoff' in requeue)) return requeue;
  const untilFire = Math.max(0, Date.parse(st.nextScheduleTime) - now) + 1_000;
  return requeue && requeue.afterMs <= untilFire ? requeue : { afterMs: untilFire };
}

/** " A new refresh (...) starts when it ends." while a newer trigger waits behind the current job. */
function pendingTriggerWords(ctx: Context): string {
  return ctx.serves ? '' : ` A new refresh (${triggerWords(ctx.r, ctx.now)}) starts when it ends.`;
}

function startsNowWords(ctx: Context): string {
  return ` A new refresh (${triggerWords(ctx.r, ctx.now)}) starts now.`;
}

/**
 * The Milvus connection cannot be assembled (a Secret is missing or invalid). Ensures: nothing is called;
 * what is known is kept, and the collection stays held if a job may be running or a submission is in doubt.
 */
function blocked(
  ctx: Context,
  phase: Phase,
  why: Pick<Extract<DecideInput['connection'], { ok: false }>, 'reason' | 'message'>,
  requeue: Requeue,
): Decision {
  const following = phase.kind === 'Following';
  return ctx.update({
    status: ctx.st,
    situation: { kind: 'stalled', reason: why.reason, message: why.message },
    watch: following ? { jobId: phase.jobId } : undefined,
    holdsCollection: following || phase.kind === 'InDoubt',
    requeue,
  });
}

/** The situation once a job ended: its own outcome, or, when a newer trigger waits, "queued". */
function endedSituation(ctx: Context, next: ExternalCollectionRefreshStatus): Situation {
  const s = outcomeSituation(ctx, next);
  if (ctx.serves) return s;
  // The ended job answered an older trigger: conditions at this generation must not claim success or failure.
  return { kind: 'progressing', reason: 'RefreshQueued', message: `${s.message}.${startsNowWords(ctx)}` };
}

/** A job's outcome; a failure past spec.backoffLimit says how many attempts failed. */
function outcomeSituation(ctx: Context, st: ExternalCollectionRefreshStatus): Situation {
  const s = jobSituation(st);
  const failed = st.run?.failedJobs ?? 0;
  const limit = ctx.r.spec.backoffLimit ?? 0;
  if (st.state !== 'RefreshFailed' || limit === 0 || failed <= limit) return s;
  return { ...s, message: `${s.message}. ${failed} attempts failed (spec.backoffLimit ${limit}); no more retries` };
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
    const overdue = deadlineExceeded(ctx, next);
    if (overdue) return overdue;
    const s = jobSituation(next);
    return ctx.update({
      status: next,
      situation: { ...s, message: s.message + pendingTriggerWords(ctx) },
      watch,
      holdsCollection: true,
      requeue: untilDeadline(ctx.r, ctx.st, ctx.now),
    });
  }
  const overdue = deadlineExceeded(ctx, st);
  if (overdue) return overdue;
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
  // JobLost stays the marker (Stalled) only for the trigger it served; a newer trigger starts now. Either way
  // the run records that the job is given up: a status that names a missing job as active would otherwise be
  // followed again, and found lost again, on every reconcile, and a newer trigger would never get its job.
  if (!ctx.serves) return start(ctx, { kind: 'Starting', serves: false });
  return ctx.update({
    status: gaveUp(st, ctx.now),
    situation: {
      kind: 'stalled',
      reason: 'JobLost',
      message: `${lost} Set ${REFRESH_REQUESTED_AT} to a new value to refresh again.`,
    },
    holdsCollection: false,
  });
}

/** The status with the run marked as no longer following its job (phaseOf reads run.gaveUpAt). */
function gaveUp(st: ExternalCollectionRefreshStatus, now: number): ExternalCollectionRefreshStatus {
  if (!st.run || st.run.gaveUpAt !== undefined) return st;
  return { ...st, run: { ...st.run, gaveUpAt: iso(now) } };
}

/** A timer for spec.activeDeadlineSeconds of the run in `st`, if it has one. */
function untilDeadline(r: ExternalCollectionRefresh, st: ExternalCollectionRefreshStatus, now: number): Requeue {
  const deadline = deadlineOf(r, st);
  return deadline === undefined ? undefined : { afterMs: Math.max(0, deadline - now) + 100 };
}

/**
 * The job outlived spec.activeDeadlineSeconds. Milvus has no cancel: the job keeps running, the operator
 * stops following it and releases the collection; the next run finds it active and waits for it.
 */
function deadlineExceeded(ctx: Context, st: ExternalCollectionRefreshStatus): Decision | undefined {
  const deadline = deadlineOf(ctx.r, st);
  if (deadline === undefined || ctx.now < deadline) return undefined;
  return ctx.update({
    status: gaveUp(st, ctx.now),
    situation: {
      kind: 'stalled',
      reason: 'DeadlineExceeded',
      message: `${jobWords(st)}, and did not end within spec.activeDeadlineSeconds=${ctx.r.spec.activeDeadlineSeconds} of its submission at ${st.run?.submittedAt}. Milvus has no cancel, so the job keeps running; the next refresh waits for it to end.`,
    },
    holdsCollection: false,
  });
}

/** The delay before resubmitting after the n-th failed job: base * 2^(n-1), capped. */
function retryDelayMs(settings: Settings, failedJobs: number): number {
  return backoffMs(failedJobs - 1, settings.retryBackoffBaseMs, settings.retryBackoffMaxMs, () => 0.5);
}

/**
 * The job failed and spec.backoffLimit allows another. Ensures: the resubmission waits its backoff (from the
 * job's end), is held by spec.suspend, and then goes through the same checks as any start.
 */
function retry(ctx: Context, phase: Extract<Phase, { kind: 'Retrying' }>): Decision {
  const { st, now, settings } = ctx;
  const limit = ctx.r.spec.backoffLimit ?? 0;
  // Milvus reports end_time 0 for some failed jobs: then the submission, else the stored failure's time. Never
  // `now`: a retry time that moves with the clock is never reached, and its message is rewritten every time.
  const endedAt =
    [st.endTime, st.run?.submittedAt, findCondition(st.conditions, READY)?.lastTransitionTime]
      .map((t) => (t ? Date.parse(t) : NaN))
      .find(Number.isFinite) ?? 0;
  const retryAt = endedAt + retryDelayMs(settings, phase.failedJobs);
  const attempt = `attempt ${phase.failedJobs + 1} of ${limit + 1}`;
  if (ctx.r.spec.suspend)
    return suspended(ctx, `${jobWords(st)}; the retry (${attempt}) waits until the resource is resumed`);
  if (now < retryAt) {
    return ctx.update({
      status: st,
      situation: {
        kind: 'progressing',
        reason: 'RetryScheduled',
        message: `${jobWords(st)}. Retrying at ${iso(retryAt)} (${attempt}, spec.backoffLimit ${limit})`,
      },
      holdsCollection: false,
      requeue: { afterMs: retryAt - now },
    });
  }
  return start(ctx, { kind: 'Starting', serves: true }, 'retry');
}

/** spec.suspend holds a due run: nothing is called; all three conditions are False with reason Suspended. */
function suspended(ctx: Context, what: string, status = ctx.st): Decision {
  return ctx.update({
    status,
    situation: {
      kind: 'suspended',
      reason: 'Suspended',
      message: `Suspended (spec.suspend): ${what}. Nothing runs until spec.suspend is false.`,
    },
    holdsCollection: false,
  });
}

/** The current trigger's run is over. Ensures: no Milvus call; the conditions restate the outcome. */
function settled(ctx: Context): Decision {
  const stalled = findCondition(ctx.st.conditions, STALLED);
  const gaveUp = stalled?.status === 'True' && GAVE_UP.has(stalled.reason);
  const situation: Situation = gaveUp
    ? { kind: 'stalled', reason: stalled.reason as Reason, message: stalled.message }
    : outcomeSituation(ctx, ctx.st);
  return ctx.update({ status: ctx.st, situation, holdsCollection: false });
}

/**
 * Milvus may or may not have created a job for the recorded intent. Ensures: a job above the baseline is
 * adopted; another active job is waited for; nothing is submitted again before the grace period has passed,
 * nor more than --max-submit-attempts times for one trigger.
 */
function resolveDoubt(ctx: Context, phase: Extract<Phase, { kind: 'InDoubt' }>): Decision {
  const { st, settings, now, input } = ctx;
  // The spec changed since the call in doubt (another collection, database or source): whatever that call
  // did is not what the resource asks for now, and its baseline belongs to the old collection. Start anew.
  if (!runMatchesSpec(phase.run, ctx.r)) return start(ctx, { kind: 'Starting', serves: false }, 'new');
  const listed = collectionJobs(ctx, true);
  if (!('jobs' in listed)) return listed;
  const jobs = listed.jobs;
  const run = phase.run;
  const baseline = run.baselineJobId ?? '0';
  // Only a job that does what this resource asked can be its own: another install, or the same Milvus under
  // another name, may have started the job above the baseline.
  const ours = jobs
    .filter((j) => compareIds(j.jobId, baseline) > 0 && j.jobId !== input.claim?.jobId && matchesRequest(ctx.r, j))
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
  if (ctx.r.spec.suspend) {
    // No job appeared for the recorded call, and none may be asked for while suspended: drop the intent.
    const run = { ...run0(st) };
    delete run.submittedAt;
    return suspended(ctx, `no job appeared for the refresh requested at ${phase.run.submittedAt}`, { ...st, run });
  }
  // The superseded trigger's call left no job: start the current trigger instead.
  if (!phase.serves) return submit(ctx, jobs, 'new');
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
  return submit(ctx, jobs, 'again');
}

/** Whether a listed job is the one the resource's request would start: its collection and, when overridden, its source. */
function matchesRequest(r: ExternalCollectionRefresh, job: JobInfo): boolean {
  if (job.collectionName && job.collectionName !== r.spec.collectionName) return false;
  return (
    r.spec.externalSource === undefined || job.externalSource === '' || job.externalSource === r.spec.externalSource
  );
}

function run0(st: ExternalCollectionRefreshStatus): RunStatus {
  return st.run ?? { generation: st.observedGeneration ?? 1, requestedAt: '', trigger: '' };
}

/**
 * The current trigger needs a job. Ensures: never beside another of our resources on the collection, never
 * beside an active foreign job; otherwise one submission, with the highest listed job id as baseline.
 */
function start(given: Context, phase: Extract<Phase, { kind: 'Starting' }>, mode?: SubmitMode): Decision {
  // A job the status still shows as active is one the operator stopped following (phaseOf, or a lost job of an
  // older trigger): the run says so from now on, whatever the conditions become while the new trigger waits.
  const ctx =
    given.st.jobId !== undefined && !isTerminal(given.st.state) ? { ...given, st: gaveUp(given.st, given.now) } : given;
  const { input, r, settings } = ctx;
  const how = mode ?? (phase.serves ? 'again' : 'new');
  if (r.spec.suspend) return suspended(ctx, `a refresh (${triggerWords(r, ctx.now)}) is due`);
  const skip = how === 'new' ? tooLateToRun(ctx) : undefined;
  if (skip) return skip;
  const refused = how === 'again' ? refusedUntil(ctx) : undefined;
  if (refused) return refused;
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
  // Waiting for a foreign job: the observer follows it; list again only once it has ended. A wait decided
  // for an earlier generation (the collection or Milvus may have changed since) is dropped: list again.
  const current = ctx.st.observedGeneration === (r.metadata.generation ?? 1);
  const foreign = input.view?.error || !current ? undefined : input.view?.job;
  if (foreign && foreign.collectionName === r.spec.collectionName && !isTerminal(foreign.state)) {
    return waitForActiveJob(ctx, foreign, false);
  }
  // #5: a new trigger over a Ready status says so before any Milvus call, so `kubectl wait` cannot return on
  // the previous run's Ready=True.
  const readyBefore = findCondition(ctx.st.conditions, READY)?.status === 'True';
  if (how === 'new' && readyBefore) {
    return ctx.update({
      status: ctx.st,
      situation: {
        kind: 'progressing',
        reason: 'Submitting',
        message: `A new refresh (${triggerWords(r, ctx.now)}) is starting`,
      },
      holdsCollection: false,
      requeue: { afterMs: 0 },
    });
  }
  // A trigger in the object itself (not a schedule's fire, nor a repeat of this trigger's call) may take its
  // baseline from a recent all-jobs answer (DecideInput.collectionJobs).
  const listed = collectionJobs(ctx, false, how === 'new' && dueFire(r, ctx.now) === undefined);
  if (!('jobs' in listed)) return listed;
  const active = listed.jobs.find((j) => !isTerminal(j.state));
  if (active) return waitForActiveJob(ctx, active, false);
  return submit(ctx, listed.jobs, how, listed.highestJobId);
}

/** Stalled reasons for requests Milvus refused outright: repeating them cannot help until something changes. */
const REFUSALS = new Set<string>(['InvalidRequest', 'NotExternalCollection', 'UnsupportedServer']);

/**
 * Milvus refused this trigger's request outright. Ensures: the resource stays Stalled, with no write and no
 * call, until the spec or the trigger changes; only every --refusal-recheck is the request tried again, and
 * then without leaving Stalled (no Stalled/InProgress flapping for Flux or Argo CD).
 */
function refusedUntil(ctx: Context): Decision | undefined {
  const stalled = findCondition(ctx.st.conditions, STALLED);
  const refusedAt = ctx.st.run?.refusedAt ? Date.parse(ctx.st.run.refusedAt) : undefined;
  if (stalled?.status !== 'True' || !REFUSALS.has(stalled.reason) || refusedAt === undefined) return undefined;
  const recheckAt = refusedAt + ctx.settings.refusalRecheckMs;
  if (ctx.now >= recheckAt) return undefined;
  return ctx.update({
    status: ctx.st,
    situation: { kind: 'stalled', reason: stalled.reason as Reason, message: stalled.message },
    holdsCollection: false,
    requeue: { afterMs: recheckAt - ctx.now },
  });
}

/**
 * A scheduled fire that is the only trigger, noticed more than spec.startingDeadlineSeconds after its time
 * (the operator was down, or the resource suspended), is skipped: consumed without a run, with an event.
 */
function tooLateToRun(ctx: Context): Decision | undefined {
  const { r, st, now } = ctx;
  const seconds = r.spec.startingDeadlineSeconds;
  const due = dueFire(r, now);
  if (seconds === undefined || due === undefined || now - due <= seconds * 1_000) return undefined;
  const d = desiredTrigger(r, now);
  if (!st.run || !runMatchesSpec(st.run, r, d.specHash) || st.run.requestedAt !== d.requestedAt) return undefined; // not schedule-only
  const status: ExternalCollectionRefreshStatus = {
    ...st,
    lastScheduleTime: iso(due),
    ...(st.scheduleCursor ? { scheduleCursor: { ...st.scheduleCursor, consumedUntil: iso(due) } } : {}),
  };
  const stalled = findCondition(st.conditions, STALLED);
  const situation: Situation =
    stalled?.status === 'True' && GAVE_UP.has(stalled.reason)
      ? { kind: 'stalled', reason: stalled.reason as Reason, message: stalled.message }
      : st.state
        ? outcomeSituation(ctx, st)
        : { kind: 'progressing', reason: 'Submitting', message: 'Waiting for the next scheduled run' };
  return ctx.update({
    status,
    situation,
    holdsCollection: false,
    events: [
      {
        type: 'Warning',
        reason: 'ScheduleSkipped',
        message: `Skipped the refresh scheduled for ${iso(due)}: noticed at ${iso(now)}, more than spec.startingDeadlineSeconds=${seconds} later`,
      },
    ],
  });
}

/** The collection's jobs, or the decision to list them first, or the decision after listing failed. */
function collectionJobs(
  ctx: Context,
  holdsCollection: boolean,
  newTrigger = false,
): { jobs: JobInfo[]; highestJobId?: string } | Decision {
  const listed = ctx.input.collectionJobs;
  if (!listed) return newTrigger ? { kind: 'listCollectionJobs', newTrigger } : { kind: 'listCollectionJobs' };
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
      message: `Waiting for Milvus refresh job ${job.jobId} on collection ${ctx.r.spec.collectionName}, ${
        job.jobId === ctx.st.jobId
          ? 'which this resource started for an earlier run and stopped following'
          : 'which this resource did not start'
      }, to finish (${job.state}, ${job.progress}%)`,
    },
    watch: { jobId: job.jobId },
    holdsCollection,
    requeue: { afterMs: ctx.settings.foreignJobRecheckMs },
  });
}

/** The intent for a (new or repeated) submission, and the request to send once it is recorded. */
/** How a submission relates to the run: a new trigger, the same call again, or a new job after a failed one. */
type SubmitMode = 'new' | 'again' | 'retry';

/** The intent for a submission, and the request to send once it is recorded. */
function submit(ctx: Context, jobs: JobInfo[], mode: SubmitMode, highestJobId?: string): Decision {
  const { r, st, settings, now } = ctx;
  const d = desiredTrigger(r, now);
  const nowIso = iso(now);
  const newJob = mode !== 'again';
  let base = newJob ? withoutJob(st) : { ...st };
  if (newJob && st.jobId) {
    const limit = r.spec.historyLimit ?? settings.historyLimit;
    base.history = [historyRecord({ ...st, jobId: st.jobId }), ...(st.history ?? [])].slice(0, limit);
  }
  const previous = st.run;
  const run: RunStatus = {
    generation: d.generation,
    requestedAt: d.requestedAt,
    specHash: d.specHash,
    trigger: mode === 'new' || !previous ? triggerWords(r, now) : previous.trigger,
    submittedAt: nowIso,
    baselineJobId: highestJobId ?? maxJobId(jobs),
    attempts: (mode === 'again' ? (previous?.attempts ?? 0) : 0) + 1,
  };
  if (mode !== 'new' && previous?.scheduledAt) run.scheduledAt = previous.scheduledAt;
  if (mode !== 'new' && previous?.failedJobs) run.failedJobs = previous.failedJobs;
  if (mode === 'new' && d.dueFireMs !== undefined) {
    // The run consumes the due fire (and every earlier one): one catch-up, never a burst.
    run.scheduledAt = iso(d.dueFireMs);
    base.lastScheduleTime = run.scheduledAt;
    if (base.scheduleCursor) base.scheduleCursor = { ...base.scheduleCursor, consumedUntil: run.scheduledAt };
  }
  base = withSchedule(base, r, now);
  const stalled = findCondition(st.conditions, STALLED);
  const recheck = mode === 'again' && stalled?.status === 'True' && REFUSALS.has(stalled.reason);
  const words =
    mode === 'retry'
      ? `${run.trigger}; attempt ${(run.failedJobs ?? 0) + 1} of ${(r.spec.backoffLimit ?? 0) + 1}`
      : run.trigger;
  const status: ExternalCollectionRefreshStatus = {
    ...base,
    run,
    observedGeneration: d.generation,
    conditions: conditionsFor(
      base.conditions ?? [],
      recheck && stalled
        ? { kind: 'stalled', reason: stalled.reason as Reason, message: stalled.message }
        : {
            kind: 'progressing',
            reason: 'Submitting',
            message: `Starting a Milvus refresh of collection ${r.spec.collectionName} (${words})`,
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
      ? { externalSource: spec.externalSource, externalSpec: specJson(spec.externalSpec) }
      : {}),
  };
}

/**
 * The external spec as Milvus' JSON. A snapshot_id given as a string (ids beyond 2^53 must be, see the CRD)
 * is written as an exact JSON integer, which Milvus reads as int64 without loss.
 */
export function specJson(spec: NonNullable<ExternalCollectionRefresh['spec']['externalSpec']>): string {
  const text = JSON.stringify(spec);
  return typeof spec.snapshot_id === 'string' && /^-?\d+$/.test(spec.snapshot_id)
    ? text.replace(`"snapshot_id":"${spec.snapshot_id}"`, `"snapshot_id":${spec.snapshot_id}`)
    : text;
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
  /** Milvus' first report of the accepted job, when already listed (it goes into the same write). */
  firstReport?: JobInfo;
}): UpdateDecision {
  const { resource: r, result, now, settings, address, firstReport } = args;
  const st = r.status ?? {};
  const update = updater(r, now, settings);
  if ('jobId' in result) {
    const accepted = { ...st, jobId: result.jobId, collectionName: r.spec.collectionName };
    const reported = firstReport?.jobId === result.jobId && !isTerminal(firstReport.state);
    const status = reported ? withJob(accepted, firstReport) : accepted;
    // A job Milvus has not listed yet may have been dropped (milvus#49231): looked at again when the grace
    // period ends. A listed job was persisted: like any job it is followed through the job observer, which
    // wakes the resource when the job changes or goes missing (only a deadline needs a timer).
    return update({
      status,
      situation: jobSituation(status),
      watch: { jobId: result.jobId },
      holdsCollection: true,
      requeue: reported ? untilDeadline(r, status, now) : { afterMs: settings.submitGraceMs },
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
  if (run && REFUSALS.has(situation.reason)) run.refusedAt = iso(now);
  return update({
    status: { ...st, ...(run ? { run } : {}) },
    situation,
    holdsCollection: false,
    requeue: { backoff: true },
  });
}
