/**
 * Follows active Milvus jobs for every resource at once. Per Milvus endpoint and poll it makes either one
 * ListRefreshExternalCollectionJobs with no collection (every job Milvus keeps) or one list per watched
 * collection, whichever has measured cheaper (list-strategy.ts); an endpoint without active jobs costs
 * nothing. Each resource registers the job it watches (its own, or a foreign one it waits for); after each
 * poll the observer wakes the resources whose job changed state, appeared, went missing or stayed missing,
 * and, at most once per progress interval, those whose job only progressed.
 *
 * Work per poll is proportional to the endpoint's watched jobs: jobs are looked up by id in the answer, and
 * a job is decoded only when its encoded bytes changed since the last poll (JobSnapshot). A watched job seen
 * ended is not looked for again (Milvus never changes an ended job; it only deletes it after its retention),
 * so only collections with a running, or not yet listed, job are listed one by one, and an endpoint whose
 * watched jobs have all ended is not listed at all until its resources have written their status.
 */
import { isTerminal } from '../api/v1alpha1.js';
import { maxJobId } from '../reconcile/messages.js';
import type { ObservedView, Watch } from '../reconcile/model.js';
import type { Endpoint, MilvusPort } from '../reconcile/ports.js';
import { type JobInfo, MilvusCallError, type MilvusFailure } from '../reconcile/types.js';
import type { Logger } from '../logger.js';
import { NO_JITTER, backoffMs } from '../util/backoff.js';
import { type ListCosts, type ListStrategy, chooseListStrategy, smoothCost } from './list-strategy.js';

/** One list answer, indexed by job id. */
export interface JobSnapshot {
  readonly size: number;
  /**
   * A fingerprint of each listed job among `jobIds` (not listed: left out); equal fingerprints mean an
   * unchanged job (the Milvus adapter uses the job's encoded bytes).
   */
  fingerprints(jobIds: string[]): Map<string, string>;
  /** The listed jobs among `jobIds`, decoded. */
  jobs(jobIds: string[]): Map<string, JobInfo>;
  /** Frees the answer's memory now; the snapshot is not read after. */
  release?(): void;
  /** What the whole answer says at a glance (read before release). */
  summary?(): JobListSummary;
}

/** What a whole list says at a glance. */
export interface JobListSummary {
  /** The highest job id listed ('0' for an empty list). */
  highestJobId: string;
  /** Names of the collections with a job in a non-terminal state (a list names no database). */
  activeCollections: ReadonlySet<string>;
}

/** What the observer needs from Milvus: the port's list, and optionally a cheaper indexed form of it. */
export type ObserverMilvus = Pick<MilvusPort, 'listJobs'> & {
  listSnapshot?(endpoint: Endpoint, collection: string): Promise<JobSnapshot>;
};

interface EndpointState {
  /** The newest endpoint registered (newest credentials); its database does not matter for the all-jobs list. */
  endpoint: Endpoint;
  keys: Set<string>;
  fetchedAtMs: number;
  error?: { failure: MilvusFailure; sinceMs: number };
  failures: number;
  timer?: ReturnType<typeof setTimeout>;
  running: boolean;
  strategy: ListStrategy;
  costs: ListCosts;
  pollsSinceAll: number;
  /** The latest all-jobs answer at a glance, and the mark taken just before it was asked for. */
  recent?: JobListSummary & { mark: number };
  /** Submissions that asked for `recent` since the last poll (ListCosts.submissionsPerPoll). */
  asks: number;
}

interface Watcher {
  endpointKey: string;
  /** The endpoint as the resource uses it (its database is where its collection lives). */
  endpoint: Endpoint;
  watch: NonNullable<Watch>;
  /** The watched job as last listed, and its fingerprint; undefined while it is not listed. */
  job?: JobInfo;
  print?: string;
  /** Fetch time of the first list that lacked the watched job. */
  missingSinceMs?: number;
  /** What the resource was last woken for: everything but progress, and progress. */
  delivered?: string;
  deliveredProgress?: number;
  progressWokenAtMs?: number;
}

export interface ObserverOptions {
  pollIntervalMs: number;
  maxBackoffMs: number;
  /** A job that only progressed wakes its resource at most this often (0: on every change). */
  progressIntervalMs?: number;
  /** The database and collection a resource's watched job belongs to (enables per-collection lists). */
  collectionOf?: (key: string) => { database: string; collection: string } | undefined;
  /** Observes each list call (metrics). */
  onList?: (strategy: ListStrategy, seconds: number) => void;
  /** At most this many per-collection lists of one endpoint run at once. */
  collectionListConcurrency?: number;
  now?: () => number;
}

export class JobObserver {
  private readonly endpoints = new Map<string, EndpointState>();
  private readonly watchers = new Map<string, Watcher>();
  private stopped = false;
  private marks = 0;
  private readonly now: () => number;

  constructor(
    private readonly milvus: ObserverMilvus,
    /** Wakes a resource; `ended`: its job ended (the manager hands those out before anything else). */
    private readonly enqueue: (key: string, ended: boolean) => void,
    private readonly options: ObserverOptions,
    private readonly log: Logger,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Number of endpoints being polled (for metrics and tests). */
  get activeEndpoints(): number {
    return this.endpoints.size;
  }

  /** How many endpoints each strategy lists now (for metrics and the benchmark). */
  strategies(): Record<ListStrategy, number> {
    const counts = { all: 0, collection: 0 };
    for (const s of this.endpoints.values()) counts[s.strategy] += 1;
    return counts;
  }

  /** Observe `watch` on `endpoint` for resource `key` (replaces what the key watched before). */
  watch(key: string, endpoint: Endpoint, watch: NonNullable<Watch>): void {
    if (this.stopped) return;
    const previous = this.watchers.get(key);
    if (
      previous &&
      previous.endpointKey === endpoint.key &&
      previous.endpoint.database === endpoint.database &&
      previous.watch.jobId === watch.jobId
    ) {
      previous.endpoint = endpoint;
      return;
    }
    if (previous) this.detach(key, previous);
    this.watchers.set(key, { endpointKey: endpoint.key, endpoint, watch });
    const state = this.endpoints.get(endpoint.key);
    if (state) {
      state.endpoint = endpoint; // newest credentials
      state.keys.add(key);
      return;
    }
    this.endpoints.set(endpoint.key, {
      endpoint,
      keys: new Set([key]),
      fetchedAtMs: 0,
      failures: 0,
      running: false,
      strategy: 'all',
      costs: {},
      pollsSinceAll: 0,
      asks: 0,
    });
    this.schedule(endpoint.key, 0);
  }

  /**
   * A point in this process's order of events: an all-jobs answer asked for after `mark()` returned m carries
   * a mark above m. The reconciler marks when it first sees a trigger (no clock: one that steps back cannot
   * reorder marks).
   */
  mark(): number {
    return ++this.marks;
  }

  /**
   * What the endpoint's latest all-jobs answer says for a submission on `collection`, if that answer was asked
   * for after mark `since` and shows no active job of a collection of that name: the highest job id Milvus
   * had then (job ids come from one allocator per Milvus cluster, so every job started after the request has a
   * higher one). Undefined when there is no such answer (the endpoint is not polled, or polled one collection
   * at a time, or not since `since`), or when some collection of that name (in any database: a list names
   * none) has an active job; then the caller lists the collection.
   */
  recentJobs(endpointKey: string, collection: string, since: number): { highestJobId: string } | undefined {
    const state = this.endpoints.get(endpointKey);
    if (!state) return undefined;
    state.asks += 1;
    const recent = state.recent;
    if (!recent || recent.mark <= since || recent.activeCollections.has(collection)) return undefined;
    return { highestJobId: recent.highestJobId };
  }

  /** Stop observing for `key`. */
  unwatch(key: string): void {
    const w = this.watchers.get(key);
    if (w) this.detach(key, w);
  }

  /** The latest view for `key`, if it watches something. */
  view(key: string): ObservedView | undefined {
    const w = this.watchers.get(key);
    if (!w) return undefined;
    const state = this.endpoints.get(w.endpointKey);
    if (!state) return undefined;
    return viewOf(state, w);
  }

  stop(): void {
    this.stopped = true;
    for (const s of this.endpoints.values()) if (s.timer) clearTimeout(s.timer);
    this.endpoints.clear();
    this.watchers.clear();
  }

  private detach(key: string, w: Watcher): void {
    this.watchers.delete(key);
    const state = this.endpoints.get(w.endpointKey);
    if (!state) return;
    state.keys.delete(key);
    if (state.keys.size > 0) return;
    if (state.timer) clearTimeout(state.timer);
    this.endpoints.delete(w.endpointKey);
  }

  /** Whether some watcher of the endpoint waits for a job that has not been seen ended. */
  private anyActive(state: EndpointState): boolean {
    for (const key of state.keys) {
      const w = this.watchers.get(key);
      if (w && !ended(w)) return true;
    }
    return false;
  }

  private schedule(endpointKey: string, delayMs: number): void {
    const state = this.endpoints.get(endpointKey);
    if (!state || this.stopped) return;
    if (state.timer) clearTimeout(state.timer);
    state.timer = setTimeout(() => void this.poll(endpointKey), delayMs);
  }

  private async poll(endpointKey: string): Promise<void> {
    const state = this.endpoints.get(endpointKey);
    if (!state || state.running || this.stopped) return;
    state.running = true;
    state.timer = undefined;
    const pollStarted = this.now();
    let lookup: Lookup | undefined;
    try {
      if (!this.anyActive(state)) {
        // Every watched job has ended: nothing Milvus could say changes them. Wait for new watches.
        state.running = false;
        this.schedule(endpointKey, this.options.pollIntervalMs);
        return;
      }
      lookup = await this.list(state);
      state.fetchedAtMs = this.now();
      if (state.error) this.log.info('Milvus endpoint reachable again', { address: state.endpoint.address });
      state.error = undefined;
      state.failures = 0;
    } catch (err) {
      const failure: MilvusFailure =
        err instanceof MilvusCallError ? err.failure : { kind: 'other', message: (err as Error).message };
      if (!state.error)
        this.log.warn('Listing Milvus refresh jobs failed', {
          address: state.endpoint.address,
          error: failure.message,
        });
      state.error = { failure, sinceMs: state.error?.sinceMs ?? this.now() };
      state.failures += 1;
    } finally {
      state.running = false;
    }
    if (this.endpoints.get(endpointKey) !== state) return; // released meanwhile
    const now = this.now();
    if (lookup) {
      this.refresh(state, lookup.find);
      lookup.release?.();
    }
    for (const key of state.keys) {
      const w = this.watchers.get(key);
      if (w) this.deliver(state, key, w, now);
    }
    // Deterministic: polls of one endpoint are already spread by when their first watcher came. A healthy
    // endpoint is polled every interval from the start of the last poll (a slow list does not stretch it).
    const delay = state.error
      ? backoffMs(state.failures - 1, this.options.pollIntervalMs, this.options.maxBackoffMs, NO_JITTER)
      : Math.max(0, this.options.pollIntervalMs - (this.now() - pollStarted));
    this.schedule(endpointKey, delay);
  }

  /** Wakes the resource of `w` if what it would see changed (or its job is still missing). */
  private deliver(state: EndpointState, key: string, w: Watcher, now: number): void {
    const progressEvery = this.options.progressIntervalMs ?? 0;
    const job = state.error && !ended(w) ? undefined : w.job;
    // No job to show (missing, or the endpoint failing): woken every poll, so grace periods and
    // --unavailable-stall are judged as time passes.
    const missing = !job;
    const fingerprint =
      !job && state.error
        ? `error|${state.error.failure.kind}|${state.error.failure.message}`
        : job
          ? `job|${job.state}|${job.reason}|${job.endTimeMs}|${job.startTimeMs}|${job.externalSource}|${job.externalSpec}`
          : 'missing';
    const progress = job?.progress ?? -1;
    const changed = fingerprint !== w.delivered;
    const progressed =
      progress !== w.deliveredProgress && (now - (w.progressWokenAtMs ?? -Infinity) >= progressEvery || changed);
    if (changed || progressed || missing) {
      w.delivered = fingerprint;
      if (progress !== w.deliveredProgress) w.progressWokenAtMs = now;
      w.deliveredProgress = progress;
      this.enqueue(key, job !== undefined && isTerminal(job.state));
    }
  }

  /**
   * One per-collection answer, as soon as it arrives: its listed jobs are taken (a job missing from it is
   * left to the end of the poll, which dates the absence), and a job seen ended wakes its resource at once,
   * not after the poll's other lists.
   */
  private takeAnswer(state: EndpointState, keys: string[], snapshot: JobSnapshot): JobSnapshot {
    const ws: [string, Watcher][] = [];
    for (const key of keys) {
      const w = this.watchers.get(key);
      if (w && !ended(w)) ws.push([key, w]);
    }
    const prints = snapshot.fingerprints(ws.map(([, w]) => w.watch.jobId));
    // What the end of the poll still reads: which watched jobs were listed (each is taken below). The answer
    // itself is dropped now, young: kept to the end of the poll it was promoted, and its buffer, external
    // memory, was freed only by a full collection.
    const taken = takenSnapshot(snapshot.size, prints);
    const changed = ws.filter(([, w]) => {
      const print = prints.get(w.watch.jobId);
      return print !== undefined && print !== w.print;
    });
    if (changed.length === 0) return taken;
    const jobs = snapshot.jobs(changed.map(([, w]) => w.watch.jobId));
    const now = this.now();
    for (const [key, w] of changed) {
      const job = jobs.get(w.watch.jobId);
      if (!job) continue;
      w.job = job;
      w.print = prints.get(w.watch.jobId);
      w.missingSinceMs = undefined;
      if (isTerminal(job.state)) this.deliver(state, key, w, now);
    }
    return taken;
  }

  /** Takes each watcher's job from the new answers, decoding only the jobs whose bytes changed. */
  private refresh(state: EndpointState, lookup: (w: Watcher) => JobSnapshot): void {
    const bySnapshot = new Map<JobSnapshot, Watcher[]>();
    for (const key of state.keys) {
      const w = this.watchers.get(key);
      if (!w || ended(w)) continue;
      const snapshot = lookup(w);
      const list = bySnapshot.get(snapshot);
      if (list) list.push(w);
      else bySnapshot.set(snapshot, [w]);
    }
    for (const [snapshot, ws] of bySnapshot) {
      const prints = snapshot.fingerprints(ws.map((w) => w.watch.jobId));
      const changed: Watcher[] = [];
      for (const w of ws) {
        const print = prints.get(w.watch.jobId);
        if (print === undefined) {
          w.job = undefined;
          w.print = undefined;
          w.missingSinceMs ??= state.fetchedAtMs;
          continue;
        }
        w.missingSinceMs = undefined;
        if (print === w.print) continue;
        w.print = print;
        changed.push(w);
      }
      if (changed.length === 0) continue;
      const jobs = snapshot.jobs(changed.map((w) => w.watch.jobId));
      for (const w of changed) w.job = jobs.get(w.watch.jobId);
    }
  }

  /** Lists the endpoint by its cheaper strategy; resolves with where each watcher finds its job. */
  private async list(state: EndpointState): Promise<Lookup> {
    const groups = this.collectionGroups(state);
    state.costs.submissionsPerPoll = smoothCost(state.costs.submissionsPerPoll, state.asks);
    state.asks = 0;
    state.strategy = chooseListStrategy({
      collections: groups?.lists.size,
      costs: state.costs,
      current: state.strategy,
      pollsSinceAll: state.pollsSinceAll,
    });
    if (state.strategy === 'collection' && groups) {
      const answers = await this.listCollections(state, groups.lists);
      if (answers) {
        state.pollsSinceAll += 1;
        // Each answer was taken as it arrived (takeAnswer, which dropped it): nothing is left to release.
        return { find: (w) => answers.get(groups.of.get(w) ?? '') ?? EMPTY };
      }
      state.strategy = 'all'; // a collection could not be listed on its own (dropped, renamed): list them all
    }
    const mark = this.mark();
    const started = performance.now();
    const snapshot = await this.snapshot(state.endpoint, '');
    const ms = performance.now() - started;
    // Read now: the answer's memory is released at the end of the poll. An answer from a failed poll or an
    // earlier strategy stays: it was still asked for after the marks below its own.
    if (snapshot.summary) state.recent = { ...snapshot.summary(), mark };
    state.costs.allMs = smoothCost(state.costs.allMs, ms);
    state.costs.allJobs = snapshot.size;
    state.pollsSinceAll = 0;
    this.options.onList?.('all', ms / 1000);
    return { find: () => snapshot, release: () => snapshot.release?.() };
  }

  /** Watchers grouped by (database, collection); undefined when some watcher's collection is unknown. */
  private collectionGroups(
    state: EndpointState,
  ): { lists: Map<string, CollectionList>; of: Map<Watcher, string> } | undefined {
    const collectionOf = this.options.collectionOf;
    if (!collectionOf) return undefined;
    const lists = new Map<string, CollectionList>();
    const of = new Map<Watcher, string>();
    for (const key of state.keys) {
      const w = this.watchers.get(key);
      if (w && ended(w)) continue;
      const target = collectionOf(key);
      if (!w || !target || target.database !== w.endpoint.database) return undefined;
      const group = `${target.database}\u0000${target.collection}`;
      const list = lists.get(group);
      if (list) {
        list.endpoint = w.endpoint;
        list.keys.push(key);
      } else lists.set(group, { endpoint: w.endpoint, collection: target.collection, keys: [key] });
      of.set(w, group);
    }
    return { lists, of };
  }

  /** One list per collection; undefined when one of them failed other than by unavailability. */
  private async listCollections(
    state: EndpointState,
    groups: Map<string, CollectionList>,
  ): Promise<Map<string, JobSnapshot> | undefined> {
    const answers = new Map<string, JobSnapshot>();
    const pending = [...groups];
    let failed = false;
    let spentMs = 0;
    const worker = async (): Promise<void> => {
      for (let next = pending.shift(); next && !failed; next = pending.shift()) {
        const [key, { endpoint, collection, keys }] = next;
        const started = performance.now();
        let snapshot: JobSnapshot;
        try {
          snapshot = await this.snapshot(endpoint, collection);
        } catch (err) {
          if (err instanceof MilvusCallError && err.failure.kind === 'unavailable') throw err;
          failed = true;
          return;
        }
        const ms = performance.now() - started;
        spentMs += ms;
        this.options.onList?.('collection', ms / 1000);
        answers.set(
          key,
          this.endpoints.get(state.endpoint.key) === state ? this.takeAnswer(state, keys, snapshot) : snapshot,
        );
      }
    };
    const concurrency = Math.max(1, this.options.collectionListConcurrency ?? 4);
    await Promise.all(Array.from({ length: Math.min(concurrency, pending.length) }, worker));
    if (failed) return undefined;
    // What one list costs, from call to answer. Running a few at once shortens the poll, not their cost.
    state.costs.collectionMs = smoothCost(state.costs.collectionMs, spentMs / groups.size);
    return answers;
  }

  private async snapshot(endpoint: Endpoint, collection: string): Promise<JobSnapshot> {
    if (this.milvus.listSnapshot) return this.milvus.listSnapshot(endpoint, collection);
    return snapshotOf(await this.milvus.listJobs(endpoint, collection));
  }
}

/** Where each watcher finds its job after a poll's lists, and how to free an answer still held once read. */
interface Lookup {
  find: (w: Watcher) => JobSnapshot;
  release?: () => void;
}

/** One collection to list, and the resources whose jobs it holds. */
interface CollectionList {
  endpoint: Endpoint;
  collection: string;
  keys: string[];
}

const EMPTY: JobSnapshot = { size: 0, fingerprints: () => new Map(), jobs: () => new Map() };

/**
 * What remains of an answer once its listed jobs were taken: their fingerprints, which the end of the poll
 * finds unchanged; a job not among them is missing from the answer.
 */
function takenSnapshot(size: number, prints: Map<string, string>): JobSnapshot {
  const pick = <T>(from: Map<string, T>, ids: string[]): Map<string, T> =>
    new Map(ids.flatMap((id) => (from.has(id) ? [[id, from.get(id)!] as const] : [])));
  return { size, fingerprints: (ids) => pick(prints, ids), jobs: () => new Map() };
}

/** A snapshot over a decoded list (for ports without listSnapshot, such as test fakes). */
export function snapshotOf(jobs: JobInfo[]): JobSnapshot {
  const byId = new Map(jobs.map((j) => [j.jobId, j]));
  return {
    size: byId.size,
    summary: () => ({
      highestJobId: maxJobId(jobs),
      activeCollections: new Set(jobs.filter((j) => !isTerminal(j.state)).map((j) => j.collectionName)),
    }),
    fingerprints: (ids) =>
      new Map(ids.flatMap((id) => (byId.has(id) ? [[id, JSON.stringify(byId.get(id))] as const] : []))),
    jobs: (ids) => new Map(ids.flatMap((id) => (byId.has(id) ? [[id, byId.get(id)!] as const] : []))),
  };
}

/** Whether the watched job was seen ended: Milvus never changes it again, so it is not looked for again. */
function ended(w: Watcher): boolean {
  return w.job !== undefined && isTerminal(w.job.state);
}

function viewOf(state: EndpointState, w: Watcher): ObservedView {
  const view: ObservedView = { fetchedAtMs: state.fetchedAtMs };
  // While listing fails the last snapshot is not the truth any more: report the failure only (an ended job
  // stays what it was).
  if (state.error && !ended(w)) return { ...view, error: state.error };
  if (w.job) view.job = w.job;
  else if (w.missingSinceMs !== undefined) view.missingSinceMs = w.missingSinceMs;
  return view;
}
