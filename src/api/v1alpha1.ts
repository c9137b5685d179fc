/**
 * ExternalCollectionRefresh, milvus.io/v1alpha1: the types the operator reads and writes.
 * The CRD's OpenAPI schema is generated from src/api/crd.ts, which mirrors these types.
 */

export const GROUP = 'milvus.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'ExternalCollectionRefresh';
export const PLURAL = 'externalcollectionrefreshes';
export const SINGULAR = 'externalcollectionrefresh';
export const SHORT_NAMES = ['ecr'];
export const CATEGORIES = ['milvus'];

/** `kubectl annotate --overwrite ... milvus.io/refresh-requested-at=<anything new>` starts a refresh. */
export const REFRESH_REQUESTED_AT = 'milvus.io/refresh-requested-at';

/** Milvus' public job states, spelled exactly as Milvus spells them. */
export type RefreshState = 'RefreshPending' | 'RefreshInProgress' | 'RefreshCompleted' | 'RefreshFailed';
export const TERMINAL_STATES: readonly RefreshState[] = ['RefreshCompleted', 'RefreshFailed'];

/** Refers to a Secret in the resource's namespace. */
export interface SecretRef {
  name: string;
}

/** Refers to one key of a Secret in the resource's namespace. */
export interface SecretKeyRef {
  name: string;
  key?: string;
}

/** How to reach Milvus. */
export interface MilvusConnectionSpec {
  /** host:port, or http(s)://host:port (https implies TLS). */
  address: string;
  /** Database of the collection; "default" when omitted. */
  database?: string;
  /** Secret with key `token`, or keys `username` and `password`. */
  credentialsSecretRef?: SecretRef;
  tls?: {
    enabled?: boolean;
    /** CA bundle to verify Milvus' certificate (key defaults to ca.crt). */
    caSecretRef?: SecretKeyRef;
    /** Name to verify in Milvus' certificate, when it differs from the address. */
    serverName?: string;
  };
}

/** The external spec as structured YAML; serialised to Milvus' JSON spec. */
export interface ExternalSpec {
  format?: string;
  extfs?: Record<string, string>;
  columns?: unknown;
  snapshot_id?: number | string;
}

export interface ExternalCollectionRefreshSpec {
  milvus: MilvusConnectionSpec;
  collectionName: string;
  /** Optional override of the collection's source; both-or-neither with externalSpec. */
  externalSource?: string;
  externalSpec?: ExternalSpec;
  /** A Secret whose keys are merged into externalSpec.extfs at the moment of the Milvus call (storage keys). */
  externalSpecSecretRef?: SecretRef;
  /** Standard 5-field cron expression, or @hourly, @daily, @weekly, @monthly, @yearly. */
  schedule?: string;
  /** IANA time zone of `schedule` (default UTC). */
  timeZone?: string;
  /** A scheduled fire later than this after its time is skipped (with an event) instead of run. */
  startingDeadlineSeconds?: number;
  /** No new run starts while true; a running job is still followed to its end. */
  suspend?: boolean;
  /** After RefreshFailed, submit again up to this many times (default 0), with exponential backoff. */
  backoffLimit?: number;
  /** Stop waiting for a job this long after its submission (Milvus has no cancel: the job keeps running). */
  activeDeadlineSeconds?: number;
  /** Earlier jobs kept in status.history (default 5). */
  historyLimit?: number;
}

/** Fields of the spec whose change starts a run: they change what Milvus is asked to do. */
export const JOB_FIELDS = [
  'milvus.address',
  'milvus.database',
  'collectionName',
  'externalSource',
  'externalSpec',
  'externalSpecSecretRef',
] as const;

/** metav1.Condition. */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  observedGeneration?: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

/**
 * The operator's record of the run that serves the current trigger. Written before any Milvus call, so a
 * restarted operator knows whether it may already have submitted a job (see docs/design.md).
 */
export interface RunStatus {
  /** metadata.generation the run serves. */
  generation: number;
  /** Value of milvus.io/refresh-requested-at the run serves ("" when unset). */
  requestedAt: string;
  /** What started the run, in words: "created", "spec changed", "refresh requested". */
  trigger: string;
  /** When the operator last decided to call RefreshExternalCollection (RFC 3339, ms); absent before that. */
  submittedAt?: string;
  /** The highest job id Milvus listed for the collection before that call: a job of this run has a higher id. */
  baselineJobId?: string;
  /** How many times RefreshExternalCollection was called for the run's current job. */
  attempts?: number;
  /** Digest of the spec fields that shape the Milvus job (JOB_FIELDS) when the run started. */
  specHash?: string;
  /** The scheduled fire time this run serves, if the schedule started it (RFC 3339). */
  scheduledAt?: string;
  /** Jobs of this run that ended RefreshFailed (retried up to spec.backoffLimit). */
  failedJobs?: number;
  /** When Milvus last refused the run's request outright (invalid, not external, unsupported): re-checked slowly. */
  refusedAt?: string;
  /**
   * When the operator stopped following the run's job (JobLost, DeadlineExceeded): Milvus may still run it,
   * and a newer run waits for it as for any job it did not start (RFC 3339).
   */
  gaveUpAt?: string;
}

/** Which fires of spec.schedule have been consumed (run or skipped): operator bookkeeping. */
export interface ScheduleCursor {
  schedule: string;
  timeZone: string;
  /** Fires at or before this time are consumed (RFC 3339). */
  consumedUntil: string;
}

/** An earlier job, kept in a bounded history. */
export interface JobRecord {
  jobId: string;
  state?: RefreshState;
  progress?: number;
  reason?: string;
  startTime?: string;
  endTime?: string;
  trigger?: string;
}

export interface ExternalCollectionRefreshStatus {
  observedGeneration?: number;
  /** Decimal string: Milvus job ids are int64 and exceed 2^53. */
  jobId?: string;
  collectionName?: string;
  state?: RefreshState;
  progress?: number;
  reason?: string;
  externalSource?: string;
  /** As Milvus reports it: secrets redacted. */
  externalSpec?: string;
  startTime?: string;
  endTime?: string;
  lastSuccessfulTime?: string;
  /** The milvus.io/refresh-requested-at value whose run has ended. */
  lastHandledRequestedAt?: string;
  run?: RunStatus;
  /** The next time spec.schedule fires (absent without a schedule, or while suspended). */
  nextScheduleTime?: string;
  /** The last fire of spec.schedule that was taken: run, or skipped past startingDeadlineSeconds. */
  lastScheduleTime?: string;
  scheduleCursor?: ScheduleCursor;
  history?: JobRecord[];
  conditions?: Condition[];
}

export interface ObjectMeta {
  name: string;
  namespace: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  creationTimestamp?: string;
  deletionTimestamp?: string;
}

export interface ExternalCollectionRefresh {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: ExternalCollectionRefreshSpec;
  status?: ExternalCollectionRefreshStatus;
}

/** How many earlier jobs status.history keeps by default, and at most. */
export const HISTORY_LIMIT = 5;
export const MAX_HISTORY_LIMIT = 20;

/** `namespace/name` */
export function keyOf(obj: { metadata: { namespace?: string; name?: string } }): string {
  return `${obj.metadata.namespace ?? ''}/${obj.metadata.name ?? ''}`;
}

export function isTerminal(state: RefreshState | undefined): boolean {
  return state !== undefined && TERMINAL_STATES.includes(state);
}
