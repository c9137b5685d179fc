/**
 * Builders for test fixtures: resources, statuses and Milvus jobs with sensible defaults, changed by name.
 *   aRefresh({ status: submitted(0), generation: 2, requestedAt: 'x' })
 *   aJob(3, 'RefreshCompleted', { progress: 100 })
 */
import type { ExternalCollectionRefresh, ExternalCollectionRefreshStatus, RunStatus } from '../../src/api/v1alpha1.js';
import type { Settings } from '../../src/reconcile/model.js';
import type { JobInfo } from '../../src/reconcile/types.js';

/** The fixed "now" of unit tests. */
export const NOW = Date.UTC(2026, 10, 29, 12, 0, 0);
const BASE_ID = 470_000_000_000_000_000n;

/** A Milvus job id (above 2^53, as real TSO-derived ids are) by a small ordinal. */
export const id = (n: number): string => (BASE_ID + BigInt(n)).toString();
export const iso = (ms: number): string => new Date(ms).toISOString();

export const SETTINGS: Settings = {
  pollIntervalMs: 5_000,
  submitGraceMs: 30_000,
  unavailableStallMs: 600_000,
  maxSubmitAttempts: 3,
  historyLimit: 5,
  foreignJobRecheckMs: 20_000,
  retryBackoffBaseMs: 10_000,
  retryBackoffMaxMs: 300_000,
  refusalRecheckMs: 600_000,
};

export interface RefreshFixture {
  name?: string;
  namespace?: string;
  generation?: number;
  /** Value of milvus.io/refresh-requested-at. */
  requestedAt?: string;
  collectionName?: string;
  address?: string;
  database?: string;
  status?: ExternalCollectionRefreshStatus;
}

export function aRefresh(f: RefreshFixture = {}): ExternalCollectionRefresh {
  return {
    apiVersion: 'milvus.io/v1alpha1',
    kind: 'ExternalCollectionRefresh',
    metadata: {
      name: f.name ?? 'products',
      namespace: f.namespace ?? 'search',
      generation: f.generation ?? 1,
      resourceVersion: '10',
      ...(f.requestedAt ? { annotations: { 'milvus.io/refresh-requested-at': f.requestedAt } } : {}),
    },
    spec: {
      milvus: { address: f.address ?? 'milvus:19530', ...(f.database ? { database: f.database } : {}) },
      collectionName: f.collectionName ?? 'products',
    },
    ...(f.status ? { status: f.status } : {}),
  };
}

export function aJob(n: number, state: JobInfo['state'], extra: Partial<JobInfo> = {}): JobInfo {
  return {
    jobId: id(n),
    collectionName: 'products',
    state,
    progress: state === 'RefreshCompleted' ? 100 : 0,
    reason: '',
    externalSource: 's3://lake/products/',
    externalSpec: '{"format":"parquet"}',
    startTimeMs: NOW - 60_000,
    endTimeMs: state === 'RefreshCompleted' || state === 'RefreshFailed' ? NOW - 1_000 : 0,
    ...extra,
  };
}

/** A status whose run recorded its intent (one second ago) with baseline job `n`, and no job id yet. */
export function submitted(n = 0, run: Partial<RunStatus> = {}): ExternalCollectionRefreshStatus {
  return {
    observedGeneration: 1,
    run: {
      generation: 1,
      requestedAt: '',
      trigger: 'created',
      submittedAt: iso(NOW - 1_000),
      baselineJobId: id(n),
      attempts: 1,
      ...run,
    },
  };
}
