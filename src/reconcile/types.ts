/** What the reconciler knows about Milvus, in its own words (adapters translate the SDK into these). */
import type { RefreshState } from '../api/v1alpha1.js';

/** A refresh job as Milvus reports it; times in epoch ms, 0 when unset. */
export interface JobInfo {
  jobId: string;
  collectionName: string;
  state: RefreshState;
  progress: number;
  reason: string;
  externalSource: string;
  externalSpec: string;
  startTimeMs: number;
  endTimeMs: number;
}

/** Why a Milvus call did not succeed. */
export type MilvusFailureKind =
  /** Transport: unreachable, deadline exceeded, connection reset. The call may or may not have happened. */
  | 'unavailable'
  /** Authentication or authorization refused. */
  | 'auth'
  | 'databaseNotFound'
  | 'collectionNotFound'
  | 'notExternal'
  /** "in progress": another job is active on the collection. */
  | 'duplicate'
  /** Milvus rejected the request's parameters. */
  | 'invalid'
  /** The server does not implement the refresh RPCs (the SDK masks UNIMPLEMENTED as an empty answer). */
  | 'unsupported'
  | 'other';

export interface MilvusFailure {
  kind: MilvusFailureKind;
  /** Milvus' message with every secret the operator sent replaced by "***". */
  message: string;
  code?: number;
}

/** Thrown by MilvusPort implementations. */
export class MilvusCallError extends Error {
  constructor(readonly failure: MilvusFailure) {
    super(failure.message);
    this.name = 'MilvusCallError';
  }
}
