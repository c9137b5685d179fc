/**
 * Prometheus metrics under controller-runtime's names where they exist (reconcile, work queue, leader
 * election), plus Milvus RPC and refresh-state metrics. Labels never carry addresses, names or secrets.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const CONTROLLER = 'externalcollectionrefresh';

export class Metrics {
  readonly registry = new Registry();
  readonly reconcileTotal = new Counter({
    name: 'controller_runtime_reconcile_total',
    help: 'Reconciles per result',
    labelNames: ['controller', 'result'],
    registers: [this.registry],
  });
  readonly reconcileErrors = new Counter({
    name: 'controller_runtime_reconcile_errors_total',
    help: 'Reconciles that failed',
    labelNames: ['controller'],
    registers: [this.registry],
  });
  readonly reconcileTime = new Histogram({
    name: 'controller_runtime_reconcile_time_seconds',
    help: 'Time per reconcile',
    labelNames: ['controller'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly maxConcurrent = new Gauge({
    name: 'controller_runtime_max_concurrent_reconciles',
    help: 'Workers',
    labelNames: ['controller'],
    registers: [this.registry],
  });
  readonly activeWorkers = new Gauge({
    name: 'controller_runtime_active_workers',
    help: 'Workers reconciling now',
    labelNames: ['controller'],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'workqueue_depth',
    help: 'Keys waiting',
    labelNames: ['name'],
    registers: [this.registry],
  });
  readonly queueAdds = new Counter({
    name: 'workqueue_adds_total',
    help: 'Keys added',
    labelNames: ['name'],
    registers: [this.registry],
  });
  readonly queueRetries = new Counter({
    name: 'workqueue_retries_total',
    help: 'Rate-limited re-adds',
    labelNames: ['name'],
    registers: [this.registry],
  });
  readonly queueDuration = new Histogram({
    name: 'workqueue_queue_duration_seconds',
    help: 'Time a key waited',
    labelNames: ['name'],
    buckets: [0.001, 0.01, 0.1, 1, 10, 60],
    registers: [this.registry],
  });
  readonly workDuration = new Histogram({
    name: 'workqueue_work_duration_seconds',
    help: 'Time a key was worked on',
    labelNames: ['name'],
    buckets: [0.001, 0.01, 0.1, 1, 10, 60],
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: 'leader_election_master_status',
    help: '1 while this replica leads',
    labelNames: ['name'],
    registers: [this.registry],
  });
  readonly milvusRpc = new Counter({
    name: 'milvus_refresh_rpc_total',
    help: 'Milvus RPCs per method and outcome',
    labelNames: ['method', 'outcome'],
    registers: [this.registry],
  });
  readonly endpointRefusals = new Counter({
    name: 'milvus_refresh_endpoint_refusals_total',
    help: 'Milvus calls of reconciles not made: the endpoint was busy or known unreachable',
    labelNames: ['why'],
    registers: [this.registry],
  });
  readonly milvusRpcTime = new Histogram({
    name: 'milvus_refresh_rpc_duration_seconds',
    help: 'Milvus RPC latency',
    labelNames: ['method'],
    buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30],
    registers: [this.registry],
  });
  readonly kubeApi = new Counter({
    name: 'milvus_refresh_kube_requests_total',
    help: 'Kubernetes API writes and Secret reads',
    labelNames: ['what', 'code'],
    registers: [this.registry],
  });
  readonly statusWrites = new Counter({
    name: 'milvus_refresh_status_writes_total',
    help: 'Status writes',
    registers: [this.registry],
  });
  readonly kubeConnections = new Counter({
    name: 'milvus_refresh_kube_connections_total',
    help: 'Connections (TCP + TLS handshakes) opened to the Kubernetes API server',
    registers: [this.registry],
  });
  readonly informerRestarts = new Counter({
    name: 'milvus_refresh_informer_restarts_total',
    help: 'Informer (re)starts per reason kind',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly observerLists = new Counter({
    name: 'milvus_refresh_observer_lists_total',
    help: 'List calls of the job observer: one of all jobs per endpoint, or one per watched collection',
    labelNames: ['strategy'],
    registers: [this.registry],
  });
  readonly heldWrites = new Counter({
    name: 'milvus_refresh_status_writes_held_total',
    help: 'Progress-only status writes held back until --progress-interval had passed',
    registers: [this.registry],
  });
  readonly memoryReclaims = new Counter({
    name: 'milvus_refresh_memory_reclaims_total',
    help: 'Full garbage collections the operator ran to give memory back, per trigger (buffers: received data; heap: a grown heap)',
    labelNames: ['trigger'],
    registers: [this.registry],
  });
  readonly memoryReclaimTime = new Counter({
    name: 'milvus_refresh_memory_reclaim_seconds_total',
    help: 'Time spent in those collections',
    registers: [this.registry],
  });
  readonly queueWait = new Histogram({
    name: 'milvus_refresh_queue_wait_seconds',
    help: 'Time a key waited in the work queue at the priority it was handed out at (urgent: Milvus reported the job ended; high: Milvus reported another change)',
    labelNames: ['priority'],
    buckets: [0.001, 0.01, 0.1, 0.5, 1, 2, 5, 10, 60],
    registers: [this.registry],
  });
  readonly resources: Gauge;
  readonly conditions: Gauge;
  readonly lastSuccess: Gauge;
  readonly scheduleInterval: Gauge;
  readonly observedEndpoints: Gauge;
  readonly observerStrategies: Gauge;

  constructor(sources: {
    states: () => Record<string, number>;
    endpoints: () => number;
    strategies?: () => Record<string, number>;
    /** Resources whose condition is True, per condition type and reason. */
    conditions?: () => { condition: string; reason: string; count: number }[];
    /** Resources with spec.schedule: last success (or creation) and the schedule's interval, in seconds. */
    scheduled?: () => { namespace: string; name: string; lastSuccessSeconds: number; intervalSeconds?: number }[];
  }) {
    collectDefaultMetrics({ register: this.registry });
    this.resources = new Gauge({
      name: 'milvus_refresh_resources',
      help: 'ExternalCollectionRefresh objects per job state (None: no job yet)',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [state, n] of Object.entries(sources.states())) this.set({ state }, n);
      },
    });
    this.conditions = new Gauge({
      name: 'milvus_refresh_resource_conditions',
      help: 'ExternalCollectionRefresh objects whose condition is True, per condition (Ready, Reconciling, Stalled) and reason',
      labelNames: ['condition', 'reason'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const c of sources.conditions?.() ?? []) this.set({ condition: c.condition, reason: c.reason }, c.count);
      },
    });
    // One series per resource with spec.schedule (names as kubectl shows them, never secrets), like
    // kube-state-metrics' CronJob series; the labels avoid namespace/name, which scrape configs set.
    this.lastSuccess = new Gauge({
      name: 'milvus_refresh_last_success_time_seconds',
      help: 'Scheduled resources: end of the last completed job (the creation time until one completes), Unix seconds',
      labelNames: ['resource_namespace', 'resource_name'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const s of sources.scheduled?.() ?? []) {
          this.set({ resource_namespace: s.namespace, resource_name: s.name }, s.lastSuccessSeconds);
        }
      },
    });
    this.scheduleInterval = new Gauge({
      name: 'milvus_refresh_schedule_interval_seconds',
      help: 'Scheduled resources: seconds between the two last fires of spec.schedule',
      labelNames: ['resource_namespace', 'resource_name'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const s of sources.scheduled?.() ?? []) {
          if (s.intervalSeconds !== undefined)
            this.set({ resource_namespace: s.namespace, resource_name: s.name }, s.intervalSeconds);
        }
      },
    });
    this.observedEndpoints = new Gauge({
      name: 'milvus_refresh_observed_endpoints',
      help: 'Milvus endpoints polled because they have active jobs',
      registers: [this.registry],
      collect() {
        this.set(sources.endpoints());
      },
    });
    this.observerStrategies = new Gauge({
      name: 'milvus_refresh_observer_endpoints_by_strategy',
      help: 'Polled Milvus endpoints per list strategy (all: one all-jobs list; collection: one list per collection)',
      labelNames: ['strategy'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [strategy, n] of Object.entries(sources.strategies?.() ?? {})) this.set({ strategy }, n);
      },
    });
    this.maxConcurrent.set({ controller: CONTROLLER }, 0);
  }

  get controller(): string {
    return CONTROLLER;
  }
}
