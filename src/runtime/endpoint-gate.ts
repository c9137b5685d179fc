/**
 * Keeps one Milvus endpoint from holding the shared workers (docs/design.md, "One endpoint cannot hold the
 * workers"). It wraps the reconciler's MilvusPort, per endpoint key:
 * - at most `concurrency` calls in flight; a reconcile that finds them all taken waits up to 250 ms for a slot
 *   if they are young, and otherwise is deferred (EndpointBusyError: requeued with the key's backoff, nothing written);
 * - after a call fails as `unavailable` (unreachable, deadline exceeded), further calls fail at once with the
 *   same kind and a message saying when the endpoint was last found unreachable, until a cool-down has
 *   passed; then one call probes it (the others still fail at once) and its answer closes or reopens the gate.
 * Any answer of Milvus, even a refusal, shows the endpoint reachable. The job observer has its own backoff.
 */
import type { RefreshRequest } from '../reconcile/model.js';
import { EndpointBusyError, type Endpoint, type MilvusPort, findJob } from '../reconcile/ports.js';
import { type JobInfo, MilvusCallError } from '../reconcile/types.js';

export interface EndpointGateOptions {
  /** Calls in flight per endpoint (--milvus-endpoint-concurrency). */
  concurrency: number;
  /** First cool-down after the endpoint was found unreachable; doubles per failed probe. */
  coolDownMs: number;
  /** Longest cool-down. */
  maxCoolDownMs: number;
  /** How long a call waits for a free slot before it is deferred. */
  slotWaitMs?: number;
  now?: () => number;
  /** Told of each call refused without reaching Milvus (metrics). */
  onRefused?: (why: 'busy' | 'unreachable') => void;
}

interface EndpointState {
  inFlight: number;
  /** Start times of the calls in flight. */
  started: number[];
  waiters: (() => void)[];
  /** When the endpoint was last found unreachable, and why; undefined while it answers. */
  down?: { at: number; message: string; retryAt: number; failures: number; probing: boolean };
}

export class EndpointGate implements MilvusPort {
  private readonly endpoints = new Map<string, EndpointState>();
  private readonly now: () => number;

  constructor(
    private readonly inner: MilvusPort,
    private readonly options: EndpointGateOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /**
   * Never deferred for a full endpoint: it follows the list call that held a slot in the same reconcile, after
   * the intent write (deferring it would leave the run in doubt). It still fails at once while the endpoint is down.
   */
  refresh(endpoint: Endpoint, request: RefreshRequest): Promise<string> {
    return this.call(endpoint, false, () => this.inner.refresh(endpoint, request));
  }

  listJobs(endpoint: Endpoint, collection: string): Promise<JobInfo[]> {
    return this.call(endpoint, true, () => this.inner.listJobs(endpoint, collection));
  }

  findJob(endpoint: Endpoint, collection: string, jobId: string): Promise<JobInfo | undefined> {
    return this.call(endpoint, true, () => findJob(this.inner, endpoint, collection, jobId));
  }

  /** Since when the endpoint is known unreachable (tests, metrics). */
  downSince(endpointKey: string): number | undefined {
    return this.endpoints.get(endpointKey)?.down?.at;
  }

  private async call<T>(endpoint: Endpoint, mayDefer: boolean, fn: () => Promise<T>): Promise<T> {
    const st = this.state(endpoint.key);
    const probe = this.admitWhileDown(st);
    if (!probe && mayDefer && st.inFlight >= this.options.concurrency) await this.waitForSlot(st, endpoint);
    st.inFlight++;
    const t0 = this.now();
    st.started.push(t0);
    try {
      const result = await fn();
      delete st.down;
      return result;
    } catch (err) {
      if (err instanceof MilvusCallError && err.failure.kind === 'unavailable') this.markDown(st, err.message);
      else if (err instanceof MilvusCallError) delete st.down;
      else if (probe && st.down) st.down.probing = false;
      throw err;
    } finally {
      st.inFlight--;
      st.started.splice(st.started.indexOf(t0), 1);
      st.waiters.shift()?.();
      if (st.inFlight === 0 && !st.down && st.waiters.length === 0) this.endpoints.delete(endpoint.key);
    }
  }

  /** Throws while the endpoint is known down; true when this call is the probe after the cool-down. */
  private admitWhileDown(st: EndpointState): boolean {
    const down = st.down;
    if (!down) return false;
    if (this.now() >= down.retryAt && !down.probing) {
      down.probing = true;
      return true;
    }
    this.options.onRefused?.('unreachable');
    throw new MilvusCallError({
      kind: 'unavailable',
      message: `not called: the endpoint was unreachable at ${iso(down.at)} (${down.message}); next attempt after ${iso(down.retryAt)}`,
    });
  }

  private async waitForSlot(st: EndpointState, endpoint: Endpoint): Promise<void> {
    const waitMs = this.options.slotWaitMs ?? 250;
    // Calls that have been out longer than a wait would last are not about to end: defer at once.
    const oldest = Math.min(...st.started);
    if (this.now() - oldest >= waitMs) this.defer(st, endpoint);
    let timer: ReturnType<typeof setTimeout> | undefined;
    let wake: (() => void) | undefined;
    const got = await new Promise<boolean>((resolve) => {
      wake = () => resolve(true);
      st.waiters.push(wake);
      timer = setTimeout(() => resolve(false), waitMs);
    });
    clearTimeout(timer);
    if (got && !st.down) return;
    if (!got) st.waiters.splice(st.waiters.indexOf(wake!), 1);
    else st.waiters.shift()?.(); // pass the slot on: this call will not use it
    if (st.down) this.admitWhileDown(st);
    this.defer(st, endpoint);
  }

  private defer(st: EndpointState, endpoint: Endpoint): never {
    this.options.onRefused?.('busy');
    throw new EndpointBusyError(
      `${st.inFlight} calls to Milvus at ${endpoint.address} are already in flight (--milvus-endpoint-concurrency); deferred`,
    );
  }

  private markDown(st: EndpointState, message: string): void {
    const failures = (st.down?.failures ?? 0) + 1;
    const coolDown = Math.min(this.options.coolDownMs * 2 ** (failures - 1), this.options.maxCoolDownMs);
    const at = this.now();
    st.down = { at, message, retryAt: at + coolDown, failures, probing: false };
  }

  private state(key: string): EndpointState {
    let st = this.endpoints.get(key);
    if (!st) {
      st = { inFlight: 0, started: [], waiters: [] };
      this.endpoints.set(key, st);
    }
    return st;
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
