/**
 * The emulator's Milvus: databases, collections and external-collection refresh jobs, on an injected clock.
 *
 * Pure apart from the clock: no timers, no IO. Job state is a function of time and the job's behaviour, and
 * `advance(now)` materialises what happened up to `now` in time order (the asynchronous WAL ack that
 * persists a job, terminal states, the stored source/spec update on success, retention GC), so every
 * observation through an RPC sees what a real Milvus would have shown at that moment.
 */
import {
  MilvusError,
  collectionNotFound,
  databaseExists,
  databaseNotFound,
  parameterInvalid,
  parameterMissing,
} from './errors.js';
import { redactExternalSpec, validateSourceAndSpec } from './external-spec.js';
import { validateCollectionName, validateDatabaseName } from './names.js';
import { type DecodedSchema, checkCreateSchema, isExternalSchema } from './schema-rules.js';

/** Public job states, exactly Milvus' enum names. */
export type RefreshState = 'RefreshPending' | 'RefreshInProgress' | 'RefreshCompleted' | 'RefreshFailed';

/** How a refresh job of a collection behaves; captured when the job is accepted. */
export interface JobBehaviour {
  /** Time from start (ack) to completion, planning included. */
  durationMs: number;
  /** Planning time (Pending) before the job is InProgress; part of durationMs. */
  pendingMs: number;
  /** Fail when progress reaches this percentage (0-99). */
  failAtPercent?: number;
  /** Reason reported for that failure. */
  failReason?: string;
  /** Never leave Pending: planning keeps failing transiently until the job timeout. */
  stuck?: boolean;
  /** The transient planning failure recorded in `reason` while Pending. */
  transientReason?: string;
}

/** Server-wide timings. */
export interface Timings {
  /** RPC return to job persisted by the asynchronous WAL ack callback. */
  persistDelayMs: number;
  /** dataCoord.externalCollectionJobTimeout, measured from start_time. */
  jobTimeoutMs: number;
  /** dataCoord.externalCollectionJobRetention, measured from end_time. */
  retentionMs: number;
  /** Behaviour of jobs of collections without their own. */
  job: JobBehaviour;
}

/**
 * Defaults: a job takes about 10 s, so a person watching sees it progress. The ack that persists a job is
 * immediate by default (real Milvus usually acks within milliseconds); raise persistDelayMs to open the
 * window in which a new job id is "not found" and a second refresh slips past the duplicate check.
 */
export const DEFAULT_TIMINGS: Timings = {
  persistDelayMs: 0,
  jobTimeoutMs: 3_600_000,
  retentionMs: 86_400_000,
  job: { durationMs: 10_000, pendingMs: 1_000 },
};

/** `milvus.proto.milvus.RefreshExternalCollectionJobInfo` with int64s as decimal strings. */
export interface JobInfo {
  job_id: string;
  collection_name: string;
  state: RefreshState;
  progress: string;
  reason: string;
  external_source: string;
  start_time: string;
  end_time: string;
  external_spec: string;
}

/** A collection as stored. */
export interface Collection {
  readonly id: bigint;
  readonly db: string;
  readonly name: string;
  readonly schema: DecodedSchema;
  readonly external: boolean;
  externalSource: string;
  externalSpec: string;
  readonly createdAt: number;
  readonly shardsNum: number;
  readonly consistencyLevel: string;
  readonly properties: { key: string; value: string }[];
}

interface Outcome {
  state: RefreshState;
  progress: number;
  reason: string;
  endTime: number;
}

interface Job {
  readonly id: bigint;
  readonly collectionId: bigint;
  readonly collectionName: string;
  readonly source: string;
  readonly spec: string;
  readonly override: boolean;
  readonly persistAt: number;
  readonly behaviour: JobBehaviour;
  phase: 'accepted' | 'persisted' | 'dropped';
  forced?: { at: number; state: 'RefreshCompleted' | 'RefreshFailed'; reason: string };
  terminal?: Outcome;
  /** When the job ends unless forced otherwise (while it runs); keys its entry in the endings heap. */
  plannedEnd?: number;
  /** The job's info once it can no longer change (terminal), rendered once. */
  info?: JobInfo;
  /** Removed (retention GC, forgotten catalog): stale index entries skip it. */
  removed?: boolean;
}

/** A binary min-heap of (at, job) entries; stale entries are skipped by whoever pops them. */
class JobHeap {
  private readonly h: { at: number; id: bigint; job: Job }[] = [];

  get size(): number {
    return this.h.length;
  }

  peek(): { at: number; job: Job } | undefined {
    return this.h[0];
  }

  push(at: number, job: Job): void {
    const h = this.h;
    h.push({ at, id: job.id, job });
    for (let i = h.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (!before(h[i]!, h[p]!)) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
  }

  pop(): { at: number; job: Job } | undefined {
    const h = this.h;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top;
  }

  clear(): void {
    this.h.length = 0;
  }
}

function before(a: { at: number; id: bigint }, b: { at: number; id: bigint }): boolean {
  return a.at < b.at || (a.at === b.at && a.id < b.id);
}

/** Something the emulator did on its own, for the RPC log. */
export interface StateEvent {
  at: number;
  message: string;
}

const DEFAULT_DB = 'default';

/** The in-memory Milvus. Every method takes `now` (epoch ms) so tests can drive time. */
export class MilvusState {
  private readonly databases = new Map<string, { id: bigint; createdAt: number }>();
  private readonly collections = new Map<string, Collection>(); // key db\0name
  private readonly jobs = new Map<bigint, Job>();
  // Indexes over `jobs`, so that no call costs time proportional to every job kept (24 h of them):
  /** Accepted, not yet persisted or dropped. */
  private readonly accepted = new Set<Job>();
  /** Running jobs by planned end. */
  private readonly endings = new JobHeap();
  /** Ended (by end time) and dropped (by persist time) jobs, for retention. */
  private readonly retained = new JobHeap();
  /** Every job of a collection, by collection id. */
  private readonly byCollection = new Map<bigint, Set<Job>>();
  /** Persisted jobs, oldest first by (persistAt, id); removed ones are skipped and compacted away. */
  private persisted: Job[] = [];
  private removedPersisted = 0;
  private currentTimings: Timings;
  private readonly behaviours = new Map<string, Partial<JobBehaviour>>(); // key db\0name
  private lastId = 0n;
  private readonly events: StateEvent[] = [];

  constructor(timings: Timings = DEFAULT_TIMINGS, now = Date.now()) {
    this.currentTimings = timings;
    this.databases.set(DEFAULT_DB, { id: this.allocId(now), createdAt: now });
  }

  get timings(): Timings {
    return this.currentTimings;
  }

  /** New timings; the job timeout applies to running jobs too, so their planned ends are worked out again. */
  set timings(timings: Timings) {
    this.currentTimings = timings;
    const running = [...this.jobs.values()].filter((j) => j.phase === 'persisted' && !j.terminal);
    for (const job of running) this.plan(job);
  }

  // ---- id allocation ---------------------------------------------------------------------------------

  /** A global, strictly increasing id shaped like Milvus' TSO-based ids (physical ms << 18), above 2^53. */
  allocId(now: number): bigint {
    const candidate = BigInt(Math.floor(now)) << 18n;
    this.lastId = candidate > this.lastId ? candidate : this.lastId + 1n;
    return this.lastId;
  }

  // ---- databases -------------------------------------------------------------------------------------

  createDatabase(name: string, now: number): void {
    validateDatabaseName(name);
    if (this.databases.has(name)) throw databaseExists(name);
    this.databases.set(name, { id: this.allocId(now), createdAt: now });
  }

  listDatabases(): { name: string; id: bigint; createdAt: number }[] {
    return [...this.databases].map(([name, d]) => ({ name, ...d }));
  }

  private requireDatabase(db: string): void {
    if (!this.databases.has(db)) throw databaseNotFound(db);
  }

  // ---- collections -----------------------------------------------------------------------------------

  createCollection(
    req: {
      db: string;
      name: string;
      schema: DecodedSchema;
      shardsNum: number;
      consistencyLevel: string;
      properties: { key: string; value: string }[];
    },
    now: number,
  ): Collection {
    this.advance(now);
    validateCollectionName(req.name);
    this.requireDatabase(req.db);
    const external = isExternalSchema(req.schema);
    checkCreateSchema(req.name, req.schema, req.shardsNum);
    if (external && req.schema.external_source !== '') {
      validateSourceAndSpec(req.schema.external_source, req.schema.external_spec);
    }
    const key = collectionKey(req.db, req.name);
    const existing = this.collections.get(key);
    if (existing) {
      throw parameterInvalid(`collection already exists: ${req.name}`);
    }
    const collection: Collection = {
      id: this.allocId(now),
      db: req.db,
      name: req.name,
      schema: req.schema,
      external,
      externalSource: req.schema.external_source,
      externalSpec: req.schema.external_spec,
      createdAt: now,
      shardsNum: req.shardsNum <= 0 ? 1 : req.shardsNum,
      consistencyLevel: req.consistencyLevel,
      properties: req.properties,
    };
    this.collections.set(key, collection);
    return collection;
  }

  /** GetCollectionInfo: database first, then the collection. */
  getCollection(db: string, name: string, now: number): Collection {
    this.advance(now);
    this.requireDatabase(db);
    const collection = this.collections.get(collectionKey(db, name));
    if (!collection) throw collectionNotFound(db, name);
    return collection;
  }

  hasCollection(db: string, name: string, now: number): boolean {
    this.advance(now);
    this.requireDatabase(db);
    return this.collections.has(collectionKey(db, name));
  }

  listCollections(db: string, now: number): Collection[] {
    this.advance(now);
    this.requireDatabase(db);
    return [...this.collections.values()].filter((c) => c.db === db);
  }

  dropCollection(db: string, name: string, now: number): void {
    this.advance(now);
    validateCollectionName(name);
    this.requireDatabase(db);
    // Milvus' DropCollection is idempotent: dropping a missing collection succeeds.
    this.collections.delete(collectionKey(db, name));
  }

  // ---- refresh jobs ----------------------------------------------------------------------------------

  /** Sets how future jobs of one collection behave (undefined fields fall back to the server timings). */
  setCollectionBehaviour(db: string, name: string, behaviour: Partial<JobBehaviour> | undefined): void {
    if (behaviour === undefined) this.behaviours.delete(collectionKey(db, name));
    else this.behaviours.set(collectionKey(db, name), behaviour);
  }

  /**
   * RefreshExternalCollection, with the proxy's validation order, then DataCoord's synchronous duplicate
   * check, then job id allocation. The job is persisted only `persistDelayMs` later.
   */
  refresh(req: { db: string; name: string; source: string; spec: string }, now: number): bigint {
    this.advance(now);
    validateCollectionName(req.name);
    if ((req.source === '') !== (req.spec === '')) {
      throw parameterInvalid(
        `external_source and external_spec must be both provided or both omitted on refresh (got source=${goQuote(req.source)}, spec=${goQuote(redactExternalSpec(req.spec))})`,
      );
    }
    if (req.source !== '') validateSourceAndSpec(req.source, req.spec);
    const collection = this.getCollection(req.db, req.name, now);
    if (!collection.external) throw parameterInvalid(`collection ${req.name} is not an external collection`);
    if (req.source === '' && collection.externalSource === '') {
      throw parameterInvalid(
        `collection ${req.name} has no persisted external_source/external_spec; provide both in the refresh request to initialize`,
      );
    }
    const active = this.activeJob(collection.id, now);
    if (active) {
      // DataCoord's synchronous pre-check. Milvus' own e2e test expects code 1100 and "in progress"; the text
      // is the refresh manager's (the handler's exact wording is not public knowledge, see README.md).
      throw parameterInvalid(
        `refresh job ${active.id} is already in progress for collection ${collection.name}, please wait for it to complete or cancel it first`,
      );
    }
    const override = req.source !== '';
    const job: Job = {
      id: this.allocId(now),
      collectionId: collection.id,
      collectionName: collection.name,
      source: override ? req.source : collection.externalSource,
      spec: override ? req.spec : collection.externalSpec,
      override,
      persistAt: now + Math.max(0, this.timings.persistDelayMs),
      behaviour: this.behaviourFor(collection),
      phase: 'accepted',
    };
    this.add(job);
    this.advance(now);
    return job.id;
  }

  /** GetRefreshExternalCollectionProgress: any job in the cluster by id. */
  progress(jobId: string, now: number): JobInfo {
    this.advance(now);
    const id = parseJobId(jobId);
    if (id === 0n) throw parameterMissing('job_id is required');
    const job = this.jobs.get(id);
    if (!job || job.phase !== 'persisted') throw parameterInvalid(`refresh job ${id} not found`);
    return this.info(job, now);
  }

  /**
   * ListRefreshExternalCollectionJobs: a named collection is resolved in `db` (and must be external); an
   * empty name lists every job of every database. Newest first by start_time (ties by id, newest first).
   */
  list(db: string, name: string, now: number): JobInfo[] {
    this.advance(now);
    let collectionId: bigint | undefined;
    if (name !== '') {
      validateCollectionName(name);
      const collection = this.getCollection(db, name, now);
      if (!collection.external) throw parameterInvalid(`collection ${name} is not an external collection`);
      collectionId = collection.id;
    }
    if (collectionId !== undefined) {
      return [...(this.byCollection.get(collectionId) ?? [])]
        .filter((j) => j.phase === 'persisted')
        .sort((a, b) => b.persistAt - a.persistAt || (b.id > a.id ? 1 : b.id < a.id ? -1 : 0))
        .map((j) => this.info(j, now));
    }
    const out: JobInfo[] = [];
    for (let i = this.persisted.length - 1; i >= 0; i--) {
      const job = this.persisted[i]!;
      if (!job.removed) out.push(this.info(job, now));
    }
    return out;
  }

  /** Test control: finish a job now, as if its tasks all completed. */
  completeJob(jobId: string, now: number): void {
    this.force(jobId, now, 'RefreshCompleted', '');
  }

  /** Test control: fail a job now with a reason. */
  failJob(jobId: string, reason: string, now: number): void {
    this.force(jobId, now, 'RefreshFailed', reason);
  }

  /** Simulates a DataCoord that lost its job catalog (jobs that "survive restarts" do not here). */
  forgetJobs(): void {
    for (const job of this.jobs.values()) job.removed = true;
    this.jobs.clear();
    this.accepted.clear();
    this.endings.clear();
    this.retained.clear();
    this.byCollection.clear();
    this.persisted = [];
    this.removedPersisted = 0;
  }

  /**
   * Adds jobs that already ended (benchmarks: the 24 h of finished jobs a real Milvus keeps). `collections`
   * are [db, name] pairs of existing external collections, used in turn; end times are spread evenly over
   * the `spreadMs` before `now`, each job lasting `durationMs`.
   */
  seedEndedJobs(
    count: number,
    collections: [string, string][],
    now: number,
    opts: { spreadMs?: number; durationMs?: number } = {},
  ): void {
    if (collections.length === 0 || count <= 0) return;
    const spread = opts.spreadMs ?? Math.min(this.timings.retentionMs, 86_400_000) - 60_000;
    const duration = opts.durationMs ?? 6_000;
    const targets = collections.map(([db, name]) => this.getCollection(db, name, now));
    for (let i = 0; i < count; i++) {
      const c = targets[i % targets.length]!;
      const end = now - spread + Math.floor((spread * i) / count);
      const job: Job = {
        id: this.allocId(now),
        collectionId: c.id,
        collectionName: c.name,
        source: c.externalSource,
        spec: c.externalSpec,
        override: false,
        persistAt: end - duration,
        behaviour: this.behaviourFor(c),
        phase: 'persisted',
        terminal: { state: 'RefreshCompleted', progress: 100, reason: '', endTime: end },
      };
      this.add(job);
      this.insertPersisted(job);
      this.retained.push(end, job);
    }
  }

  /** What the emulator did on its own since the last call (persisted, dropped, finished jobs). */
  drainEvents(): StateEvent[] {
    return this.events.splice(0, this.events.length);
  }

  /** Materialises everything that happened up to `now`, in time order. */
  advance(now: number): void {
    if (this.accepted.size > 0) {
      const pending = [...this.accepted]
        .filter((j) => j.persistAt <= now)
        .sort((a, b) => a.persistAt - b.persistAt || (a.id < b.id ? -1 : 1));
      for (const job of pending) {
        this.accepted.delete(job);
        this.persist(job);
      }
    }
    // Running jobs end in time order (their planned ends are exact: a job's outcome is a function of time).
    for (let top = this.endings.peek(); top && top.at <= now; top = this.endings.peek()) {
      this.endings.pop();
      const job = top.job;
      if (job.removed || job.terminal || job.plannedEnd !== top.at) continue; // stale entry
      job.terminal = this.evaluate(job, top.at);
      job.plannedEnd = undefined;
      this.retained.push(job.terminal.endTime, job);
      this.onTerminal(job);
    }
    const retention = this.timings.retentionMs;
    for (let top = this.retained.peek(); top && top.at + retention < now; top = this.retained.peek()) {
      this.retained.pop();
      const job = top.job;
      if (job.removed) continue;
      this.remove(job);
      if (job.terminal) this.events.push({ at: now, message: `job ${job.id} removed after retention` });
    }
  }

  // ---- internals -------------------------------------------------------------------------------------

  private force(jobId: string, now: number, state: 'RefreshCompleted' | 'RefreshFailed', reason: string): void {
    this.advance(now);
    const job = this.jobs.get(parseJobId(jobId));
    if (!job || job.phase === 'dropped') throw new Error(`no refresh job ${jobId}`);
    if (job.terminal) throw new Error(`refresh job ${jobId} already ended in ${job.terminal.state}`);
    job.forced = { at: Math.max(now, job.persistAt), state, reason };
    if (job.phase === 'persisted') this.plan(job);
    this.advance(Math.max(now, job.persistAt));
  }

  /** The WAL ack callback: persist, or silently drop (collection gone, or a duplicate active job). */
  private persist(job: Job): void {
    const collection = [...this.collections.values()].find((c) => c.id === job.collectionId);
    if (!collection) {
      job.phase = 'dropped';
      this.retained.push(job.persistAt, job);
      this.events.push({
        at: job.persistAt,
        message: `job ${job.id} dropped by the ack callback: collection not found`,
      });
      return;
    }
    const active = this.activeJob(job.collectionId, job.persistAt);
    if (active) {
      job.phase = 'dropped';
      this.retained.push(job.persistAt, job);
      this.events.push({
        at: job.persistAt,
        message: `job ${job.id} dropped by the ack callback: job ${active.id} is already in progress (milvus#49231)`,
      });
      return;
    }
    job.phase = 'persisted';
    this.insertPersisted(job);
    this.plan(job);
    this.events.push({ at: job.persistAt, message: `job ${job.id} persisted for collection ${job.collectionName}` });
  }

  private onTerminal(job: Job): void {
    const outcome = job.terminal!;
    this.events.push({
      at: outcome.endTime,
      message: `job ${job.id} ${outcome.state}${outcome.reason ? `: ${outcome.reason}` : ''}`,
    });
    if (outcome.state !== 'RefreshCompleted' || !job.override) return;
    const collection = [...this.collections.values()].find((c) => c.id === job.collectionId);
    if (collection) {
      collection.externalSource = job.source;
      collection.externalSpec = job.spec;
    }
  }

  private activeJob(collectionId: bigint, at: number): Job | undefined {
    for (const job of this.byCollection.get(collectionId) ?? []) {
      if (job.phase !== 'persisted' || job.collectionId !== collectionId || job.persistAt > at) continue;
      if (this.evaluate(job, at).endTime === 0) return job;
    }
    return undefined;
  }

  /** The job's state at time `at`; endTime is 0 while it is not terminal. */
  private evaluate(job: Job, at: number): Outcome {
    if (job.terminal && job.terminal.endTime <= at) return job.terminal;
    const b = job.behaviour;
    const start = job.persistAt;
    const pendingMs = Math.max(0, Math.min(b.pendingMs, b.durationMs));
    const runMs = Math.max(1, b.durationMs - pendingMs);
    const progressAt = (t: number): number => {
      if (b.stuck || t - start < pendingMs) return 0;
      return Math.min(99, Math.floor((100 * (t - start - pendingMs)) / runMs));
    };
    const candidates: Outcome[] = [];
    if (job.forced) {
      const { at: forcedAt, state, reason } = job.forced;
      candidates.push({
        state,
        reason,
        endTime: forcedAt,
        progress: state === 'RefreshCompleted' ? 100 : progressAt(forcedAt),
      });
    }
    const timeoutAt = start + this.timings.jobTimeoutMs;
    const lastFailure = b.transientReason ? `timeout, last failure: ${b.transientReason}` : 'timeout';
    candidates.push({
      state: 'RefreshFailed',
      reason: lastFailure,
      endTime: timeoutAt,
      progress: progressAt(timeoutAt),
    });
    if (!b.stuck) {
      if (b.failAtPercent !== undefined) {
        const pct = Math.max(0, Math.min(99, Math.floor(b.failAtPercent)));
        const failAt = start + pendingMs + Math.ceil((runMs * pct) / 100);
        candidates.push({
          state: 'RefreshFailed',
          reason: b.failReason ?? 'refresh failed',
          endTime: failAt,
          progress: pct,
        });
      } else {
        candidates.push({ state: 'RefreshCompleted', reason: '', endTime: start + pendingMs + runMs, progress: 100 });
      }
    }
    const first = candidates.filter((c) => c.endTime <= at).sort((x, y) => x.endTime - y.endTime)[0];
    if (first) return { ...first, endTime: Math.max(first.endTime, start + 1) };
    const pending = b.stuck || at - start < pendingMs;
    return {
      state: pending ? 'RefreshPending' : 'RefreshInProgress',
      progress: progressAt(at),
      reason: pending ? (b.transientReason ?? '') : '',
      endTime: 0,
    };
  }

  private info(job: Job, now: number): JobInfo {
    if (job.info) return job.info;
    const o = this.evaluate(job, now);
    const info: JobInfo = {
      job_id: job.id.toString(),
      collection_name: job.collectionName,
      state: o.state,
      progress: String(o.progress),
      reason: o.reason,
      external_source: job.source,
      start_time: String(job.persistAt),
      end_time: String(o.endTime),
      external_spec: redactExternalSpec(job.spec),
    };
    // An ended job never changes again: its info is rendered once (lists of 24 h of jobs stay cheap).
    if (job.terminal && job.terminal.endTime <= now) job.info = info;
    return info;
  }

  private add(job: Job): void {
    this.jobs.set(job.id, job);
    if (job.phase === 'accepted') this.accepted.add(job);
    let set = this.byCollection.get(job.collectionId);
    if (!set) this.byCollection.set(job.collectionId, (set = new Set()));
    set.add(job);
  }

  private remove(job: Job): void {
    job.removed = true;
    this.jobs.delete(job.id);
    this.accepted.delete(job);
    const set = this.byCollection.get(job.collectionId);
    set?.delete(job);
    if (set?.size === 0) this.byCollection.delete(job.collectionId);
    if (
      job.phase === 'persisted' &&
      ++this.removedPersisted > 1024 &&
      this.removedPersisted * 2 > this.persisted.length
    ) {
      this.persisted = this.persisted.filter((j) => !j.removed);
      this.removedPersisted = 0;
    }
  }

  /** Keeps `persisted` ordered by (persistAt, id); jobs mostly arrive in that order. */
  private insertPersisted(job: Job): void {
    const list = this.persisted;
    let i = list.length;
    while (
      i > 0 &&
      (list[i - 1]!.persistAt > job.persistAt || (list[i - 1]!.persistAt === job.persistAt && list[i - 1]!.id > job.id))
    ) {
      if (list.length - i > 64) {
        // Far out of order (seeded history): binary search instead of walking.
        let lo = 0;
        let hi = i;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          const m = list[mid]!;
          if (m.persistAt < job.persistAt || (m.persistAt === job.persistAt && m.id < job.id)) lo = mid + 1;
          else hi = mid;
        }
        i = lo;
        break;
      }
      i--;
    }
    list.splice(i, 0, job);
  }

  /** Works out when a running job ends (its outcome is a function of time) and files it under that time. */
  private plan(job: Job): void {
    if (job.terminal || job.removed) return;
    const end = this.plannedEnd(job);
    job.plannedEnd = end;
    this.endings.push(end, job);
  }

  /** The time at which `evaluate` first reports the job terminal. */
  private plannedEnd(job: Job): number {
    const b = job.behaviour;
    const start = job.persistAt;
    const pendingMs = Math.max(0, Math.min(b.pendingMs, b.durationMs));
    const runMs = Math.max(1, b.durationMs - pendingMs);
    const ends: number[] = [start + this.timings.jobTimeoutMs];
    if (job.forced) ends.push(job.forced.at);
    if (!b.stuck) {
      if (b.failAtPercent !== undefined) {
        const pct = Math.max(0, Math.min(99, Math.floor(b.failAtPercent)));
        ends.push(start + pendingMs + Math.ceil((runMs * pct) / 100));
      } else {
        ends.push(start + pendingMs + runMs);
      }
    }
    return Math.min(...ends);
  }

  private behaviourFor(collection: Collection): JobBehaviour {
    const own = this.behaviours.get(collectionKey(collection.db, collection.name)) ?? {};
    return { ...this.timings.job, ...own };
  }
}

function collectionKey(db: string, name: string): string {
  return `${db}\u0000${name}`;
}

function parseJobId(jobId: string): bigint {
  if (!/^-?\d+$/.test(jobId.trim())) throw parameterInvalid(`invalid job_id ${JSON.stringify(jobId)}`);
  return BigInt(jobId.trim());
}

/** Go's %q for a plain string. */
function goQuote(s: string): string {
  return JSON.stringify(s);
}

export { MilvusError };
