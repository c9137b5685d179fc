/**
 * One reconcile of one ExternalCollectionRefresh: observe, decide (pure), execute. The only place that
 * calls the ports. Level-based: it reads the resource by key and never asks what woke it.
 */
import { isDeepStrictEqual } from 'node:util';
import { MAX_MESSAGE, READY, STALLED, conditionsFor, findCondition, truncate } from '../api/conditions.js';
import {
  type ExternalCollectionRefresh,
  type ExternalCollectionRefreshStatus,
  REFRESH_REQUESTED_AT,
} from '../api/v1alpha1.js';
import type { Logger } from '../logger.js';
import { collectionKeyOf } from './collection.js';
import { afterSubmit, decide } from './decide.js';
import type { DecideInput, RefreshRequest, Requeue, Settings, SubmitResult, UpdateDecision } from './model.js';
import { holdsCollection, phaseOf } from './phase.js';
import {
  type ClaimsPort,
  ConflictError,
  type ConnectionPort,
  type Endpoint,
  type KubePort,
  type MilvusPort,
  type ObserverPort,
  findJob,
} from './ports.js';
import { type JobInfo, MilvusCallError, type MilvusFailure } from './types.js';
import { extfsSecrets, scrub, secretForms } from '../util/scrub.js';
import { jsonCopy } from '../util/merge-patch.js';

export interface ReconcilerDeps {
  kube: KubePort;
  milvus: MilvusPort;
  connections: ConnectionPort;
  observer: ObserverPort;
  claims: ClaimsPort;
  settings: Settings;
  log: Logger;
  now?: () => number;
  /** Called between the steps of a submission (crash tests hook failpoints here; unset in production). */
  step?: (name: SubmissionStep) => void;
  /** How many times the outcome of a refresh call is re-recorded after write conflicts before giving up. */
  recordAttempts?: number;
  /** Describes a Kubernetes API error for a condition (the API server's message). */
  describeError?: (err: unknown) => string;
  /** Counts status writes and Milvus calls (metrics). */
  onStatusWrite?: () => void;
  /**
   * Holds back writes that only move a running job's progress (runtime/write-throttle.ts): `delay` says how
   * many ms to wait (0: write now), `wrote` is told of every status write.
   */
  throttle?: {
    delay(
      key: string,
      before: ExternalCollectionRefreshStatus | undefined,
      after: ExternalCollectionRefreshStatus,
    ): number;
    wrote(key: string): void;
  };
}

/** Reasons whose arrival is worth a Warning event. */
const WARNING_REASONS = new Set(['MilvusUnavailable', 'JobDropped', 'MilvusError']);
/** Progress of a job is status, not news: no events for these. */
const QUIET_REASONS = new Set(['Submitting', 'RefreshPending', 'RefreshInProgress']);

/** Named points of a submission, between its writes and its Milvus call. */
export type SubmissionStep = 'after-intent' | 'after-refresh' | 'after-record';

export class Reconciler {
  private readonly now: () => number;
  /** Since when calls to an endpoint have been failing as unavailable (submission-side; the observer keeps its own). */
  private readonly unavailableSince = new Map<string, number>();
  /** Our latest write per key and the resourceVersions it superseded, for when the informer cache lags. */
  private readonly written = new Map<string, { stale: Set<string>; obj: ExternalCollectionRefresh }>();
  /** Keys whose last write conflicted: the next reconcile reads them from the API server, not the cache. */
  private readonly refetch = new Set<string>();
  /**
   * Per key, the trigger its cached object carries (SeenTrigger) and the observer's mark when the cache first
   * held it: an all-jobs answer asked for after that mark was asked for after the trigger existed.
   */
  private readonly triggers = new Map<string, SeenTrigger>();

  constructor(private readonly deps: ReconcilerDeps) {
    this.now = deps.now ?? Date.now;
  }

  /**
   * Reconciles `namespace/name`; resolves with when to look again. Throws only on unexpected errors (the
   * controller's error policy decides the retry). `log` carries the reconcile's id.
   */
  async reconcile(key: string, log: Logger = this.deps.log.child({ refresh: key })): Promise<Requeue> {
    const { observer, claims } = this.deps;
    // Not in the cache may only mean the cache is being rebuilt: ask the API server before letting go.
    const slash = key.indexOf('/');
    // After a write conflict the cache is behind the API server: read the object from there once.
    const cached = this.refetch.delete(key) ? undefined : this.current(key);
    const r = cached ?? (await this.deps.kube.read(key.slice(0, slash), key.slice(slash + 1)));
    if (!r || r.metadata.deletionTimestamp) {
      // Milvus has no cancel: a running job finishes on its own. Stop following it.
      observer.unwatch(key);
      claims.release(key);
      this.written.delete(key);
      this.triggers.delete(key);
      return undefined;
    }
    // A settled resource needs no Milvus connection: no Secret is read for it.
    const phase = phaseOf(r, this.now()).kind;
    const conn =
      phase === 'Settled' ? { ok: true as const, endpoint: undefined } : await this.deps.connections.resolve(r);
    const collectionKey = collectionKeyOf(r);
    // Storage keys from spec.externalSpecSecretRef are needed only to submit; following a job goes on without them.
    const extfs = conn.ok && conn.endpoint ? conn.extfs : undefined;
    const extfsBlocks = extfs !== undefined && !extfs.ok && phase !== 'Following';
    // Milvus' texts (a failure reason can quote a storage error) never carry a secret the resource uses.
    const extfsValues = extfs?.ok ? Object.values(extfs.values) : [];
    const secrets = secretForms([
      ...extfsSecrets(r.spec.externalSpec?.extfs),
      ...extfsValues,
      ...(conn.ok && conn.endpoint?.credentials ? Object.values(conn.endpoint.credentials) : []),
    ]);
    const view = observer.view(key);
    const input: DecideInput = {
      now: this.now(),
      resource: r,
      settings: this.deps.settings,
      connection: !conn.ok
        ? { ok: false, reason: conn.reason, message: conn.message }
        : extfsBlocks && extfs && !extfs.ok
          ? { ok: false, reason: extfs.reason, message: extfs.message }
          : { ok: true, address: r.spec.milvus.address },
      claim: claims.holder(collectionKey, key),
      view: view?.job ? { ...view, job: scrubJob(view.job, secrets) } : view,
    };
    let decision = decide(input);
    let collectionJobs: DecideInput['collectionJobs'];
    if (decision.kind === 'listCollectionJobs' && conn.ok && conn.endpoint) {
      const recent = decision.newTrigger ? this.recentJobs(key, r, conn.endpoint) : undefined;
      if (recent) {
        // The job observer's all-jobs answer, asked for after this trigger was first seen, stands for the list:
        // no active job of the collection, and its highest job id as the baseline. One Milvus call fewer.
        collectionJobs = { jobs: [], highestJobId: recent.highestJobId };
        decision = decide({ ...input, collectionJobs });
      } else {
        const listed = await this.listCollection(conn.endpoint, r.spec.collectionName);
        collectionJobs = 'jobs' in listed ? { jobs: listed.jobs.map((j) => scrubJob(j, secrets)) } : listed;
        const since = this.noteAvailability(conn.endpoint.key, 'failure' in listed ? listed.failure : undefined);
        decision = decide({ ...input, collectionJobs, ...(since !== undefined ? { unavailableSinceMs: since } : {}) });
      }
    }
    if (decision.kind === 'listCollectionJobs') throw new Error('decide asked for jobs without a connection');

    if (decision.kind === 'submit' && !claims.acquire(collectionKey, key)) {
      // Another resource took the collection while this one was listing: never submit beside it.
      decision = decide({ ...input, collectionJobs, claim: claims.holder(collectionKey, key) });
      if (decision.kind !== 'update') return { afterMs: this.deps.settings.pollIntervalMs };
    }
    let base = r;
    if (decision.kind === 'submit' && conn.ok && conn.endpoint) {
      // The intent is recorded first, with optimistic concurrency: a stale reconcile fails here and never calls Milvus.
      try {
        base = await this.write(r, decision.status);
      } catch (err) {
        // No Milvus call was made: the claim taken for this run goes back (unless the stored status still holds
        // the collection), or every other resource on the collection would wait for a run that never starts.
        if (!holdsCollection(r, this.now())) claims.release(key);
        if (!(err instanceof ConflictError)) await this.reportIntentFailure(r, err, log);
        throw err;
      }
      this.deps.step?.('after-intent');
      log.info('Submitting Milvus refresh job', {
        collection: decision.request.collection,
        database: decision.request.database,
        trigger: decision.status.run?.trigger,
        attempt: decision.status.run?.attempts,
      });
      let result: SubmitResult;
      try {
        // Storage keys join the request only here, at the moment of the call.
        const request = withExtfs(decision.request, extfs?.ok ? extfs.values : undefined, secrets);
        result = { jobId: await this.deps.milvus.refresh(conn.endpoint, request) };
        log.info('Submitted Milvus refresh job', { collection: decision.request.collection, jobId: result.jobId });
      } catch (err) {
        if (!(err instanceof MilvusCallError)) throw err;
        result = { failure: err.failure };
        log.warn('Milvus refused or failed the refresh request', {
          collection: decision.request.collection,
          kind: err.failure.kind,
          error: err.failure.message,
        });
      }
      this.deps.step?.('after-refresh');
      const since = this.noteAvailability(conn.endpoint.key, 'failure' in result ? result.failure : undefined);
      // Milvus' first report of the job (usually RefreshPending) is written with its id: one status write
      // per trigger fewer than waiting for the job observer's next poll to report it.
      const firstReport =
        'jobId' in result
          ? await this.firstReport(conn.endpoint, decision.request.collection, result.jobId)
          : undefined;
      const after = afterSubmit({
        resource: base,
        result,
        now: this.now(),
        settings: this.deps.settings,
        address: conn.endpoint.address,
        ...(since !== undefined ? { unavailableSinceMs: since } : {}),
        ...(firstReport ? { firstReport: scrubJob(firstReport, secrets) } : {}),
      });
      base = await this.recordSubmission(base, after, result, conn.endpoint.address);
      this.deps.step?.('after-record');
      this.track(key, collectionKey, conn.endpoint, { ...after, status: base.status ?? {} });
      await this.events(r, base.status ?? {}, log);
      return after.requeue;
    }

    if (decision.kind !== 'update') throw new Error(`unexpected decision ${decision.kind}`);
    this.track(key, collectionKey, conn.ok ? conn.endpoint : undefined, decision);
    const next = clean(decision.status);
    const changed = !sameStatus(r.status, next);
    const holdMs = changed ? (this.deps.throttle?.delay(key, r.status, next) ?? 0) : 0;
    if (changed && holdMs === 0) {
      const updated = await this.write(r, next);
      const st = updated.status ?? {};
      if (st.state !== r.status?.state || st.jobId !== r.status?.jobId) {
        log.info('Updated refresh status', { jobId: st.jobId, state: st.state, progress: st.progress });
      }
      await this.events(r, st, log);
    }
    for (const e of decision.events ?? []) {
      log.info('Recorded event', { reason: e.reason, type: e.type });
      await this.deps.kube.event(r, e.type, e.reason, e.message);
    }
    // A held-back progress write is made when the interval is over (or sooner, when the job's state changes).
    if (holdMs > 0 && !(decision.requeue && 'afterMs' in decision.requeue && decision.requeue.afterMs <= holdMs))
      return { afterMs: holdMs };
    return decision.requeue;
  }

  /**
   * The informer's cache now holds `resourceVersion` of `key`. Unless that is a version our latest write
   * superseded, the cache has caught up (our write's echo, or a newer change) and the copy kept for a lagging
   * cache goes: the rule of {@link current}, applied as the cache changes rather than at the next reconcile.
   * Waiting for the next reconcile kept the copy of every resource with a run under way (the echoes of its
   * writes are not reconciled) or waiting in the queue: 7,000 copies in the middle of a burst of 10,000, a
   * second cache (docs/scale.md).
   */
  cacheHolds(key: string, resourceVersion: string | undefined): void {
    const mine = this.written.get(key);
    if (mine && !mine.stale.has(resourceVersion ?? '')) this.written.delete(key);
  }

  /**
   * The informer's cache now holds `obj` (an add or an update, our own writes' echoes included): as
   * {@link cacheHolds}, and, when the object carries a trigger the cache did not hold before, the observer's
   * mark for when it was first seen.
   */
  cached(key: string, obj: ExternalCollectionRefresh): void {
    this.cacheHolds(key, obj.metadata.resourceVersion);
    const { observer } = this.deps;
    if (!observer.mark) return;
    const trigger = triggerOf(obj);
    if (!sameTrigger(this.triggers.get(key), trigger)) this.triggers.set(key, { ...trigger, mark: observer.mark() });
  }

  /** The observer's recent all-jobs answer for the trigger `r` carries, if asked for after it was first seen. */
  private recentJobs(
    key: string,
    r: ExternalCollectionRefresh,
    endpoint: Endpoint,
  ): { highestJobId: string } | undefined {
    const seen = this.triggers.get(key);
    if (!sameTrigger(seen, triggerOf(r))) return undefined; // a copy the cache has not held (yet)
    return this.deps.observer.recentJobs?.(endpoint.key, r.spec.collectionName, seen.mark);
  }

  /** How many of our writes are kept for a cache that has not caught up with them yet. */
  get writesAheadOfCache(): number {
    return this.written.size;
  }

  /** The freshest copy we know: the informer's, unless it predates our own last write. */
  private current(key: string): ExternalCollectionRefresh | undefined {
    const cached = this.deps.kube.cached(key);
    const mine = this.written.get(key);
    if (cached && mine && mine.stale.has(cached.metadata.resourceVersion ?? '')) return mine.obj;
    if (mine) this.written.delete(key);
    return cached;
  }

  private async write(
    r: ExternalCollectionRefresh,
    status: ExternalCollectionRefreshStatus,
  ): Promise<ExternalCollectionRefresh> {
    let updated: ExternalCollectionRefresh;
    try {
      updated = await this.deps.kube.patchStatus(r, clean(status));
    } catch (err) {
      if (err instanceof ConflictError) this.refetch.add(`${r.metadata.namespace}/${r.metadata.name}`);
      throw err;
    }
    this.deps.onStatusWrite?.();
    const key = `${r.metadata.namespace}/${r.metadata.name}`;
    this.deps.throttle?.wrote(key);
    const stale = this.written.get(key)?.stale ?? new Set<string>();
    stale.add(r.metadata.resourceVersion ?? '');
    this.written.set(key, { stale, obj: updated });
    // The write's echo can reach the cache before its answer reaches us (both come over one connection): then
    // the cache has caught up already, and the copy goes at once.
    const cached = this.deps.kube.cached(key)?.metadata.resourceVersion;
    if (cached !== undefined) this.cacheHolds(key, cached);
    return updated;
  }

  /**
   * Writes the outcome of the refresh call. A conflict here (the user changed the resource meanwhile) must
   * not lose the job id: re-read and apply the outcome again while the intent is still the one we sent.
   */
  private async recordSubmission(
    base: ExternalCollectionRefresh,
    after: UpdateDecision,
    result: SubmitResult,
    address: string,
  ): Promise<ExternalCollectionRefresh> {
    const intent = base.status?.run?.submittedAt;
    const attempts = this.deps.recordAttempts ?? 5;
    let target = base;
    let decision = after;
    for (let attempt = 0; attempt < attempts; attempt++) {
      try {
        return await this.write(target, decision.status);
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        const fresh = await this.deps.kube.read(base.metadata.namespace, base.metadata.name);
        if (!fresh || fresh.status?.run?.submittedAt !== intent || fresh.status?.jobId !== undefined)
          return fresh ?? base;
        target = fresh;
        decision = afterSubmit({ resource: fresh, result, now: this.now(), settings: this.deps.settings, address });
      }
    }
    throw new ConflictError(
      `could not record the refresh job after ${attempts} conflicts; the next reconcile adopts it from Milvus`,
    );
  }

  /**
   * The intent write was refused (not a conflict): say so where users look. The conditions alone are written
   * (a smaller write than the refused one, which often passes), with a Warning event when they change; the
   * refused write itself is counted in milvus_refresh_kube_requests_total{what="patch_status",code}.
   */
  private async reportIntentFailure(r: ExternalCollectionRefresh, err: unknown, log: Logger): Promise<void> {
    const error = this.deps.describeError?.(err) ?? (err instanceof Error ? err.message : String(err));
    const message = `The API server refused the status write that records the start of a run, so no Milvus job was started: ${error}. Retrying with backoff.`;
    const st = r.status ?? {};
    const next = clean({
      ...st,
      conditions: conditionsFor(
        st.conditions ?? [],
        { kind: 'stalled', reason: 'StatusWriteFailed', message },
        r.metadata.generation ?? 0,
        new Date(this.now()).toISOString(),
      ),
    });
    log.warn('Status write of a run intent refused', { error });
    if (sameStatus(r.status, next)) return;
    try {
      await this.write(r, next);
    } catch (e) {
      log.warn('Could not record the refused status write in conditions either', {
        error: this.deps.describeError?.(e) ?? String(e),
      });
    }
    await this.deps.kube.event(r, 'Warning', 'StatusWriteFailed', truncate(message, MAX_MESSAGE));
  }

  /** Records whether the endpoint answered; returns since when it has been unavailable, if it is. */
  private noteAvailability(endpointKey: string, failure: MilvusFailure | undefined): number | undefined {
    if (failure?.kind !== 'unavailable') {
      this.unavailableSince.delete(endpointKey);
      return undefined;
    }
    const since = this.unavailableSince.get(endpointKey) ?? this.now();
    this.unavailableSince.set(endpointKey, since);
    return since;
  }

  private async listCollection(
    endpoint: Endpoint,
    collection: string,
  ): Promise<NonNullable<DecideInput['collectionJobs']>> {
    try {
      return { jobs: await this.deps.milvus.listJobs(endpoint, collection) };
    } catch (err) {
      if (err instanceof MilvusCallError) return { failure: err.failure };
      throw err;
    }
  }

  /**
   * The job as the collection's list shows it right after submission. Optional: undefined when it is not listed
   * (yet), or the list fails or is deferred (a busy endpoint): the job id is recorded all the same, and the job
   * observer reports the job at its next poll.
   */
  private async firstReport(endpoint: Endpoint, collection: string, jobId: string): Promise<JobInfo | undefined> {
    try {
      return await findJob(this.deps.milvus, endpoint, collection, jobId);
    } catch {
      return undefined;
    }
  }

  private track(key: string, collectionKey: string, endpoint: Endpoint | undefined, d: UpdateDecision): void {
    if (d.holdsCollection) this.deps.claims.set(collectionKey, key, d.status.jobId);
    else this.deps.claims.release(key);
    if (d.watch && endpoint) this.deps.observer.watch(key, endpoint, d.watch);
    else if (!d.watch) this.deps.observer.unwatch(key);
  }

  /**
   * Events on transitions only: when the Ready reason changes, or a new job id appears. A new job is news even
   * when Milvus already reports it pending or running (the first report comes with the id): it is recorded as
   * RefreshSubmitted, whatever the condition's reason.
   */
  private async events(
    r: ExternalCollectionRefresh,
    next: ExternalCollectionRefreshStatus,
    log: Logger,
  ): Promise<void> {
    const before = findCondition(r.status?.conditions, READY);
    const after = findCondition(next.conditions, READY);
    if (!after) return;
    const newJob = next.jobId !== undefined && next.jobId !== r.status?.jobId;
    const quiet = QUIET_REASONS.has(after.reason);
    if (!newJob && (quiet || before?.reason === after.reason)) return;
    const reason = quiet ? 'RefreshSubmitted' : after.reason;
    const stalled = findCondition(next.conditions, STALLED)?.status === 'True';
    const type = stalled || WARNING_REASONS.has(reason) ? 'Warning' : 'Normal';
    log.info('Recorded event', { reason, type, jobId: next.jobId });
    await this.deps.kube.event(r, type, reason, after.message);
  }
}

/** The request with the extfs Secret's keys merged into its external spec, and every secret to scrub. */
function withExtfs(
  request: RefreshRequest,
  values: Record<string, string> | undefined,
  secrets: string[],
): RefreshRequest {
  if (!values || request.externalSpec === undefined) return { ...request, secretValues: secrets };
  const spec = JSON.parse(request.externalSpec) as { extfs?: Record<string, string> };
  spec.extfs = { ...spec.extfs, ...values };
  return { ...request, externalSpec: JSON.stringify(spec), secretValues: secrets };
}

function scrubJob(job: JobInfo, secrets: string[]): JobInfo {
  if (secrets.length === 0) return job;
  return {
    ...job,
    reason: scrub(job.reason, secrets),
    externalSource: scrub(job.externalSource, secrets),
    externalSpec: scrub(job.externalSpec, secrets),
  };
}

/** Drops undefined fields so comparisons and patches see the same object. */
export function clean(status: ExternalCollectionRefreshStatus): ExternalCollectionRefreshStatus {
  return jsonCopy(status);
}

/** Equal statuses, whatever the order of their keys (`b` is clean: no undefined field, as a parsed status). */
function sameStatus(a: ExternalCollectionRefreshStatus | undefined, b: ExternalCollectionRefreshStatus): boolean {
  return isDeepStrictEqual(a ?? {}, b);
}

/**
 * What makes a new trigger in the object itself: the object (its uid: deleted and created again under the same
 * name is a new one), its generation (created, spec changed), the refresh-requested annotation, and whether
 * the status holds a run at all (a status wiped or restored asks for a run anew). Strings are the cached
 * object's own, not copies.
 */
interface SeenTrigger {
  uid: string | undefined;
  generation: number;
  requestedAt: string | undefined;
  hasRun: boolean;
  /** The job observer's mark when the cache first held this trigger. */
  mark: number;
}

function triggerOf(r: ExternalCollectionRefresh): Omit<SeenTrigger, 'mark'> {
  return {
    uid: r.metadata.uid,
    generation: r.metadata.generation ?? 1,
    requestedAt: r.metadata.annotations?.[REFRESH_REQUESTED_AT],
    hasRun: r.status?.run !== undefined,
  };
}

function sameTrigger(seen: SeenTrigger | undefined, now: Omit<SeenTrigger, 'mark'>): seen is SeenTrigger {
  return (
    seen !== undefined &&
    seen.uid === now.uid &&
    seen.generation === now.generation &&
    seen.requestedAt === now.requestedAt &&
    seen.hasRun === now.hasRun
  );
}
