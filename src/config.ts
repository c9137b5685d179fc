/** Operator configuration from flags (and ECR_* environment variables), parsed once, validated, frozen. */
import { parseArgs } from 'node:util';
import { parseDurationMs } from './util/duration.js';
import type { LogLevel } from './logger.js';

export interface OperatorConfig {
  kubeconfig?: string;
  /** Watch only this namespace (all when undefined). */
  namespace?: string;
  workers: number;
  pollIntervalMs: number;
  submitGraceMs: number;
  unavailableStallMs: number;
  maxSubmitAttempts: number;
  rpcTimeoutMs: number;
  /** Milvus calls of reconciles in flight per endpoint; more wait briefly, then are deferred. */
  milvusEndpointConcurrency: number;
  /** Deadline of each Kubernetes API request of a reconcile (status write, Secret read, event, re-read). */
  kubeRequestTimeoutMs: number;
  resyncPeriodMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** How often a resource waiting for a foreign job looks again by itself. */
  foreignJobRecheckMs: number;
  /** Longest delay between list calls to a Milvus endpoint that keeps failing. */
  observerBackoffMaxMs: number;
  /** How long a Secret that was read is reused. */
  secretCacheTtlMs: number;
  /** Milvus clients unused this long are closed. */
  milvusClientIdleMs: number;
  /** How long a shutdown waits for running reconciles. */
  shutdownTimeoutMs: number;
  /** Longest delay between attempts to reopen a failed watch. */
  watchBackoffMaxMs: number;
  /** A watch that delivers nothing, not even a bookmark, for this long is reopened. */
  watchInactivityTimeoutMs: number;
  /** First delay before resubmitting after RefreshFailed (spec.backoffLimit); it doubles per failure. */
  retryBackoffBaseMs: number;
  /** Longest delay between such resubmissions. */
  retryBackoffMaxMs: number;
  /** How often a request Milvus refused outright is tried again. */
  refusalRecheckMs: number;
  leaderElect: boolean;
  leaderElectionNamespace: string;
  leaderElectionId: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  /** Growth of array buffers or heap, in MiB, after which memory is reclaimed (0: never). */
  memoryReclaimMiB: number;
  /** "" disables. */
  metricsBindAddress: string;
  healthProbeBindAddress: string;
  logLevel: LogLevel;
  /** Watch only resources with these labels (a label selector; Flux's --watch-label-selector), for sharding. */
  watchLabelSelector?: string;
  /** A running job's progress is written at most this often per resource; state changes at once. */
  progressIntervalMs: number;
  /** Client-side limit of API requests (status writes, events, reads) per second, and its burst. */
  kubeApiQps: number;
  kubeApiBurst: number;
}

export const HELP = `milvus-refresh-operator: keeps Milvus external collections refreshed from ExternalCollectionRefresh resources

Usage: node dist/main.js [flags]   (npm start -- [flags])

  --kubeconfig <path>                 kubeconfig to use (default: $KUBECONFIG, ~/.kube/config, or in-cluster)
  --namespace <ns>                    watch only this namespace (default: all namespaces)
  --watch-label-selector <selector>   watch only resources with these labels, e.g. 'sharding.fluxcd.io/key in
                                      (shard1)': each replica set of a shard runs with its own (default: all)
  --workers <n>                       concurrent reconciles (default 4), plus one that takes only resources whose
                                      Milvus job ended
  --poll-interval <d>                 how often active Milvus jobs are observed (default 5s)
  --progress-interval <d>             a running job's progress is written to status at most this often per
                                      resource; state changes are written at once (default 10s; 0: always)
  --kube-api-qps <n>, --kube-api-burst <n>
                                      client-side limit of API server requests per second and its burst
                                      (default 200, 400); watch traffic is not counted
  --submit-grace <d>                  how long a submitted job may stay invisible in Milvus (default 30s)
  --unavailable-stall <d>             Milvus unreachable this long makes a resource Stalled (default 10m)
  --max-submit-attempts <n>           refresh calls per trigger that may leave no job before giving up (default 3)
  --rpc-timeout <d>                   deadline of each Milvus RPC (default 10s)
  --milvus-endpoint-concurrency <n>   Milvus calls of reconciles in flight per endpoint; more wait 250 ms for a
                                      slot, then retry with backoff. After a call finds the endpoint
                                      unreachable, its reconciles fail at once (MilvusUnavailable) until a
                                      probe gets through (default 2)
  --kube-request-timeout <d>          deadline of each API server request of a reconcile: status write,
                                      Secret read, event (default 30s)
  --resync-period <d>                 full relist of resources (default 10m)
  --backoff-base <d>, --backoff-max <d>  per-resource retry backoff (default 1s, 5m)
  --foreign-job-recheck <d>           a resource waiting for a job it did not start looks again this often,
                                      besides being woken by the job observer (default 4 x --poll-interval)
  --observer-backoff-max <d>          longest delay between list calls to a failing Milvus (default 1m)
  --secret-cache-ttl <d>              how long a Secret that was read is reused (default 10s)
  --milvus-client-idle <d>            close Milvus clients unused this long (default 10m)
  --shutdown-timeout <d>              how long SIGTERM waits for running reconciles (default 30s)
  --watch-backoff-max <d>             longest delay between attempts to reopen a failed watch (default 30s)
  --retry-backoff-base <d>, --retry-backoff-max <d>
                                      resubmission after RefreshFailed under spec.backoffLimit waits base,
                                      doubling per failure, at most max (default 10s, 5m)
  --refusal-recheck <d>               a request Milvus refused outright (invalid, not an external collection,
                                      unsupported server) is tried again this often, staying Stalled (default 10m)
  --watch-inactivity-timeout <d>      reopen a watch silent this long; the API server sends a bookmark about
                                      once a minute (default 150s)
  --leader-elect                      elect a leader through a Lease before working (default false)
  --leader-election-namespace <ns>    namespace of the Lease (default $POD_NAMESPACE or default)
  --leader-election-id <name>         name of the Lease (default milvus-refresh-operator)
  --leader-elect-lease-duration <d>   how long a lease holds without renewal (default 15s)
  --leader-elect-renew-deadline <d>   how long the leader keeps trying to renew (default 10s)
  --leader-elect-retry-period <d>     how often to try (default 2s)
  --memory-reclaim-mib <n>            when the received-data buffers or the heap have grown this many MiB, run a
                                      full garbage collection and give freed memory back to the system, at most
                                      once a second: a lower peak for more CPU (docs/scale.md: 16 took a burst of
                                      10,000 from 257 to 216 MiB for 15-60% more CPU); needs node --expose-gc,
                                      as the image starts it (default 0: never)
  --metrics-bind-address <addr>       Prometheus /metrics (default :8080; "0" disables)
  --health-probe-bind-address <addr>  /healthz and /readyz (default :8081; "0" disables)
  --log-level <level>                 debug, info, warn or error (default info)

Each flag can also be set as an environment variable: --poll-interval is ECR_POLL_INTERVAL.
`;

const FLAGS = {
  kubeconfig: { type: 'string' },
  namespace: { type: 'string' },
  'watch-label-selector': { type: 'string' },
  'progress-interval': { type: 'string', default: '10s' },
  'kube-api-qps': { type: 'string', default: '200' },
  'kube-api-burst': { type: 'string', default: '400' },
  workers: { type: 'string', default: '4' },
  'poll-interval': { type: 'string', default: '5s' },
  'submit-grace': { type: 'string', default: '30s' },
  'unavailable-stall': { type: 'string', default: '10m' },
  'max-submit-attempts': { type: 'string', default: '3' },
  'rpc-timeout': { type: 'string', default: '10s' },
  'milvus-endpoint-concurrency': { type: 'string', default: '2' },
  'kube-request-timeout': { type: 'string', default: '30s' },
  'resync-period': { type: 'string', default: '10m' },
  'backoff-base': { type: 'string', default: '1s' },
  'backoff-max': { type: 'string', default: '5m' },
  'foreign-job-recheck': { type: 'string' },
  'observer-backoff-max': { type: 'string', default: '1m' },
  'secret-cache-ttl': { type: 'string', default: '10s' },
  'milvus-client-idle': { type: 'string', default: '10m' },
  'shutdown-timeout': { type: 'string', default: '30s' },
  'watch-backoff-max': { type: 'string', default: '30s' },
  'watch-inactivity-timeout': { type: 'string', default: '150s' },
  'retry-backoff-base': { type: 'string', default: '10s' },
  'retry-backoff-max': { type: 'string', default: '5m' },
  'refusal-recheck': { type: 'string', default: '10m' },
  'leader-elect': { type: 'boolean', default: false },
  'leader-election-namespace': { type: 'string' },
  'leader-election-id': { type: 'string', default: 'milvus-refresh-operator' },
  'leader-elect-lease-duration': { type: 'string', default: '15s' },
  'leader-elect-renew-deadline': { type: 'string', default: '10s' },
  'leader-elect-retry-period': { type: 'string', default: '2s' },
  'memory-reclaim-mib': { type: 'string', default: '0' },
  'metrics-bind-address': { type: 'string', default: ':8080' },
  'health-probe-bind-address': { type: 'string', default: ':8081' },
  'log-level': { type: 'string', default: 'info' },
  help: { type: 'boolean', default: false },
} as const;

/** Thrown for bad configuration; the message names the flag. */
export class ConfigError extends Error {}

/** Parses flags, falling back to ECR_* variables; returns undefined when --help was asked. */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): OperatorConfig | undefined {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: argv, options: FLAGS, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  if (values.help) return undefined;
  const explicit = new Set(argv.filter((a) => a.startsWith('--')).map((a) => a.slice(2).split('=')[0]));
  const get = (flag: keyof typeof FLAGS): string | boolean | undefined => {
    const fromEnv = env[`ECR_${flag.toUpperCase().replace(/-/g, '_')}`];
    if (!explicit.has(flag) && fromEnv !== undefined)
      return FLAGS[flag].type === 'boolean' ? fromEnv === 'true' : fromEnv;
    return values[flag];
  };
  const duration = (flag: keyof typeof FLAGS, min: number): number => {
    const text = String(get(flag));
    let ms: number;
    try {
      ms = parseDurationMs(text, `--${flag}`);
    } catch (err) {
      throw new ConfigError((err as Error).message);
    }
    if (ms < min) throw new ConfigError(`--${flag}: ${text} is below the minimum of ${min}ms`);
    return ms;
  };
  const integer = (flag: keyof typeof FLAGS, min: number, max: number): number => {
    const text = String(get(flag));
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new ConfigError(`--${flag}: ${JSON.stringify(text)} must be an integer from ${min} to ${max}`);
    return n;
  };
  const bind = (flag: keyof typeof FLAGS): string => {
    const text = String(get(flag));
    if (text === '0' || text === '') return '';
    if (!/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]*):\d{1,5}$/.test(text))
      throw new ConfigError(`--${flag}: ${JSON.stringify(text)} must be [host]:port, or 0 to disable`);
    return text;
  };
  const logLevel = String(get('log-level'));
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel))
    throw new ConfigError(`--log-level: ${JSON.stringify(logLevel)} must be debug, info, warn or error`);
  const kubeconfig = get('kubeconfig') as string | undefined;
  const namespace = get('namespace') as string | undefined;
  const watchLabelSelector = (get('watch-label-selector') as string | undefined)?.trim();
  const config: OperatorConfig = {
    ...(kubeconfig ? { kubeconfig } : {}),
    ...(namespace ? { namespace } : {}),
    ...(watchLabelSelector ? { watchLabelSelector } : {}),
    progressIntervalMs: duration('progress-interval', 0),
    kubeApiQps: integer('kube-api-qps', 1, 100_000),
    kubeApiBurst: integer('kube-api-burst', 1, 100_000),
    workers: integer('workers', 1, 64),
    pollIntervalMs: duration('poll-interval', 100),
    submitGraceMs: duration('submit-grace', 0),
    unavailableStallMs: duration('unavailable-stall', 1_000),
    maxSubmitAttempts: integer('max-submit-attempts', 1, 100),
    rpcTimeoutMs: duration('rpc-timeout', 100),
    milvusEndpointConcurrency: integer('milvus-endpoint-concurrency', 1, 64),
    kubeRequestTimeoutMs: duration('kube-request-timeout', 100),
    resyncPeriodMs: duration('resync-period', 1_000),
    backoffBaseMs: duration('backoff-base', 10),
    backoffMaxMs: duration('backoff-max', 10),
    foreignJobRecheckMs: 0,
    observerBackoffMaxMs: duration('observer-backoff-max', 100),
    secretCacheTtlMs: duration('secret-cache-ttl', 0),
    milvusClientIdleMs: duration('milvus-client-idle', 1_000),
    shutdownTimeoutMs: duration('shutdown-timeout', 0),
    watchBackoffMaxMs: duration('watch-backoff-max', 1_000),
    watchInactivityTimeoutMs: duration('watch-inactivity-timeout', 10_000),
    retryBackoffBaseMs: duration('retry-backoff-base', 100),
    retryBackoffMaxMs: duration('retry-backoff-max', 100),
    refusalRecheckMs: duration('refusal-recheck', 100),
    leaderElect: get('leader-elect') === true,
    leaderElectionNamespace: (get('leader-election-namespace') as string | undefined) ?? env.POD_NAMESPACE ?? 'default',
    leaderElectionId: String(get('leader-election-id')),
    leaseDurationMs: duration('leader-elect-lease-duration', 1_000),
    renewDeadlineMs: duration('leader-elect-renew-deadline', 500),
    retryPeriodMs: duration('leader-elect-retry-period', 100),
    memoryReclaimMiB: integer('memory-reclaim-mib', 0, 4096),
    metricsBindAddress: bind('metrics-bind-address'),
    healthProbeBindAddress: bind('health-probe-bind-address'),
    logLevel: logLevel as LogLevel,
  };
  config.foreignJobRecheckMs =
    get('foreign-job-recheck') === undefined ? 4 * config.pollIntervalMs : duration('foreign-job-recheck', 100);
  if (config.retryBackoffMaxMs < config.retryBackoffBaseMs)
    throw new ConfigError('--retry-backoff-max must not be below --retry-backoff-base');
  if (config.backoffMaxMs < config.backoffBaseMs)
    throw new ConfigError('--backoff-max must not be below --backoff-base');
  // A refresh call may still be accepted until its deadline: only after that may "no job appeared" count.
  if (config.submitGraceMs <= config.rpcTimeoutMs)
    throw new ConfigError('--submit-grace must be longer than --rpc-timeout');
  // client-go's rule: leaseDuration > renewDeadline > 1.2 * retryPeriod.
  if (!(config.leaseDurationMs > config.renewDeadlineMs && config.renewDeadlineMs > 1.2 * config.retryPeriodMs)) {
    throw new ConfigError(
      '--leader-elect-lease-duration must exceed --leader-elect-renew-deadline, which must exceed 1.2 x --leader-elect-retry-period',
    );
  }
  return Object.freeze(config);
}
