/**
 * KubePort over the operator's HTTP client (kube-http.ts): status through the /status subresource as a JSON merge patch that
 * carries metadata.resourceVersion (so a stale write gets 409), Events through events.k8s.io/v1, and Secrets
 * read on demand with a short cache (the operator never lists or watches Secrets).
 *
 * Every request takes a token of one client-side bucket (--kube-api-qps/--kube-api-burst), so the write
 * rate stays bounded however many resources change at once. Events are best effort, like client-go's
 * recorder: they are queued (at most 1,000) and sent in the background at a twentieth of that rate, never
 * holding up a reconcile; when the queue is full, new events are dropped and counted.
 */
import { hostname } from 'node:os';
import {
  API_VERSION,
  type ExternalCollectionRefresh,
  type ExternalCollectionRefreshStatus,
  GROUP,
  KIND,
  PLURAL,
  isTerminal,
  VERSION,
} from '../api/v1alpha1.js';
import type { Logger } from '../logger.js';
import { ConflictError, type KubePort } from '../reconcile/ports.js';
import { mergePatch } from '../util/merge-patch.js';
import { slim } from './informer.js';
import { KubeApiError, type KubeHttp } from './kube-http.js';
import type { Echoes } from './echoes.js';
import { TokenBucket } from './rate-limit.js';

/** Name under which the operator writes (field manager, event reporter). */
export const CONTROLLER_NAME = 'milvus-refresh-operator';

export interface KubeAdapterOptions {
  cached: (key: string) => ExternalCollectionRefresh | undefined;
  log: Logger;
  /** How long a read Secret is reused. */
  secretTtlMs?: number;
  /** Identity in events (the pod name). */
  instance?: string;
  onApiCall?: (what: string, code: number | 'dropped') => void;
  /** Client-side rate limit of API requests (default: none). */
  qps?: number;
  burst?: number;
  /** Events waiting to be sent beyond this many are dropped (default 1,000, client-go's). */
  maxQueuedEvents?: number;
  /** Notes each write of a run under way, so its watch echo is not reconciled again (echoes.ts). */
  echoes?: Echoes;
  /**
   * Deadline of each request (--kube-request-timeout): a request the API server does not answer in time
   * fails with KubeTimeoutError (the reconcile is retried with backoff and its worker freed). Default: none.
   */
  requestTimeoutMs?: number;
}

/** A request to the API server got no answer within --kube-request-timeout. */
export class KubeTimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`the API server did not answer ${what} within ${ms / 1000} s (--kube-request-timeout)`);
    this.name = 'KubeTimeoutError';
  }
}

interface QueuedEvent {
  r: ExternalCollectionRefresh;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** A Secret's decoded data, or undefined when it does not exist. */
export type SecretData = Record<string, string> | undefined;

export class KubeAdapter implements KubePort {
  private readonly secrets = new Map<string, { at: number; data: SecretData }>();
  private readonly instance: string;
  private readonly limiter: TokenBucket | undefined;
  private readonly eventLimiter: TokenBucket | undefined;
  private readonly eventQueue: QueuedEvent[] = [];
  private sendingEvents = false;

  constructor(
    private readonly http: KubeHttp,
    private readonly options: KubeAdapterOptions,
  ) {
    this.instance = options.instance ?? process.env.POD_NAME ?? hostname();
    if (options.qps) {
      const burst = options.burst ?? options.qps;
      this.limiter = new TokenBucket(options.qps, burst);
      this.eventLimiter = new TokenBucket(Math.max(1, options.qps / 20), Math.max(1, Math.floor(burst / 8)));
    }
  }

  /** Waits for a token of the client-side rate limit. */
  private async admit(): Promise<void> {
    await this.limiter?.take();
  }

  cached(key: string): ExternalCollectionRefresh | undefined {
    return this.options.cached(key);
  }

  /**
   * `request` with the deadline of --kube-request-timeout. The request itself is abandoned, not aborted: its
   * late answer is ignored (a status write carries its resourceVersion, so landing late cannot do harm).
   */
  private timed<T>(what: string, request: () => Promise<T>): Promise<T> {
    const ms = this.options.requestTimeoutMs;
    if (!ms) return request();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new KubeTimeoutError(what, ms)), ms);
    });
    const call = request();
    call.catch(() => undefined); // a late failure after the deadline is not unhandled
    return Promise.race([call, deadline]).finally(() => clearTimeout(timer));
  }

  private static path(namespace: string, name: string, sub = ''): string {
    return `/apis/${GROUP}/${VERSION}/namespaces/${encodeURIComponent(namespace)}/${PLURAL}/${encodeURIComponent(name)}${sub}`;
  }

  async read(namespace: string, name: string): Promise<ExternalCollectionRefresh | undefined> {
    await this.admit();
    try {
      const read = await this.timed(`a read of ${namespace}/${name}`, () =>
        this.http.json<ExternalCollectionRefresh>('GET', KubeAdapter.path(namespace, name)),
      );
      return slim(read);
    } catch (err) {
      if (err instanceof KubeApiError && err.code === 404) return undefined;
      throw err;
    }
  }

  async patchStatus(
    r: ExternalCollectionRefresh,
    status: ExternalCollectionRefreshStatus,
  ): Promise<ExternalCollectionRefresh> {
    const patch = {
      metadata: { resourceVersion: r.metadata.resourceVersion },
      status: mergePatch(r.status ?? {}, status),
    };
    await this.admit();
    try {
      const updated = await this.timed(`a status write of ${r.metadata.namespace}/${r.metadata.name}`, () =>
        this.http.json<ExternalCollectionRefresh>(
          'PATCH',
          `${KubeAdapter.path(r.metadata.namespace, r.metadata.name, '/status')}?fieldManager=${CONTROLLER_NAME}`,
          patch,
          'application/merge-patch+json',
        ),
      );
      this.options.onApiCall?.('patch_status', 200);
      const key = `${r.metadata.namespace}/${r.metadata.name}`;
      // A run still under way (intent recorded, job running): the reconcile that wrote already chose what next.
      if (!isTerminal(updated.status?.state)) this.options.echoes?.wrote(key, updated.metadata.resourceVersion);
      else this.options.echoes?.forget(key);
      return slim(updated);
    } catch (err) {
      const code = err instanceof KubeApiError ? err.code : 0;
      this.options.onApiCall?.('patch_status', code);
      if (code === 409) throw new ConflictError(`${r.metadata.namespace}/${r.metadata.name} changed since it was read`);
      throw err;
    }
  }

  /**
   * Queues an Event about `r`; resolves at once (events are sent in the background, best effort). When the
   * queue is full a Warning takes the place of the oldest queued Normal event: in a burst the Normal ones
   * (a job submitted, a job completed) are many, and the few that say something went wrong must not be the
   * ones lost.
   */
  event(r: ExternalCollectionRefresh, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    if (this.eventQueue.length >= (this.options.maxQueuedEvents ?? 1_000)) {
      const normal = type === 'Warning' ? this.eventQueue.findIndex((e) => e.type === 'Normal') : -1;
      this.options.onApiCall?.('create_event', 'dropped');
      if (normal < 0) return Promise.resolve();
      this.eventQueue.splice(normal, 1);
    }
    this.eventQueue.push({ r, type, reason, message });
    if (!this.sendingEvents) void this.sendEvents();
    return Promise.resolve();
  }

  /** Events still queued (for tests and shutdown). */
  get queuedEvents(): number {
    return this.eventQueue.length;
  }

  private async sendEvents(): Promise<void> {
    this.sendingEvents = true;
    try {
      for (let e = this.eventQueue.shift(); e; e = this.eventQueue.shift()) {
        await this.eventLimiter?.take();
        await this.admit();
        await this.sendEvent(e);
      }
    } finally {
      this.sendingEvents = false;
    }
  }

  private async sendEvent({ r, type, reason, message }: QueuedEvent): Promise<void> {
    try {
      const body = {
        // client-go's naming: <object>.<unix nanoseconds in hex>
        metadata: {
          name: `${r.metadata.name}.${(BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n)).toString(16)}`,
          namespace: r.metadata.namespace,
        },
        eventTime: microTime(),
        reportingController: `${GROUP}/${CONTROLLER_NAME}`,
        reportingInstance: this.instance.slice(0, 128),
        action: 'Reconcile',
        type,
        reason: reason.slice(0, 128),
        note: message.length > 1024 ? `${message.slice(0, 1021)}...` : message,
        regarding: {
          apiVersion: API_VERSION,
          kind: KIND,
          name: r.metadata.name,
          namespace: r.metadata.namespace,
          ...(r.metadata.uid ? { uid: r.metadata.uid } : {}),
        },
      };
      await this.timed(`an event about ${r.metadata.namespace}/${r.metadata.name}`, () =>
        this.http.json('POST', `/apis/events.k8s.io/v1/namespaces/${encodeURIComponent(r.metadata.namespace)}/events`, {
          apiVersion: 'events.k8s.io/v1',
          kind: 'Event',
          ...body,
        }),
      );
      this.options.onApiCall?.('create_event', 201);
    } catch (err) {
      // Events are best effort: a failure must not fail the reconcile.
      this.options.onApiCall?.('create_event', err instanceof KubeApiError ? err.code : 0);
      this.options.log.warn('Could not record event', { reason, error: apiErrorMessage(err) });
    }
  }

  /** A Secret's data (decoded), cached briefly; undefined when it does not exist. */
  async secret(namespace: string, name: string): Promise<SecretData> {
    const key = `${namespace}/${name}`;
    const hit = this.secrets.get(key);
    if (hit && Date.now() - hit.at < (this.options.secretTtlMs ?? 10_000)) return hit.data;
    let data: SecretData;
    await this.admit();
    try {
      const s = await this.timed(`a read of Secret ${namespace}/${name}`, () =>
        this.http.json<{ data?: Record<string, string> }>(
          'GET',
          `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`,
        ),
      );
      data = Object.fromEntries(
        Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
      );
      this.options.onApiCall?.('get_secret', 200);
    } catch (err) {
      const code = err instanceof KubeApiError ? err.code : 0;
      this.options.onApiCall?.('get_secret', code);
      if (code !== 404) throw err;
      data = undefined;
    }
    const ttl = this.options.secretTtlMs ?? 10_000;
    for (const [k, v] of this.secrets) if (Date.now() - v.at >= ttl) this.secrets.delete(k); // no plaintext kept longer than needed
    this.secrets.set(key, { at: Date.now(), data });
    return data;
  }
}

/** The API server's own message from a KubeApiError (its body is a Status), else the error text. */
export function apiErrorMessage(err: unknown): string {
  if (err instanceof KubeApiError) return `HTTP ${err.code}: ${err.statusMessage ?? 'no message'}`;
  return err instanceof Error ? err.message : String(err);
}

/** Now as a metav1.MicroTime (RFC 3339 with microseconds), as the API server writes it. */
export function microTime(at: Date = new Date()): string {
  return `${at.toISOString().slice(0, -1)}000Z`;
}
