/** The interfaces the reconciler needs, in its own words; adapters/ implements them. */
import type { Reason } from '../api/reasons.js';
import type { ExternalCollectionRefresh, ExternalCollectionRefreshStatus } from '../api/v1alpha1.js';
import type { Claim, ObservedView, RefreshRequest, Watch } from './model.js';
import type { JobInfo } from './types.js';

/** Everything needed to talk to one Milvus: built from the spec and its Secrets. Never logged. */
export interface Endpoint {
  /** Identity of the connection (address, TLS, credentials), a digest: safe to log and to key maps. */
  readonly key: string;
  readonly address: string;
  readonly database: string;
  readonly credentials?: { token: string } | { username: string; password: string };
  readonly tls?: { ca?: string; serverName?: string };
}

/** Milvus, as the reconciler uses it. Failures are thrown as MilvusCallError. */
export interface MilvusPort {
  /** RefreshExternalCollection; resolves with the job id. */
  refresh(endpoint: Endpoint, request: RefreshRequest): Promise<string>;
  /** ListRefreshExternalCollectionJobs in the endpoint's database; '' lists every collection. */
  listJobs(endpoint: Endpoint, collection: string): Promise<JobInfo[]>;
  /**
   * One job of the collection's list, undefined when it is not listed: the same call as listJobs, with only
   * that job decoded. Optional: {@link findJob} lists and looks when a port has no lookup of its own.
   */
  findJob?(endpoint: Endpoint, collection: string, jobId: string): Promise<JobInfo | undefined>;
}

/** `port`'s lookup of one job of the collection, or its list searched for the job. */
export async function findJob(
  port: MilvusPort,
  endpoint: Endpoint,
  collection: string,
  jobId: string,
): Promise<JobInfo | undefined> {
  if (port.findJob) return port.findJob(endpoint, collection, jobId);
  return (await port.listJobs(endpoint, collection)).find((j) => j.jobId === jobId);
}

/** Thrown by patchStatus on 409: the resource changed since it was read. */
export class ConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConflictError';
  }
}

/**
 * Thrown by a Milvus call that was not made because the endpoint already has its share of calls in flight
 * (runtime/endpoint-gate.ts): the reconcile is retried with backoff, nothing is written.
 */
export class EndpointBusyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EndpointBusyError';
  }
}

/** Kubernetes, as the reconciler uses it. */
export interface KubePort {
  /** The resource from the informer cache. */
  cached(key: string): ExternalCollectionRefresh | undefined;
  /** The resource read from the API server (after a conflict). */
  read(namespace: string, name: string): Promise<ExternalCollectionRefresh | undefined>;
  /**
   * Replaces status through the /status subresource, only if the object still has `resourceVersion`
   * (ConflictError otherwise). Resolves with the updated object.
   */
  patchStatus(
    r: ExternalCollectionRefresh,
    status: ExternalCollectionRefreshStatus,
  ): Promise<ExternalCollectionRefresh>;
  /** Records an Event about `r`. Never throws. */
  event(r: ExternalCollectionRefresh, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
}

/** Resolves spec.milvus and its Secrets into an Endpoint, or says why it cannot. */
/** Storage credentials from spec.externalSpecSecretRef, or why they cannot be had. */
export type ExtfsSecret = { ok: true; values: Record<string, string> } | { ok: false; reason: Reason; message: string };

/** Resolves spec.milvus and its Secrets into an Endpoint, or says why it cannot. */
export interface ConnectionPort {
  resolve(
    r: ExternalCollectionRefresh,
  ): Promise<{ ok: true; endpoint: Endpoint; extfs?: ExtfsSecret } | { ok: false; reason: Reason; message: string }>;
}

/** The job observer, as the reconciler uses it. */
export interface ObserverPort {
  watch(key: string, endpoint: Endpoint, watch: NonNullable<Watch>): void;
  unwatch(key: string): void;
  view(key: string): ObservedView | undefined;
  /** A point in the process's order of events (runtime/observer.ts); optional with recentJobs. */
  mark?(): number;
  /**
   * The highest job id of the endpoint's latest all-jobs answer, if it was asked for after mark `since` and
   * shows no active job on a collection named `collection`.
   */
  recentJobs?(endpointKey: string, collection: string, since: number): { highestJobId: string } | undefined;
}

/** The table of collections held by this operator's resources. */
export interface ClaimsPort {
  holder(collection: string, self: string): Claim | undefined;
  /** Takes `collection` for `owner` unless another owner holds it; true when `owner` holds it now. */
  acquire(collection: string, owner: string): boolean;
  set(collection: string, owner: string, jobId?: string): void;
  release(owner: string): string | undefined;
}
