/** The decision's inputs and outputs: what one reconcile knows, and what it asks the reconciler to do. */
import type { Reason } from '../api/reasons.js';
import type { ExternalCollectionRefresh, ExternalCollectionRefreshStatus } from '../api/v1alpha1.js';
import type { JobInfo, MilvusFailure } from './types.js';

/** Tunables of the decision (each set by a flag, see config.ts). */
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
  /** How often a resource waiting for a foreign job looks again by itself (the observer wakes it sooner). */
  foreignJobRecheckMs: number;
  /** Delay before the first resubmission after RefreshFailed (spec.backoffLimit); doubles per failure. */
  retryBackoffBaseMs: number;
  /** Longest delay between resubmissions. */
  retryBackoffMaxMs: number;
  /** How often a request Milvus refused outright (InvalidRequest, NotExternalCollection, UnsupportedServer) is tried again. */
  refusalRecheckMs: number;
}

/** An Event to record besides the status write (transitions of Ready are recorded anyway). */
export interface EventNote {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** Whether the Milvus connection could be assembled (Secrets read and valid). */
export type ConnectionState = { ok: true; address: string } | { ok: false; reason: Reason; message: string };

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
  /**
   * The collection's jobs, listed on request (decision `listCollectionJobs`). For a new trigger it may come
   * from the job observer's all-jobs answer instead: then `jobs` is empty (that answer showed no active job on
   * a collection of this name) and `highestJobId` is the highest job id in it, the submission's baseline.
   */
  collectionJobs?: { jobs: JobInfo[]; highestJobId?: string } | { failure: MilvusFailure };
  /** Since when calls to this resource's Milvus have been failing as unavailable (undefined: they are not). */
  unavailableSinceMs?: number;
}

/** What to keep observing for this resource: its own job, or a foreign job it waits for. */
export type Watch = { jobId: string } | undefined;

/** When to look at the resource again: after a delay, with the key's exponential backoff, or only on change. */
export type Requeue = { afterMs: number } | { backoff: true } | undefined;

/** The request to send when submitting. */
export interface RefreshRequest {
  collection: string;
  database: string;
  externalSource?: string;
  externalSpec?: string;
  /** Values that must never leave the process in a text (scrubbed from Milvus' answers). Not sent. */
  secretValues?: string[];
}

/** Write `status` if it differs from the stored one, observe `watch`, and look again per `requeue`. */
export interface UpdateDecision {
  kind: 'update';
  status: ExternalCollectionRefreshStatus;
  watch: Watch;
  /** Whether this resource holds its collection (a job of its own runs, or a submission is in doubt). */
  holdsCollection: boolean;
  requeue: Requeue;
  events?: EventNote[];
}

export type Decision =
  /**
   * Call again with `collectionJobs`. `newTrigger`: the list is for submitting on a trigger found in the
   * object itself (created, spec changed, refresh requested), so an all-jobs answer asked for after the
   * operator first saw that trigger will do (DecideInput.collectionJobs).
   */
  | { kind: 'listCollectionJobs'; newTrigger?: boolean }
  /** Write `status` (the intent) with optimistic concurrency; only if that succeeds, send `request`. */
  | { kind: 'submit'; status: ExternalCollectionRefreshStatus; request: RefreshRequest }
  | UpdateDecision;

/** Outcome of the RefreshExternalCollection call after a `submit`. */
export type SubmitResult = { jobId: string } | { failure: MilvusFailure };
