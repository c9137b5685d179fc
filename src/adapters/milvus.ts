/**
 * MilvusPort over the official Node SDK (gRPC). Clients are pooled per address, database, credentials and
 * TLS. Every answer's in-band status is checked, the SDK's masking of UNIMPLEMENTED (an empty success) is
 * detected, job ids stay strings, and no secret the operator sent survives in an error message.
 */
import type * as MilvusSdk from '@zilliz/milvus2-sdk-node';
import type { MilvusClient } from '@zilliz/milvus2-sdk-node';
import type { RefreshState } from '../api/v1alpha1.js';
import type { Logger } from '../logger.js';
import type { RefreshRequest } from '../reconcile/model.js';
import type { Endpoint, MilvusPort } from '../reconcile/ports.js';
import { type JobInfo, MilvusCallError, type MilvusFailure, type MilvusFailureKind } from '../reconcile/types.js';
import { extfsSecrets, secretForms } from '../util/scrub.js';
import { type Status, classifyStatus, classifyThrown } from './milvus-errors.js';
import { dropIpServerNames } from './tls-ip-servername.js';
import { LEAN_JOB_LIST, RawJobList, loadSdk, shareSdkDefinitions } from './milvus-sdk.js';
import { type JobSnapshot, snapshotOf } from '../runtime/observer.js';

/** Observes each RPC (metrics). */
export type RpcObserver = (method: string, outcome: MilvusFailureKind | 'ok', seconds: number) => void;

export interface MilvusClientsOptions {
  /** Deadline of each RPC. */
  rpcTimeoutMs: number;
  /** Close clients unused for this long. */
  idleCloseMs?: number;
  log: Logger;
  onRpc?: RpcObserver;
}

interface WireJob {
  job_id?: string;
  collection_name?: string;
  state?: string;
  progress?: string | number;
  reason?: string;
  external_source?: string;
  external_spec?: string;
  start_time?: string | number;
  end_time?: string | number;
}

const STATES: readonly string[] = ['RefreshPending', 'RefreshInProgress', 'RefreshCompleted', 'RefreshFailed'];

export class MilvusClients implements MilvusPort {
  private readonly pool = new Map<string, { client: MilvusClient; lastUsed: number }>();
  private readonly sweeper: ReturnType<typeof setInterval>;

  constructor(private readonly options: MilvusClientsOptions) {
    const idle = options.idleCloseMs ?? 10 * 60_000;
    this.sweeper = setInterval(() => this.closeIdle(idle), Math.min(idle, 60_000));
    this.sweeper.unref();
  }

  /** Pooled clients (for metrics and tests). */
  get size(): number {
    return this.pool.size;
  }

  async refresh(endpoint: Endpoint, request: RefreshRequest): Promise<string> {
    const secrets = secretForms([...secretsOf(endpoint, request.externalSpec), ...(request.secretValues ?? [])]);
    const res = (await this.call('RefreshExternalCollection', endpoint, secrets, (c) =>
      c.refreshExternalCollection({
        collection_name: request.collection,
        db_name: request.database,
        ...(request.externalSource !== undefined
          ? { external_source: request.externalSource, external_spec: request.externalSpec ?? '' }
          : {}),
        timeout: this.options.rpcTimeoutMs,
      }),
    )) as { status?: Status; job_id?: string };
    const jobId = res.job_id === undefined ? '' : String(res.job_id);
    if (!/^[1-9]\d*$/.test(jobId)) {
      throw this.fail('RefreshExternalCollection', {
        kind: 'unsupported',
        message: 'RefreshExternalCollection answered without a job id',
      });
    }
    return jobId;
  }

  async listJobs(endpoint: Endpoint, collection: string): Promise<JobInfo[]> {
    const jobs = await this.listRaw(endpoint, collection);
    return (jobs instanceof RawJobList ? (jobs.all() as WireJob[]) : jobs).map(toJobInfo);
  }

  /** The collection's list with only `jobId` decoded: a lookup in the encoded answer. */
  async findJob(endpoint: Endpoint, collection: string, jobId: string): Promise<JobInfo | undefined> {
    const jobs = await this.listRaw(endpoint, collection);
    if (!(jobs instanceof RawJobList)) return jobs.map(toJobInfo).find((j) => j.jobId === jobId);
    try {
      const wire = jobs.job(jobId);
      return wire ? toJobInfo(wire) : undefined;
    } finally {
      jobs.release();
    }
  }

  /**
   * The same list for the job observer: jobs are decoded only when asked for, and each one's encoded bytes
   * tell whether it changed, so a list of 24,000 retained jobs costs a scan, not 24,000 objects.
   */
  async listSnapshot(endpoint: Endpoint, collection: string): Promise<JobSnapshot> {
    const jobs = await this.listRaw(endpoint, collection);
    if (jobs instanceof RawJobList) {
      return {
        size: jobs.length,
        fingerprints: (ids) => jobs.fingerprints(ids),
        jobs: (ids) => new Map([...jobs.jobs(ids)].map(([id, wire]) => [id, toJobInfo(wire as WireJob)])),
        release: () => jobs.release(),
        summary: () => jobs.summary(),
      };
    }
    return snapshotOf(jobs.map(toJobInfo));
  }

  private async listRaw(endpoint: Endpoint, collection: string): Promise<RawJobList | WireJob[]> {
    const res = (await this.call('ListRefreshExternalCollectionJobs', endpoint, secretsOf(endpoint), (c) =>
      c.listRefreshExternalCollectionJobs({
        collection_name: collection,
        db_name: endpoint.database,
        timeout: this.options.rpcTimeoutMs,
      }),
    )) as { status?: Status; jobs?: WireJob[] | RawJobList };
    if (res.jobs instanceof RawJobList || Array.isArray(res.jobs)) return res.jobs;
    throw this.fail('ListRefreshExternalCollectionJobs', {
      kind: 'unsupported',
      message: 'ListRefreshExternalCollectionJobs answered without a job list',
    });
  }

  /** Closes every client. */
  async close(): Promise<void> {
    clearInterval(this.sweeper);
    const clients = [...this.pool.values()];
    this.pool.clear();
    await Promise.allSettled(clients.map((c) => c.client.closeConnection()));
  }

  private async call(
    method: string,
    endpoint: Endpoint,
    secrets: string[],
    fn: (c: MilvusClient) => Promise<unknown>,
  ): Promise<Record<string, unknown>> {
    const started = Date.now();
    let res: Record<string, unknown>;
    try {
      res = (await fn(this.client(endpoint))) as Record<string, unknown>;
    } catch (err) {
      throw this.fail(method, classifyThrown(err, secrets), started);
    }
    const status = res?.status as Status | undefined;
    if (!status)
      throw this.fail(
        method,
        { kind: 'unsupported', message: `${method} answered without a status (the server does not implement it)` },
        started,
      );
    const ok =
      status.code === 0 &&
      (status.error_code === 'Success' || status.error_code === 0 || status.error_code === undefined);
    if (!ok) throw this.fail(method, classifyStatus(status, secrets), started);
    this.options.onRpc?.(method, 'ok', (Date.now() - started) / 1000);
    return res;
  }

  private fail(method: string, failure: MilvusFailure, started = Date.now()): MilvusCallError {
    this.options.onRpc?.(method, failure.kind, (Date.now() - started) / 1000);
    return new MilvusCallError(failure);
  }

  private client(endpoint: Endpoint): MilvusClient {
    const poolKey = `${endpoint.key}|${endpoint.database}`;
    const pooled = this.pool.get(poolKey);
    if (pooled) {
      pooled.lastUsed = Date.now();
      return pooled.client;
    }
    const https = /^https:\/\//i.test(endpoint.address);
    const creds = endpoint.credentials;
    const client = new (sdk().MilvusClient)({
      address: endpoint.address.replace(/^https?:\/\//i, ''),
      database: endpoint.database,
      ...(creds && 'token' in creds ? { token: creds.token } : {}),
      ...(creds && 'username' in creds ? { username: creds.username, password: creds.password } : {}),
      ...(endpoint.tls || https ? { ssl: true } : {}),
      ...(endpoint.tls?.ca || endpoint.tls?.serverName
        ? {
            tls: {
              ...(endpoint.tls.ca ? { rootCert: Buffer.from(endpoint.tls.ca) } : {}),
              ...(endpoint.tls.serverName ? { serverName: endpoint.tls.serverName } : {}),
            },
          }
        : {}),
      timeout: this.options.rpcTimeoutMs,
      // The operator decides when to retry: an SDK retry of RefreshExternalCollection could start a second job.
      maxRetries: 0,
      logLevel: 'error',
      telemetry: { enabled: false },
      // Job lists are indexed, not decoded, until a job is read (milvus-sdk.ts).
      loaderOptions: { ...LEAN_JOB_LIST } as Record<string, unknown>,
    });
    // The constructor's Connect runs in the background; its failure shows up on the next call.
    (client as unknown as { connectPromise?: Promise<unknown> }).connectPromise?.catch(() => undefined);
    this.pool.set(poolKey, { client, lastUsed: Date.now() });
    this.options.log.debug('Created Milvus client', {
      address: endpoint.address,
      database: endpoint.database,
      endpoint: endpoint.key,
    });
    return client;
  }

  private closeIdle(idleMs: number): void {
    const cutoff = Date.now() - idleMs;
    for (const [key, entry] of this.pool) {
      if (entry.lastUsed < cutoff) {
        this.pool.delete(key);
        void entry.client.closeConnection().catch(() => undefined);
      }
    }
  }
}

let loaded: typeof MilvusSdk | undefined;

/**
 * The SDK, loaded when the first Milvus client is made: it is about 40 MiB of code and definitions, which an
 * operator whose resources are all settled (after a restart, say) never needs.
 */
function sdk(): typeof MilvusSdk {
  if (!loaded) {
    loaded = loadSdk<typeof MilvusSdk>();
    dropIpServerNames();
    shareSdkDefinitions();
  }
  return loaded;
}

function secretsOf(endpoint: Endpoint, spec?: string): string[] {
  const out: string[] = [];
  const c = endpoint.credentials;
  if (c && 'token' in c) out.push(c.token);
  if (c && 'password' in c) out.push(c.password);
  if (spec) {
    try {
      out.push(...extfsSecrets((JSON.parse(spec) as { extfs?: Record<string, unknown> }).extfs));
    } catch {
      // not JSON: nothing to collect
    }
  }
  return secretForms(out);
}

function toMs(v: string | number | undefined): number {
  const n = Number(v ?? 0);
  return Number.isFinite(n) ? n : 0;
}

function toJobInfo(j: WireJob): JobInfo {
  const state = String(j.state ?? 'RefreshPending');
  return {
    jobId: String(j.job_id ?? ''),
    collectionName: j.collection_name ?? '',
    state: (STATES.includes(state) ? state : 'RefreshPending') as RefreshState,
    progress: Math.max(0, Math.min(100, Number(j.progress ?? 0) || 0)),
    reason: j.reason ?? '',
    externalSource: j.external_source ?? '',
    externalSpec: j.external_spec ?? '',
    startTimeMs: toMs(j.start_time),
    endTimeMs: toMs(j.end_time),
  };
}
