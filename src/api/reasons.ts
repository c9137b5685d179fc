/**
 * Every reason the operator writes into a condition. Scripts, alerts and the Argo CD health check match on
 * these words, so they are an API: add freely, never rename. docs/design.md's reason table is checked
 * against this list by a unit test.
 */

/**
 * What a reason means for the three conditions: Ready=True, Reconciling=True, Stalled=True, or (suspended)
 * none of them: nothing is under way and nothing is wrong, so kstatus reads the resource as Current.
 */
export type ReasonKind = 'ready' | 'progressing' | 'stalled' | 'suspended';

export const REASONS = {
  RefreshCompleted: { kind: 'ready', meaning: "the current trigger's Milvus job completed" },
  Submitting: {
    kind: 'progressing',
    meaning: 'the operator is asking Milvus to start a job, or waiting for the job it asked for to appear',
  },
  RefreshSubmitted: {
    kind: 'progressing',
    meaning: 'Milvus accepted the job and returned its id; it has not listed the job yet',
  },
  RefreshPending: {
    kind: 'progressing',
    meaning: 'Milvus reports the job as pending (the message quotes its reason, if any)',
  },
  RefreshInProgress: {
    kind: 'progressing',
    meaning: 'Milvus reports the job in progress; status.progress has the percentage',
  },
  RefreshAdopted: {
    kind: 'progressing',
    meaning: 'after a restart, the job found in Milvus above the recorded baseline was taken as this run’s job',
  },
  RefreshQueued: { kind: 'progressing', meaning: 'a job of an older trigger ended; the new trigger starts now' },
  WaitingForResource: {
    kind: 'progressing',
    meaning: 'another resource of this operator is refreshing the same collection; this one goes next',
  },
  WaitingForActiveJob: {
    kind: 'progressing',
    meaning: 'a job this operator did not start is running on the collection (Milvus allows one at a time)',
  },
  JobDropped: {
    kind: 'progressing',
    meaning: 'Milvus accepted a job but never reported it (milvus#49231); the operator checks before submitting again',
  },
  MilvusError: { kind: 'progressing', meaning: 'Milvus answered with an unexpected error; retried with backoff' },
  MilvusUnavailable: { kind: 'progressing', meaning: 'Milvus cannot be reached; Stalled after --unavailable-stall' },
  RetryScheduled: {
    kind: 'progressing',
    meaning: 'the job failed and spec.backoffLimit allows another attempt; the message says when and which attempt',
  },
  Suspended: {
    kind: 'suspended',
    meaning: 'spec.suspend is true and a run is due: it starts when the resource is resumed (at most one catch-up)',
  },
  RefreshFailed: { kind: 'stalled', meaning: 'the Milvus job failed; the message quotes Milvus’ reason' },
  JobLost: {
    kind: 'stalled',
    meaning: 'Milvus no longer reports a job it had reported (for example after losing its catalog)',
  },
  DeadlineExceeded: {
    kind: 'stalled',
    meaning:
      'the job did not end within spec.activeDeadlineSeconds of its submission; Milvus keeps running it (it has no cancel) and the next run waits for it',
  },
  InvalidSchedule: {
    kind: 'stalled',
    meaning: 'spec.schedule or spec.timeZone cannot be evaluated; the message names the field',
  },
  SubmitLost: { kind: 'stalled', meaning: 'Milvus was asked --max-submit-attempts times and no job appeared' },
  SecretNotFound: { kind: 'stalled', meaning: 'a Secret named in the spec does not exist' },
  SecretUnreadable: {
    kind: 'stalled',
    meaning: 'a Secret named in the spec cannot be read (for example 403: RBAC); the message quotes the API server',
  },
  StatusWriteFailed: {
    kind: 'stalled',
    meaning:
      'the API server refused the status write that records the start of a run (the message quotes it); no Milvus job was started; retried with backoff',
  },
  InvalidSecret: { kind: 'stalled', meaning: 'a Secret named in the spec lacks the keys the operator needs' },
  AuthenticationFailed: { kind: 'stalled', meaning: 'Milvus refused the credentials' },
  DatabaseNotFound: { kind: 'stalled', meaning: 'Milvus reports the database does not exist' },
  CollectionNotFound: {
    kind: 'stalled',
    meaning: 'Milvus reports the collection does not exist; retried with backoff',
  },
  NotExternalCollection: {
    kind: 'stalled',
    meaning: 'the collection is an ordinary collection, which has nothing to refresh',
  },
  InvalidRequest: { kind: 'stalled', meaning: 'Milvus rejected the request’s parameters (source, spec)' },
  UnsupportedServer: {
    kind: 'stalled',
    meaning: 'the server does not implement the refresh RPCs (Milvus 3.0 or later is required)',
  },
} as const satisfies Record<string, { kind: ReasonKind; meaning: string }>;

/** A reason of a Ready, Reconciling or Stalled condition. */
export type Reason = keyof typeof REASONS;

/** The reason of Reconciling=False and Stalled=False once the resource is Ready. */
export const SUCCEEDED = 'Succeeded';

/** Reasons in the order of the docs' table. */
export const ALL_REASONS = Object.keys(REASONS) as Reason[];
