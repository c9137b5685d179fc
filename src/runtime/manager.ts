/**
 * Wires the operator: informer -> work queue -> workers -> reconciler, the job observer, leader election,
 * metrics and probes. Starts the controller only while leading; SIGTERM drains and releases the lease.
 */
import { hostname } from 'node:os';
import type { Server } from 'node:http';
import { Connections } from '../adapters/connection.js';
import { RefreshInformer } from '../adapters/informer.js';
import { KubeAdapter, apiErrorMessage } from '../adapters/kube.js';
import { KubeHttp } from '../adapters/kube-http.js';
import { Echoes } from '../adapters/echoes.js';
import { type KubeConfig, loadKubeConfig, onApiConnection } from '../adapters/kubeconfig.js';
import { HttpLeaseClient } from '../adapters/lease.js';
import { MilvusClients } from '../adapters/milvus.js';
import { HISTORY_LIMIT } from '../api/v1alpha1.js';
import type { OperatorConfig } from '../config.js';
import type { ExternalCollectionRefresh } from '../api/v1alpha1.js';
import { fireIntervalMs, parseSchedule } from '../reconcile/schedule.js';
import { Metrics } from '../http/metrics.js';
import { serve } from '../http/server.js';
import type { Logger } from '../logger.js';
import { Reconciler, type SubmissionStep } from '../reconcile/reconciler.js';
import { Claims } from './claims.js';
import { Controller } from './controller.js';
import { EndpointGate } from './endpoint-gate.js';
import { LeaderElector } from './leader-election.js';
import { MemoryReclaimer, exposedGc, loadMallocTrim } from './memory-reclaim.js';
import { JobObserver } from './observer.js';
import { WorkQueue } from './workqueue.js';
import { WriteThrottle } from './write-throttle.js';

/** Workers beside --workers that take only urgent keys (an ended job). */
const URGENT_WORKERS = 1;

/** What the composition root (main.ts) hands the manager besides configuration. */
export interface ManagerHooks {
  /** Leadership was lost: the process must end now (main exits; another replica takes over). */
  onLeadershipLost: () => void;
  /** Called between the steps of a submission: crash tests' failpoints, only when enabled. */
  step?: (name: SubmissionStep) => void;
}

export class Manager {
  private readonly kc: KubeConfig;
  private readonly http: KubeHttp;
  private readonly metrics: Metrics;
  private readonly queue: WorkQueue;
  private readonly informer: RefreshInformer;
  private readonly milvus: MilvusClients;
  private readonly observer: JobObserver;
  private readonly controller: Controller;
  private readonly elector: LeaderElector | undefined;
  private readonly reclaimer: MemoryReclaimer | undefined;
  private readonly claims = new Claims();
  private readonly hooks: ManagerHooks;
  private readonly servers: Server[] = [];
  private started = false;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly config: OperatorConfig,
    private readonly log: Logger,
    hooks?: ManagerHooks,
  ) {
    // Embedded (the demo) a lost lease stops the manager; main.ts exits the process instead.
    this.hooks = hooks ?? { onLeadershipLost: () => void this.stop() };
    this.kc = loadKubeConfig(config.kubeconfig);
    log.info('Kubernetes API', { server: this.kc.cluster.server, context: this.kc.contextName, from: this.kc.source });
    this.metrics = new Metrics({
      states: () => {
        const counts: Record<string, number> = {
          RefreshPending: 0,
          RefreshInProgress: 0,
          RefreshCompleted: 0,
          RefreshFailed: 0,
          None: 0,
        };
        for (const r of this.informer.list())
          counts[r.status?.state ?? 'None'] = (counts[r.status?.state ?? 'None'] ?? 0) + 1;
        return counts;
      },
      endpoints: () => this.observer.activeEndpoints,
      strategies: () => this.observer.strategies(),
      conditions: () => conditionCounts(this.informer.list()),
      scheduled: () => scheduledResources(this.informer.list(), Date.now()),
    });
    const m = this.metrics;
    this.reclaimer = memoryReclaimer(config.memoryReclaimMiB, log, m);
    const controllerName = m.controller;
    const q = { name: controllerName };
    this.queue = new WorkQueue({
      baseBackoffMs: config.backoffBaseMs,
      maxBackoffMs: config.backoffMaxMs,
      hooks: {
        depth: (n) => m.queueDepth.set(q, n),
        added: () => m.queueAdds.inc(q),
        retried: () => m.queueRetries.inc(q),
        queued: (s, priority, atPriority) => {
          m.queueDuration.observe(q, s);
          m.queueWait.observe({ priority }, atPriority);
        },
        worked: (s) => m.workDuration.observe(q, s),
      },
    });
    // Every Kubernetes request (status writes, reads, events, Secrets, the list, the watch, the Lease) goes
    // through the operator's own HTTP client (kube-http.ts): no @kubernetes/client-node.
    const http = new KubeHttp(this.kc);
    this.http = http;
    const echoes = new Echoes();
    // Set once the reconciler exists: it lets go of its copies of writes the cache has caught up with, and
    // notes when each trigger was first seen.
    let cached: (key: string, obj: ExternalCollectionRefresh) => void = () => undefined;
    this.informer = new RefreshInformer(http, {
      echoes,
      onCached: (key, obj) => cached(key, obj),
      ...(config.namespace ? { namespace: config.namespace } : {}),
      ...(config.watchLabelSelector ? { labelSelector: config.watchLabelSelector } : {}),
      resyncPeriodMs: config.resyncPeriodMs,
      watchInactivityMs: config.watchInactivityTimeoutMs,
      backoffMaxMs: config.watchBackoffMaxMs,
      onKey: (key) => this.queue.add(key),
      log,
      onRestart: (reason) => m.informerRestarts.inc({ reason }),
    });
    onApiConnection(() => m.kubeConnections.inc());
    this.milvus = new MilvusClients({
      rpcTimeoutMs: config.rpcTimeoutMs,
      idleCloseMs: config.milvusClientIdleMs,
      log,
      onRpc: (method, outcome, seconds) => {
        m.milvusRpc.inc({ method, outcome });
        m.milvusRpcTime.observe({ method }, seconds);
      },
    });
    // What Milvus reports changed goes first, an ended job before anything else: a finished job never waits
    // behind new submissions, nor behind a poll's worth of jobs moving to in progress.
    this.observer = new JobObserver(
      this.milvus,
      (key, ended) => this.queue.add(key, ended ? 'urgent' : 'high'),
      {
        pollIntervalMs: config.pollIntervalMs,
        maxBackoffMs: config.observerBackoffMaxMs,
        progressIntervalMs: config.progressIntervalMs,
        collectionOf: (key) => {
          const r = this.informer.get(key);
          return r ? { database: r.spec.milvus.database ?? 'default', collection: r.spec.collectionName } : undefined;
        },
        onList: (strategy) => m.observerLists.inc({ strategy }),
      },
      log,
    );
    const kube = new KubeAdapter(http, {
      cached: (key) => this.informer.get(key),
      log,
      secretTtlMs: config.secretCacheTtlMs,
      onApiCall: (what, code) => m.kubeApi.inc({ what, code: String(code) }),
      qps: config.kubeApiQps,
      burst: config.kubeApiBurst,
      echoes,
      requestTimeoutMs: config.kubeRequestTimeoutMs,
    });
    const throttle = new WriteThrottle(config.progressIntervalMs);
    const reconciler = new Reconciler({
      kube,
      // Reconciles call Milvus through a per-endpoint gate: one unreachable Milvus cannot hold every worker.
      milvus: new EndpointGate(this.milvus, {
        concurrency: config.milvusEndpointConcurrency,
        coolDownMs: 1_000,
        maxCoolDownMs: config.observerBackoffMaxMs,
        onRefused: (why) => m.endpointRefusals.inc({ why }),
      }),
      connections: new Connections((ns, name) => kube.secret(ns, name), apiErrorMessage),
      describeError: apiErrorMessage,
      observer: this.observer,
      claims: this.claims,
      settings: {
        pollIntervalMs: config.pollIntervalMs,
        submitGraceMs: config.submitGraceMs,
        unavailableStallMs: config.unavailableStallMs,
        maxSubmitAttempts: config.maxSubmitAttempts,
        historyLimit: HISTORY_LIMIT,
        foreignJobRecheckMs: config.foreignJobRecheckMs,
        retryBackoffBaseMs: config.retryBackoffBaseMs,
        retryBackoffMaxMs: config.retryBackoffMaxMs,
        refusalRecheckMs: config.refusalRecheckMs,
      },
      log,
      ...(this.hooks.step ? { step: this.hooks.step } : {}),
      onStatusWrite: () => m.statusWrites.inc(),
      throttle: {
        delay: (key, before, after) => {
          const ms = throttle.delay(key, before, after);
          if (ms > 0) m.heldWrites.inc();
          return ms;
        },
        wrote: (key) => throttle.wrote(key),
      },
    });
    cached = (key, obj) => reconciler.cached(key, obj);
    this.controller = new Controller({
      queue: this.queue,
      reconcile: (key, log) => reconciler.reconcile(key, log),
      log,
      describeError: apiErrorMessage,
      hooks: {
        reconciled: (result, seconds) => {
          m.reconcileTotal.inc({ controller: controllerName, result });
          if (result === 'error') m.reconcileErrors.inc({ controller: controllerName });
          m.reconcileTime.observe({ controller: controllerName }, seconds);
        },
        activeWorkers: (n) => m.activeWorkers.set({ controller: controllerName }, n),
      },
    });
    if (config.leaderElect) {
      this.elector = new LeaderElector(new HttpLeaseClient(http), {
        namespace: config.leaderElectionNamespace,
        name: config.leaderElectionId,
        identity: `${process.env.POD_NAME ?? hostname()}_${process.pid}`,
        leaseDurationMs: config.leaseDurationMs,
        renewDeadlineMs: config.renewDeadlineMs,
        retryPeriodMs: config.retryPeriodMs,
        log,
        onLeading: (leading) => m.leader.set({ name: config.leaderElectionId }, leading ? 1 : 0),
      });
    }
  }

  /** Serves probes and metrics, waits for leadership if configured, then runs the controller. */
  async start(): Promise<void> {
    const c = this.config;
    this.reclaimer?.start();
    if (c.metricsBindAddress) {
      const { server, port } = await serve(c.metricsBindAddress, { registry: this.metrics.registry });
      this.servers.push(server);
      this.log.info('Serving metrics', { address: c.metricsBindAddress, port });
    }
    if (c.healthProbeBindAddress) {
      const { server, port } = await serve(c.healthProbeBindAddress, {
        healthy: () => !this.stopping,
        // A replica waiting for leadership is ready too: it serves as a standby.
        ready: () => !this.stopping && (!this.started || this.informer.healthy),
      });
      this.servers.push(server);
      this.log.info('Serving health probes', { address: c.healthProbeBindAddress, port });
    }
    if (this.elector) {
      const leading = await this.elector.acquire(() => {
        // Like controller-runtime: no draining, no new work. In-flight submissions are safe to cut short
        // (their intent is recorded); the new leader adopts or resubmits by the in-doubt rules.
        this.log.error('Leadership lost; exiting so another replica takes over');
        this.hooks.onLeadershipLost();
      });
      if (!leading) return;
    }
    await this.runController();
  }

  private async runController(): Promise<void> {
    const c = this.config;
    this.log.info('Starting controller', {
      namespace: c.namespace ?? '(all)',
      workers: c.workers,
      pollInterval: c.pollIntervalMs,
    });
    await this.informer.start();
    if (this.stopping) return;
    // Which collections are held must be known before the first reconcile (docs/design.md, "claims").
    this.claims.seed(this.informer.list());
    // One more worker takes only resources whose job Milvus reports ended (the urgent queue): in a burst every
    // other worker can be busy with a submission (a list, the intent write, the call, the first report).
    this.metrics.maxConcurrent.set({ controller: this.metrics.controller }, c.workers + URGENT_WORKERS);
    this.controller.start(c.workers, URGENT_WORKERS);
    this.started = true;
    this.log.info('Controller started', { resources: this.informer.list().length });
  }

  /** Stops taking work, lets running reconciles finish (up to 30 s), releases the lease. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.log.info('Shutting down');
      await this.informer.stop();
      this.queue.shutdown();
      await Promise.race([this.controller.drain(), new Promise((r) => setTimeout(r, this.config.shutdownTimeoutMs))]);
      this.observer.stop();
      await this.milvus.close();
      await this.elector?.release();
      await Promise.all(this.servers.map((s) => new Promise((r) => s.close(r))));
      await this.http.close();
      this.reclaimer?.stop();
      this.log.info('Stopped');
    })();
    return this.stopping;
  }
}

/** The memory reclaimer of --memory-reclaim-mib, when it is on and Node exposes gc (--expose-gc). */
function memoryReclaimer(mib: number, log: Logger, m: Metrics): MemoryReclaimer | undefined {
  if (mib === 0) return undefined;
  const collect = exposedGc();
  if (!collect) {
    // Asked for, and not possible: say so at warn, once.
    log.warn('--memory-reclaim-mib is set, but memory reclaim is off: start node with --expose-gc, as the image does');
    return undefined;
  }
  const trim = loadMallocTrim(log);
  log.info('Memory reclaim', { stepMiB: mib, returnsFreedCHeap: trim !== undefined });
  return new MemoryReclaimer({
    stepBytes: mib * 2 ** 20,
    collect,
    ...(trim ? { trim } : {}),
    onReclaim: (trigger, seconds) => {
      m.memoryReclaims.inc({ trigger });
      m.memoryReclaimTime.inc(seconds);
    },
  });
}

/** How many resources have each condition True, per reason (metrics). */
export function conditionCounts(
  resources: readonly ExternalCollectionRefresh[],
): { condition: string; reason: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const r of resources) {
    for (const c of r.status?.conditions ?? [])
      if (c.status === 'True') counts.set(`${c.type}\n${c.reason}`, (counts.get(`${c.type}\n${c.reason}`) ?? 0) + 1);
  }
  return [...counts].map(([k, count]) => {
    const [condition = '', reason = ''] = k.split('\n');
    return { condition, reason, count };
  });
}

/** Resources with a valid spec.schedule: their last success (or creation) and schedule interval (metrics). */
export function scheduledResources(
  resources: readonly ExternalCollectionRefresh[],
  now: number,
): { namespace: string; name: string; lastSuccessSeconds: number; intervalSeconds?: number }[] {
  const out = [];
  for (const r of resources) {
    if (!r.spec.schedule) continue;
    const parsed = parseSchedule(r.spec.schedule, r.spec.timeZone);
    const last = r.status?.lastSuccessfulTime ?? r.metadata.creationTimestamp;
    const interval = parsed.ok ? fireIntervalMs(parsed.cron, now) : undefined;
    out.push({
      namespace: r.metadata.namespace,
      name: r.metadata.name,
      lastSuccessSeconds: last ? Date.parse(last) / 1000 : 0,
      ...(interval !== undefined ? { intervalSeconds: interval / 1000 } : {}),
    });
  }
  return out;
}
