/**
 * Follows active Milvus jobs at the cost of one ListRefreshExternalCollectionJobs (all collections) per
 * Milvus endpoint per poll, and none for an endpoint without active jobs. Each resource registers the job
 * it watches (its own, or a foreign one it waits for); after each list the observer wakes the resources
 * whose view changed or whose job is still missing.
 */
import type { ObservedView, Watch } from '../reconcile/model.js';
import type { Endpoint, MilvusPort } from '../reconcile/ports.js';
import { type JobInfo, MilvusCallError, type MilvusFailure } from '../reconcile/types.js';
import type { Logger } from '../logger.js';
import { NO_JITTER, backoffMs } from '../util/backoff.js';

interface EndpointState {
  endpoint: Endpoint;
  fetchedAtMs: number;
  jobs: Map<string, JobInfo>;
  error?: { failure: MilvusFailure; sinceMs: number };
  failures: number;
  timer?: ReturnType<typeof setTimeout>;
  running: boolean;
}

interface Watcher {
  endpointKey: string;
  watch: NonNullable<Watch>;
  delivered?: string;
  /** Fetch time of the first list that lacked the watched job. */
  missingSinceMs?: number;
}

export interface ObserverOptions {
  pollIntervalMs: number;
  maxBackoffMs: number;
  now?: () => number;
}

export class JobObserver {
  private readonly endpoints = new Map<string, EndpointState>();
  private readonly watchers = new Map<string, Watcher>();
  private stopped = false;
  private readonly now: () => number;

  constructor(
    private readonly milvus: MilvusPort,
    private readonly enqueue: (key: string) => void,
    private readonly options: ObserverOptions,
    private readonly log: Logger,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Number of endpoints being polled (for metrics and tests). */
  get activeEndpoints(): number {
    return this.endpoints.size;
  }

  /** Observe `watch` on `endpoint` for resource `key` (replaces what the key watched before). */
  watch(key: string, endpoint: Endpoint, watch: NonNullable<Watch>): void {
    if (this.stopped) return;
    const previous = this.watchers.get(key);
    if (previous && previous.endpointKey === endpoint.key && JSON.stringify(previous.watch) === JSON.stringify(watch))
      return;
    this.watchers.set(key, { endpointKey: endpoint.key, watch });
    if (previous && previous.endpointKey !== endpoint.key) this.release(previous.endpointKey);
    const state = this.endpoints.get(endpoint.key);
    if (state) {
      state.endpoint = endpoint; // newest credentials
      return;
    }
    this.endpoints.set(endpoint.key, { endpoint, fetchedAtMs: 0, jobs: new Map(), failures: 0, running: false });
    this.schedule(endpoint.key, 0);
  }

  /** Stop observing for `key`. */
  unwatch(key: string): void {
    const w = this.watchers.get(key);
    if (!w) return;
    this.watchers.delete(key);
    this.release(w.endpointKey);
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

  private release(endpointKey: string): void {
    if ([...this.watchers.values()].some((w) => w.endpointKey === endpointKey)) return;
    const state = this.endpoints.get(endpointKey);
    if (state?.timer) clearTimeout(state.timer);
    this.endpoints.delete(endpointKey);
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
    try {
      const jobs = await this.milvus.listJobs(state.endpoint, '');
      state.jobs = new Map(jobs.map((j) => [j.jobId, j]));
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
    for (const [key, w] of this.watchers) {
      if (w.endpointKey !== endpointKey) continue;
      if (!state.error)
        w.missingSinceMs = state.jobs.has(w.watch.jobId) ? undefined : (w.missingSinceMs ?? state.fetchedAtMs);
      const view = viewOf(state, w);
      const fingerprint = JSON.stringify({
        ...view,
        fetchedAtMs: undefined,
        missingSinceMs: undefined,
        error: view.error?.failure,
      });
      const missing = !view.job;
      if (fingerprint !== w.delivered || missing) {
        w.delivered = fingerprint;
        this.enqueue(key);
      }
    }
    // Deterministic: polls of one endpoint are already spread by when their first watcher came.
    const delay = state.error
      ? backoffMs(state.failures - 1, this.options.pollIntervalMs, this.options.maxBackoffMs, NO_JITTER)
      : this.options.pollIntervalMs;
    this.schedule(endpointKey, delay);
  }
}

function viewOf(state: EndpointState, w: Watcher): ObservedView {
  const view: ObservedView = { fetchedAtMs: state.fetchedAtMs };
  // While listing fails the last snapshot is not the truth any more: report the failure only.
  if (state.error) return { ...view, error: state.error };
  const job = state.jobs.get(w.watch.jobId);
  if (job) view.job = job;
  else if (w.missingSinceMs !== undefined) view.missingSinceMs = w.missingSinceMs;
  return view;
}
