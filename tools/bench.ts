/**
 * `npm run bench`: what the operator costs at scale, each number measured in one run on this machine beside
 * its reference, and each target of docs/scale.md marked met or not:
 *
 *  - burst: N resources that exist before the operator starts all reach RefreshCompleted; the time is set
 *    against the raw floor measured in the same run (a minimal HTTP/2 writer making the operator's number
 *    of status merge patches, with the operator's concurrency, on the same objects, against the same API
 *    server, plus the job duration and one poll interval);
 *  - starvation: how long after Milvus ended a job its status said so (target: two poll intervals);
 *  - CPU per status write, status writes per trigger, the progress writes of one long job, the highest
 *    write rate, and whether the API server's workload-low priority level rejected anything;
 *  - memory: peak RSS, the RSS slope between a 1,000-resource shard and all N (two more operator processes
 *    over the completed resources, split with --watch-label-selector), the cost of one more Milvus client;
 *  - idle for 60 s: Milvus RPCs, API writes, CPU, relists;
 *  - Milvus: the observer's list calls against a real naive poller (GetRefreshExternalCollectionProgress per
 *    active job per poll, the pymilvus documentation's loop) run against the same emulators afterwards;
 *    every endpoint keeps --retained-jobs finished jobs (24 h of 1,000 hourly refreshes by default), and
 *    the list strategy each endpoint ended up with is printed.
 *
 *   npm run bench -- [--resources 300] [--endpoints 3] [--job-duration 6s] [--retained-jobs 24000]
 *                    [--workers n] [--idle 60s] [--heap-snapshot] [--record]
 *
 * The operator runs as its own process with the ServiceAccount and RBAC of deploy/ (so its requests fall in
 * the workload-low priority level, as in a cluster), on the same Node binary as this script.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { MilvusClient } from '@zilliz/milvus2-sdk-node';
import { type MilvusEmulator, startEmulator } from 'milvus-refresh-emulator';
import { loadConfig } from '../src/config.js';
import { parseDurationMs } from '../src/util/duration.js';
import { type ControlPlane, freePort, startControlPlane } from './control-plane.js';
import { RawKube, type WatchEvent, inParallel } from './kube-raw.js';
import { writeTokenKubeconfig } from './kubeconfig.js';
import { REPO_ROOT } from './paths.js';
import { productionStart } from './production-start.js';

const execFileAsync = promisify(execFile);
const POLL_MS = 1_000;
/** Scrapes whose CPU is averaged (the operator's CPU time is counted in 10 ms ticks). */
const SCRAPES = 20;
/** The operator's client rate limit: its defaults (the benchmark sets neither flag). */
const KUBE = loadConfig([], {})!;
const PROGRESS_INTERVAL_MS = 10_000;
const LONG_JOB_MS = 35_000;
const NS = 'bench';
const SLICE_LABEL = 'bench.milvus.io/slice';
const ECR_PATH = `/apis/milvus.io/v1alpha1/namespaces/${NS}/externalcollectionrefreshes`;

interface Results {
  /** The CPU model and core count (the CPU targets are absolute milliseconds, which depend on the machine). */
  machine: string;
  resources: number;
  endpoints: number;
  jobDurationMs: number;
  retainedJobsPerEndpoint: number;
  workers: number;
  secondsToAllCompleted: number;
  rawFloorSeconds: number;
  floorWriterSeconds: number;
  timeVsFloor: number;
  operatorCpuSeconds: number;
  cpuMsPerStatusWrite: number;
  /** The raw floor's writer (this process, which also watches every write) in CPU per write. */
  floorCpuMsPerWrite: number;
  /** The operator's CPU per write against the floor writer's: a ratio that depends less on the machine's hour. */
  cpuVsFloorWriter: number;
  statusWrites: number;
  statusWritesPerTrigger: number;
  reconcilesPerTrigger: number;
  longJobWrites: number;
  longJobMinProgressGapSeconds: number;
  maxWritesPerSecond: number;
  completionLagMaxSeconds: number;
  completionLagP99Seconds: number;
  /** The lag split at the first Milvus list that could show the job ended: until it, and after it. */
  completionSeenMaxSeconds: number;
  completionSeenP99Seconds: number;
  completionAfterSeenMaxSeconds: number;
  completionAfterSeenP99Seconds: number;
  operatorMaxRssMiB: number;
  idleRssMiB: number;
  shardRss: { resources: number; rssMiB: number; heapMiB: number }[];
  rssSlopeKiBPerResource: number;
  heapSlopeKiBPerResource: number;
  extraClientMiB: number;
  extraClientMiBSdkAlone: number;
  idleSeconds: number;
  idleRpcs: number;
  idleStatusWrites: number;
  idleCpuPercent: number;
  idleRelists: number;
  /** CPU one /metrics scrape costs the operator when idle (not part of idleCpuPercent). */
  scrapeCpuMs: number;
  refreshCalls: number;
  milvusRpcs: number;
  listAllCalls: number;
  listAllPerEndpointPerPoll: number;
  observerCollectionLists: number;
  progressCalls: number;
  naivePollerCalls: number;
  naiveVsOperatorLists: number;
  strategies: string[];
  apiServerTlsConnections: number;
  /** Full collections the operator's memory reclaim ran in the burst, per trigger, and their time. */
  memoryReclaims: { buffers: number; heap: number; seconds: number };
  workloadLowRejected: number;
  eventsDropped: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks (USER_HZ = 100)
}

function procStatusMiB(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${field}:`));
  return Number(line?.split(/\s+/)[1] ?? 0) / 1024;
}

/** The operator's TLS connections to `port`, as its preload (tools/tls-count.ts) last wrote them. */
function tlsConnections(file: string, port: string): number {
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as Record<string, number>)[port] ?? 0;
  } catch {
    return -1;
  }
}

async function metric(port: number, name: string, labels = ''): Promise<number> {
  return metricIn(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(), name, labels);
}

function metricIn(text: string, name: string, labels = ''): number {
  return text
    .split('\n')
    .filter((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && l.includes(labels))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

const round = (n: number, digits = 1): number => Math.round(n * 10 ** digits) / 10 ** digits;

function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** An operator process with the ServiceAccount's kubeconfig and its own metrics port. */
async function spawnOperator(
  kubeconfig: string,
  extra: string[],
  env: Record<string, string> = {},
  nodeFlags: string[] = [],
): Promise<{ proc: ChildProcess; pid: number; metricsPort: number; startedAt: number }> {
  const metricsPort = await freePort();
  const start = productionStart();
  // BENCH_OPERATOR_STDOUT: a file the operators' stdout is appended to (say --trace-gc's lines); dropped otherwise.
  const stdout = process.env.BENCH_OPERATOR_STDOUT ? openSync(process.env.BENCH_OPERATOR_STDOUT, 'a') : 'ignore';
  const proc = spawn(
    process.execPath,
    [
      ...start.nodeFlags,
      ...nodeFlags,
      join(REPO_ROOT, 'dist', 'main.js'),
      `--kubeconfig=${kubeconfig}`,
      `--poll-interval=${POLL_MS}ms`,
      `--progress-interval=${PROGRESS_INTERVAL_MS}ms`,
      `--metrics-bind-address=127.0.0.1:${metricsPort}`,
      '--health-probe-bind-address=0',
      '--log-level=warn',
      ...extra,
    ],
    { stdio: ['ignore', stdout, 'inherit'], env: { ...process.env, ...start.env, ...env }, cwd: tmpdir() },
  );
  if (typeof stdout === 'number') closeSync(stdout); // the child has its own copy
  return { proc, pid: proc.pid!, metricsPort, startedAt: Date.now() };
}

async function stopProcess(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  await Promise.race([exited, sleep(35_000)]);
  if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
}

/** Applies deploy/'s RBAC and returns a kubeconfig with a token of the operator's ServiceAccount. */
function operatorKubeconfig(cp: ControlPlane): { path: string; token: string } {
  const kubectl = (...args: string[]): string =>
    execFileSync('kubectl', ['--kubeconfig', cp.kubeconfigPath, ...args], { encoding: 'utf8' });
  kubectl(
    'apply',
    '-f',
    join(REPO_ROOT, 'deploy', 'base', 'namespace.yaml'),
    '-f',
    join(REPO_ROOT, 'deploy', 'base', 'rbac.yaml'),
  );
  const token = kubectl(
    '-n',
    'milvus-refresh-operator',
    'create',
    'token',
    'milvus-refresh-operator',
    '--duration=6h',
  ).trim();
  const path = join(cp.workDir, 'operator.kubeconfig');
  writeTokenKubeconfig(path, {
    server: cp.server,
    caPem: readFileSync(cp.caCertPath),
    token,
    clusterName: 'local',
    userName: 'operator',
    contextName: 'operator',
  });
  return { path, token };
}

/** The naive follower: GetRefreshExternalCollectionProgress per active job per poll, until each ends. */
async function naivePoller(
  emulators: MilvusEmulator[],
  collections: string[][],
): Promise<{ calls: number; seconds: number }> {
  const started = Date.now();
  let calls = 0;
  const clients = emulators.map(
    (e) => new MilvusClient({ address: e.address, maxRetries: 0, logLevel: 'error', telemetry: { enabled: false } }),
  );
  await Promise.all(
    clients.map((client, i) =>
      inParallel(collections[i]!.length, 200, async (j) => {
        const res = await client.refreshExternalCollection({ collection_name: collections[i]![j]! });
        const jobId = res.job_id;
        // pymilvus' documented loop: get the progress, stop at a terminal state, sleep, repeat.
        for (;;) {
          calls += 1;
          const p = await client.getRefreshExternalCollectionProgress({ job_id: jobId });
          const state = (p as { job_info?: { state?: string } }).job_info?.state;
          if (state === 'RefreshCompleted' || state === 'RefreshFailed') break;
          await sleep(POLL_MS);
        }
      }),
    ),
  );
  await Promise.all(clients.map((c) => c.closeConnection()));
  return { calls, seconds: (Date.now() - started) / 1000 };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      resources: { type: 'string', default: '300' },
      endpoints: { type: 'string', default: '3' },
      'job-duration': { type: 'string', default: '6s' },
      'retained-jobs': { type: 'string', default: '24000' },
      workers: { type: 'string' },
      idle: { type: 'string', default: '60s' },
      'heap-snapshot': { type: 'boolean', default: false },
      record: { type: 'boolean', default: false },
    },
  });
  const n = Number(values.resources);
  const e = Number(values.endpoints);
  const retained = Number(values['retained-jobs']);
  const jobDurationMs = parseDurationMs(values['job-duration'], '--job-duration');
  const idleMs = parseDurationMs(values.idle, '--idle');
  if (!Number.isInteger(n) || n < 10 || !Number.isInteger(e) || e < 1 || !Number.isInteger(retained) || retained < 0)
    throw new Error('--resources (>= 10), --endpoints and --retained-jobs must be integers');
  const slice = Math.min(1_000, Math.floor(n / 10));
  const workerArgs = values.workers ? [`--workers=${values.workers}`] : [];
  const log = (line: string): void => console.log(`[bench +${((Date.now() - t0) / 1000).toFixed(0)}s] ${line}`);
  const t0 = Date.now();

  const machine = `${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${availableParallelism()} cores`;
  console.log(
    `Benchmark on Node ${process.version} (${machine}); the operator runs on the same binary (${process.execPath})`,
  );
  const start = productionStart();
  console.log(
    `The operator starts as the image does (Dockerfile): node ${[...start.nodeFlags, 'dist/main.js'].join(' ')}` +
      Object.entries(start.env)
        .map(([k, v]) => `, ${k}=${v}`)
        .join(''),
  );
  const cp = await startControlPlane({ log: () => undefined });
  const emulators: MilvusEmulator[] = [];
  const operators: ChildProcess[] = [];
  const admin = new RawKube(cp.server, readFileSync(cp.caCertPath), adminToken(cp.kubeconfigPath));
  try {
    const sa = operatorKubeconfig(cp);
    const asOperator = new RawKube(cp.server, readFileSync(cp.caCertPath), sa.token);

    // Milvus: e emulators, one collection per resource, `retained` finished jobs each, one long job.
    for (let i = 0; i < e; i++)
      emulators.push(await startEmulator({ timings: { job: { durationMs: jobDurationMs, pendingMs: 500 } } }));
    const collections: string[][] = emulators.map(() => []);
    const spec = { format: 'parquet', extfs: { cloud_provider: 'aws', region: 'us-east-1', anonymous: 'true' } };
    for (let i = 0; i < n; i++) {
      const name = `c${i}`;
      emulators[i % e]!.seedCollection({ name, source: `s3://lake/${name}/`, spec });
      collections[i % e]!.push(name);
    }
    emulators[0]!.seedCollection({ name: 'long', source: 's3://lake/long/', spec });
    emulators[0]!.setJobBehaviour('long', { durationMs: LONG_JOB_MS, pendingMs: 500 });
    for (const emu of emulators) emu.seedEndedJobs(retained);
    log(`${e} emulators, ${n} collections, ${retained} retained jobs per endpoint`);

    // One more Milvus client: 21 databases on emulator 0, opened through the operator's adapter and the bare SDK.
    for (let i = 1; i <= 21; i++) emulators[0]!.state.createDatabase(`db${i}`, Date.now());
    // (A child process: the emulator answering it lives in this one, so this one must not block.)
    const clientCost = async (mode: string): Promise<{ perClientRssMiB: number; perClientHeapMiB: number }> => {
      const { stdout } = await execFileAsync(
        process.execPath,
        ['--expose-gc', join(REPO_ROOT, 'dist-tools', 'tools', 'client-cost.js'), emulators[0]!.address, '21', mode],
        { encoding: 'utf8' },
      );
      return JSON.parse(stdout) as { perClientRssMiB: number; perClientHeapMiB: number };
    };
    const ours = await clientCost('operator');
    const sdkAlone = await clientCost('sdk');
    log(
      `one more Milvus client: ${ours.perClientRssMiB.toFixed(2)} MiB RSS (${ours.perClientHeapMiB.toFixed(2)} MiB heap); SDK alone ${sdkAlone.perClientRssMiB.toFixed(1)} MiB`,
    );

    // The resources, created before the operator starts (a burst of n triggers at once).
    await admin.call('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    const object = (name: string, address: string, collection: string, labels: Record<string, string> = {}) => ({
      apiVersion: 'milvus.io/v1alpha1',
      kind: 'ExternalCollectionRefresh',
      metadata: { name, namespace: NS, labels },
      spec: { milvus: { address }, collectionName: collection },
    });
    await inParallel(n, 32, (i) =>
      admin
        .call(
          'POST',
          ECR_PATH,
          object(`r${i}`, emulators[i % e]!.address, `c${i}`, i < slice ? { [SLICE_LABEL]: 'first' } : {}),
        )
        .then(() => undefined),
    );
    await admin.call('POST', ECR_PATH, object('long', emulators[0]!.address, 'long'));
    log(`created ${n + 1} resources`);

    // Watch them: when each one's status said RefreshCompleted, and every status write (MODIFIED event).
    const listed = await admin.call<{ metadata: { resourceVersion: string } }>('GET', `${ECR_PATH}?limit=1`);
    const completedAt = new Map<string, { at: number; jobId: string }>();
    const writesPerSecond = new Map<number, number>();
    let countWrites = true; // until the raw floor's own writes begin
    const longWrites: { at: number; progress: number; state: string }[] = [];
    const watch = admin.watch(ECR_PATH, listed.metadata.resourceVersion, (ev: WatchEvent) => {
      if (ev.type !== 'MODIFIED') return;
      const now = Date.now();
      const second = Math.floor(now / 1000);
      if (countWrites) writesPerSecond.set(second, (writesPerSecond.get(second) ?? 0) + 1);
      const name = ev.object.metadata?.name ?? '';
      const st = (ev.object.status ?? {}) as { state?: string; jobId?: string; progress?: number };
      if (name === 'long') longWrites.push({ at: now, progress: st.progress ?? -1, state: st.state ?? '' });
      else if (st.state === 'RefreshCompleted' && !completedAt.has(name))
        completedAt.set(name, { at: now, jobId: st.jobId ?? '' });
    });

    // The operator, started after the resources exist.
    const tlsCountFile = join(mkdtempSync(join(tmpdir(), 'ecr-bench-')), 'tls.json');
    // BENCH_OPERATOR_NODE_FLAGS: extra Node flags for this operator (say --cpu-prof --cpu-prof-dir=/tmp/p);
    // BENCH_OPERATOR_ENV: extra environment for it, NAME=value pairs separated by spaces (say an allocator in
    // LD_PRELOAD). Neither reaches the other processes the benchmark starts.
    const extraEnv = Object.fromEntries(
      (process.env.BENCH_OPERATOR_ENV?.split(' ').filter(Boolean) ?? []).map((kv) => {
        const at = kv.indexOf('=');
        if (at < 1) throw new Error(`BENCH_OPERATOR_ENV: '${kv}' is not NAME=value`);
        return [kv.slice(0, at), kv.slice(at + 1)];
      }),
    );
    const op = await spawnOperator(sa.path, workerArgs, { ...extraEnv, ECR_TLS_COUNT_FILE: tlsCountFile }, [
      '--import',
      join(REPO_ROOT, 'dist-tools', 'tools', 'tls-count.js'),
      ...(process.env.BENCH_OPERATOR_NODE_FLAGS?.split(' ').filter(Boolean) ?? []),
    ]);
    operators.push(op.proc);
    const cpu0 = cpuSeconds(op.pid);
    const rpcs0 = emulators.map((x) => x.rpcs().length);
    log(`operator started (pid ${op.pid}); waiting for ${n} jobs to complete`);
    let lastReport = Date.now();
    while (completedAt.size < n) {
      if (op.proc.exitCode !== null) throw new Error(`the operator exited with ${op.proc.exitCode}`);
      if (Date.now() - op.startedAt > 30 * 60_000)
        throw new Error(`only ${completedAt.size}/${n} completed after 30 min`);
      if (Date.now() - lastReport > 15_000) {
        log(`${completedAt.size}/${n} completed, RSS ${procStatusMiB(op.pid, 'VmRSS').toFixed(0)} MiB`);
        lastReport = Date.now();
      }
      await sleep(100);
    }
    const burstEnd = Math.max(...[...completedAt.values()].map((c) => c.at));
    const burstSeconds = (burstEnd - op.startedAt) / 1000;
    const burstCpu = cpuSeconds(op.pid) - cpu0;
    log(`all ${n} completed after ${burstSeconds.toFixed(1)} s`);
    while (!longWrites.some((w) => w.state === 'RefreshCompleted')) await sleep(200);
    await sleep(2_000); // the last writes and lists settle

    const opMetrics = await (await fetch(`http://127.0.0.1:${op.metricsPort}/metrics`)).text();
    const statusWrites = metricIn(opMetrics, 'milvus_refresh_status_writes_total');
    const memoryReclaims = {
      buffers: metricIn(opMetrics, 'milvus_refresh_memory_reclaims_total', 'trigger="buffers"'),
      heap: metricIn(opMetrics, 'milvus_refresh_memory_reclaims_total', 'trigger="heap"'),
      seconds: round(metricIn(opMetrics, 'milvus_refresh_memory_reclaim_seconds_total'), 2),
    };
    const burstRpcs = emulators.flatMap((x, i) => x.rpcs().slice(rpcs0[i]));
    const listAll = burstRpcs.filter((c) => c.method === 'ListRefreshExternalCollectionJobs' && !c.collection);
    const observerAll = metricIn(opMetrics, 'milvus_refresh_observer_lists_total', 'strategy="all"');
    const observerCollection = metricIn(opMetrics, 'milvus_refresh_observer_lists_total', 'strategy="collection"');
    const strategies = emulators.map((x, i) => {
      const calls = x.rpcs().slice(rpcs0[i]);
      const all = calls.filter((c) => c.method === 'ListRefreshExternalCollectionJobs' && !c.collection).length;
      const one = calls.filter((c) => c.method === 'ListRefreshExternalCollectionJobs' && c.collection).length;
      const refreshes = calls.filter((c) => c.method === 'RefreshExternalCollection').length;
      return `endpoint ${i + 1}: ${all} all-jobs lists, ${Math.max(0, one - refreshes)} per-collection lists beyond one per submission`;
    });
    // How long after Milvus ended each job its status said so.
    const ends = new Map(emulators.flatMap((x) => x.jobs().map((j) => [j.job_id, Number(j.end_time)] as const)));
    const lags = [...completedAt.values()].map((c) => (c.at - (ends.get(c.jobId) ?? c.at)) / 1000);
    // Split at the first list (all jobs, or the job's collection) Milvus answered after the job ended: the
    // time until the operator could know, and the time it then took to write the status.
    const split = completionSplit(emulators, [...completedAt.values()]);
    // Progress-only writes: consecutive writes of the job in the same running state.
    const longGaps = longWrites
      .map((w, i) => ({ w, prev: longWrites[i - 1] }))
      .filter(
        ({ w, prev }) =>
          prev && w.state === prev.state && (w.state === 'RefreshInProgress' || w.state === 'RefreshPending'),
      )
      .map(({ w, prev }) => (w.at - prev!.at) / 1000);
    const peakRss = procStatusMiB(op.pid, 'VmHWM');
    const eventsDropped = await metric(op.metricsPort, 'milvus_refresh_kube_requests_total', 'code="dropped"');

    // Settled: the queued events are sent and the work queue is empty (polled through the metrics).
    const reconciles = await metric(op.metricsPort, 'controller_runtime_reconcile_total');
    for (let stable = 0, last = -1; stable < 3;) {
      const text = await (await fetch(`http://127.0.0.1:${op.metricsPort}/metrics`)).text();
      const sent = metricIn(text, 'milvus_refresh_kube_requests_total', 'what="create_event"');
      const depth = metricIn(text, 'workqueue_depth');
      stable = sent === last && depth === 0 ? stable + 1 : 0;
      last = sent;
      await sleep(1_000);
    }
    // Idle: every job ended; nothing may be called or written, and the CPU stays under 1% of a core.
    const idle0 = {
      rpcs: emulators.reduce((s, x) => s + x.rpcs().length, 0),
      writes: await metric(op.metricsPort, 'milvus_refresh_status_writes_total'),
      relists: await metric(op.metricsPort, 'milvus_refresh_informer_restarts_total'),
      cpu: cpuSeconds(op.pid),
      modified: [...writesPerSecond.values()].reduce((a, b) => a + b, 0),
    };
    log(`idle for ${idleMs / 1000} s`);
    await sleep(idleMs);
    // The operator's CPU over the window alone: read before the benchmark's own metric reads below, each of
    // which costs the operator a scrape (measured apart, as a Prometheus scrape).
    const idleCpuSeconds = cpuSeconds(op.pid) - idle0.cpu;
    const idleRpcs = emulators.reduce((s, x) => s + x.rpcs().length, 0) - idle0.rpcs;
    const idleWrites = (await metric(op.metricsPort, 'milvus_refresh_status_writes_total')) - idle0.writes;
    const idleModified = [...writesPerSecond.values()].reduce((a, b) => a + b, 0) - idle0.modified;
    const idleRelists = (await metric(op.metricsPort, 'milvus_refresh_informer_restarts_total')) - idle0.relists;
    const idleCpuPercent = (idleCpuSeconds / (idleMs / 1000)) * 100;
    // What one /metrics scrape costs the operator when idle (CPU time is counted in 10 ms ticks: 20 scrapes).
    const scrapeCpu0 = cpuSeconds(op.pid);
    for (let i = 0; i < SCRAPES; i++) await (await fetch(`http://127.0.0.1:${op.metricsPort}/metrics`)).text();
    const scrapeCpuMs = ((cpuSeconds(op.pid) - scrapeCpu0) * 1000) / SCRAPES;
    const idleRss = procStatusMiB(op.pid, 'VmRSS');
    const workers = await metric(op.metricsPort, 'controller_runtime_max_concurrent_reconciles');
    const tls = tlsConnections(tlsCountFile, new URL(cp.server).port);
    await stopProcess(op.proc);

    // Memory per resource: fresh operators over the completed resources, split by --watch-label-selector.
    log(`memory: operators over 0, ${slice} and ${n} completed resources`);
    const shards = [
      { resources: 0, selector: `${SLICE_LABEL}=none` },
      { resources: slice, selector: `${SLICE_LABEL}=first` },
      { resources: n + 1, selector: '' },
    ];
    const snapshotDir = mkdtempSync(join(tmpdir(), 'ecr-heap-'));
    const shardProcs: Awaited<ReturnType<typeof spawnOperator>>[] = [];
    for (const s of shards) {
      shardProcs.push(
        await spawnOperator(
          sa.path,
          [...workerArgs, ...(s.selector ? [`--watch-label-selector=${s.selector}`] : [])],
          {},
          values['heap-snapshot'] && !s.selector
            ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${snapshotDir}`]
            : [],
        ),
      );
      operators.push(shardProcs.at(-1)!.proc);
    }
    for (const [i, s] of shards.entries()) {
      const p = shardProcs[i]!;
      for (let t = 0; t < 600; t++) {
        const reconciled = await metric(p.metricsPort, 'controller_runtime_reconcile_total').catch(() => 0);
        if (reconciled >= s.resources) break;
        await sleep(250);
      }
    }
    await sleep(15_000); // let the heap settle (idle-time GC)
    const shardRss = shards.map((s, i) => ({
      resources: s.resources,
      rssMiB: round(procStatusMiB(shardProcs[i]!.pid, 'VmRSS')),
      heapMiB: 0,
    }));
    for (const [i, s] of shardRss.entries())
      s.heapMiB = round((await metric(shardProcs[i]!.metricsPort, 'nodejs_heap_size_used_bytes')) / 1048576);
    if (values['heap-snapshot']) {
      shardProcs[2]!.proc.kill('SIGUSR2');
      await sleep(20_000);
      log(`heap snapshot of the ${n}-resource operator written to ${snapshotDir}`);
    }
    for (const p of shardProcs) await stopProcess(p.proc);
    const [, small, all] = shardRss;
    const rssSlope = ((all!.rssMiB - small!.rssMiB) * 1024) / (all!.resources - small!.resources);
    const heapSlope = ((all!.heapMiB - small!.heapMiB) * 1024) / (all!.resources - small!.resources);

    // The raw floor: the operator's number of status merge patches, its concurrency, the same objects.
    log(`raw floor: ${statusWrites} status merge patches with ${workers} at once`);
    countWrites = false; // the write rate is the operator's (this watch sees the floor's writes too)
    const rv = new Map<string, string>();
    const page = await asOperator.call<{ items: { metadata: { name: string; resourceVersion: string } }[] }>(
      'GET',
      ECR_PATH,
    );
    for (const item of page.items) rv.set(item.metadata.name, item.metadata.resourceVersion);
    const names = [...rv.keys()];
    const floorStart = Date.now();
    // This process's CPU while it writes (and its watch reads every write's event, as an informer would): a
    // reference for the operator's CPU per write that moves with the machine's speed as the operator's does.
    const floorCpu0 = process.cpuUsage();
    await inParallel(statusWrites, Math.max(1, workers), async (i) => {
      const name = names[i % names.length]!;
      const round = Math.floor(i / names.length);
      const updated = await asOperator.call<{ metadata: { resourceVersion: string } }>(
        'PATCH',
        `${ECR_PATH}/${name}/status?fieldManager=floor`,
        {
          metadata: { resourceVersion: rv.get(name) },
          status: {
            progress: round % 100,
            state: round % 2 === 0 ? 'RefreshInProgress' : 'RefreshCompleted',
            conditions: [
              {
                type: 'Ready',
                status: round % 2 === 0 ? 'False' : 'True',
                reason: round % 2 === 0 ? 'RefreshInProgress' : 'RefreshCompleted',
                message: `raw floor write ${i}`,
                lastTransitionTime: new Date().toISOString(),
                observedGeneration: 1,
              },
            ],
          },
        },
        'application/merge-patch+json',
      );
      rv.set(name, updated.metadata.resourceVersion);
    });
    const floorWriterSeconds = (Date.now() - floorStart) / 1000;
    const floorCpu = process.cpuUsage(floorCpu0);
    const floorCpuMsPerWrite = (floorCpu.user + floorCpu.system) / 1000 / Math.max(1, statusWrites);
    const cpuMsPerWrite = (burstCpu * 1000) / Math.max(1, statusWrites);
    const rawFloor = floorWriterSeconds + jobDurationMs / 1000 + POLL_MS / 1000;
    watch.stop();

    // A real naive poller over the same emulators: one more job per collection, followed job by job.
    log('naive poller: one progress call per active job per poll');
    const naive = await naivePoller(emulators, collections);
    const workloadLowRejected = await apfRejected(admin);

    const results: Results = {
      machine,
      resources: n,
      endpoints: e,
      jobDurationMs,
      retainedJobsPerEndpoint: retained,
      workers,
      secondsToAllCompleted: round(burstSeconds),
      rawFloorSeconds: round(rawFloor),
      floorWriterSeconds: round(floorWriterSeconds),
      timeVsFloor: round(burstSeconds / rawFloor, 2),
      operatorCpuSeconds: round(burstCpu),
      cpuMsPerStatusWrite: round(cpuMsPerWrite, 2),
      floorCpuMsPerWrite: round(floorCpuMsPerWrite, 3),
      cpuVsFloorWriter: round(cpuMsPerWrite / Math.max(1e-9, floorCpuMsPerWrite), 1),
      statusWrites,
      // The long job's writes are reported on their own.
      statusWritesPerTrigger: round((statusWrites - longWrites.length) / n, 2),
      reconcilesPerTrigger: round(reconciles / (n + 1), 1),
      longJobWrites: longWrites.length,
      longJobMinProgressGapSeconds: round(Math.min(Infinity, ...longGaps)),
      maxWritesPerSecond: Math.max(...writesPerSecond.values()),
      completionLagMaxSeconds: round(Math.max(...lags), 2),
      completionLagP99Seconds: round(percentile(lags, 99), 2),
      completionSeenMaxSeconds: round(Math.max(0, ...split.seen), 2),
      completionSeenP99Seconds: round(percentile(split.seen, 99), 2),
      completionAfterSeenMaxSeconds: round(Math.max(0, ...split.after), 2),
      completionAfterSeenP99Seconds: round(percentile(split.after, 99), 2),
      operatorMaxRssMiB: round(peakRss),
      idleRssMiB: round(idleRss),
      shardRss,
      rssSlopeKiBPerResource: round(rssSlope, 2),
      heapSlopeKiBPerResource: round(heapSlope, 2),
      extraClientMiB: round(ours.perClientRssMiB, 2),
      extraClientMiBSdkAlone: round(sdkAlone.perClientRssMiB, 1),
      idleSeconds: idleMs / 1000,
      idleRpcs,
      idleStatusWrites: Math.max(idleWrites, idleModified),
      idleCpuPercent: round(idleCpuPercent, 2),
      idleRelists,
      scrapeCpuMs: round(scrapeCpuMs, 1),
      refreshCalls: burstRpcs.filter((c) => c.method === 'RefreshExternalCollection').length,
      milvusRpcs: burstRpcs.length,
      listAllCalls: listAll.length,
      listAllPerEndpointPerPoll: round(listAll.length / e / (burstSeconds / (POLL_MS / 1000)), 2),
      observerCollectionLists: observerCollection,
      progressCalls: burstRpcs.filter((c) => c.method === 'GetRefreshExternalCollectionProgress').length,
      naivePollerCalls: naive.calls,
      naiveVsOperatorLists: round(naive.calls / Math.max(1, observerAll + observerCollection)),
      strategies,
      apiServerTlsConnections: tls,
      memoryReclaims,
      workloadLowRejected,
      eventsDropped,
    };
    report(results, values.record ?? false);
  } finally {
    await Promise.all(operators.map(stopProcess));
    admin.close();
    await Promise.all(emulators.map((x) => x.close()));
    await cp.stop();
  }
}

/** Per completed job: seconds from its end to the first list that could show it ended, and from there to status. */
function completionSplit(
  emulators: MilvusEmulator[],
  completed: { at: number; jobId: string }[],
): { seen: number[]; after: number[] } {
  const lists = emulators.map((x) => {
    const all: number[] = [];
    const byCollection = new Map<string, number[]>();
    for (const c of x.rpcs('ListRefreshExternalCollectionJobs')) {
      if (!c.collection) all.push(c.at);
      else if (byCollection.has(c.collection)) byCollection.get(c.collection)!.push(c.at);
      else byCollection.set(c.collection, [c.at]);
    }
    return { all, byCollection };
  });
  const where = new Map(
    emulators.flatMap((x, i) =>
      x.jobs().map((j) => [j.job_id, { endpoint: i, collection: j.collection_name, end: Number(j.end_time) }] as const),
    ),
  );
  const firstFrom = (sorted: number[] | undefined, t: number): number => {
    if (!sorted) return Infinity;
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid]! < t) lo = mid + 1;
      else hi = mid;
    }
    return lo < sorted.length ? sorted[lo]! : Infinity;
  };
  const seen: number[] = [];
  const after: number[] = [];
  for (const c of completed) {
    const w = where.get(c.jobId);
    if (!w) continue;
    const l = lists[w.endpoint]!;
    const first = Math.min(firstFrom(l.all, w.end), firstFrom(l.byCollection.get(w.collection), w.end));
    if (!Number.isFinite(first) || first > c.at) continue;
    seen.push((first - w.end) / 1000);
    after.push((c.at - first) / 1000);
  }
  return { seen, after };
}

function adminToken(kubeconfigPath: string): string {
  const m = /token: *"?([^"\s]+)"?/.exec(readFileSync(kubeconfigPath, 'utf8'));
  if (!m) throw new Error(`no token in ${kubeconfigPath}`);
  return m[1]!;
}

/** Requests of the workload-low priority level (every ServiceAccount) that APF rejected. */
async function apfRejected(admin: RawKube): Promise<number> {
  try {
    const text = await admin.text('/metrics');
    return text
      .split('\n')
      .filter(
        (l) =>
          l.startsWith('apiserver_flowcontrol_rejected_requests_total') && l.includes('priority_level="workload-low"'),
      )
      .reduce((s, l) => s + Number(l.split(' ').at(-1)), 0);
  } catch {
    return -1;
  }
}

function report(r: Results, record: boolean): void {
  const baselinePath = join(REPO_ROOT, 'bench', 'baseline.json');
  // One entry per number of resources: { "300": {...}, "10000": {...} }.
  const recorded = existsSync(baselinePath)
    ? (JSON.parse(readFileSync(baselinePath, 'utf8')) as Record<string, Partial<Results>>)
    : {};
  const baseline = recorded[String(r.resources)] ?? {};
  const poll = POLL_MS / 1000;
  const rows: [string, string, string, boolean][] = [
    [
      `time until all ${r.resources} completed`,
      `${r.secondsToAllCompleted} s`,
      `raw floor ${r.rawFloorSeconds} s (writer ${r.floorWriterSeconds} s + job ${r.jobDurationMs / 1000} s + poll ${poll} s): ${r.timeVsFloor}x, target <= 2x`,
      r.timeVsFloor <= 2,
    ],
    [
      'operator CPU per status write',
      `${r.cpuMsPerStatusWrite} ms`,
      `${r.operatorCpuSeconds} s for ${r.statusWrites} writes; target <= 2 ms; the raw floor's writer (watching too) ${r.floorCpuMsPerWrite} ms per write: ${r.cpuVsFloorWriter}x`,
      r.cpuMsPerStatusWrite <= 2,
    ],
    [
      'finished job -> status (max, p99)',
      `${r.completionLagMaxSeconds} s, ${r.completionLagP99Seconds} s`,
      `two poll intervals = ${2 * poll} s; until a list showed it ${r.completionSeenMaxSeconds} s, ${r.completionSeenP99Seconds} s; then to status ${r.completionAfterSeenMaxSeconds} s, ${r.completionAfterSeenP99Seconds} s`,
      r.completionLagMaxSeconds <= 2 * poll,
    ],
    [
      'status writes per trigger',
      `${r.statusWritesPerTrigger}`,
      `target <= 4 (${r.reconcilesPerTrigger} reconciles per trigger)`,
      r.statusWritesPerTrigger <= 4,
    ],
    [
      `long job (${LONG_JOB_MS / 1000} s): writes, shortest gap between progress writes`,
      `${r.longJobWrites}, ${r.longJobMinProgressGapSeconds} s`,
      `--progress-interval ${PROGRESS_INTERVAL_MS / 1000} s`,
      r.longJobMinProgressGapSeconds >= PROGRESS_INTERVAL_MS / 1000 - 0.5,
    ],
    [
      'highest write rate',
      `${r.maxWritesPerSecond}/s`,
      `at most --kube-api-qps + --kube-api-burst in a second (${KUBE.kubeApiQps} + ${KUBE.kubeApiBurst})`,
      r.maxWritesPerSecond <= KUBE.kubeApiQps + KUBE.kubeApiBurst,
    ],
    ['workload-low requests rejected by APF', `${r.workloadLowRejected}`, 'target 0', r.workloadLowRejected === 0],
    [
      'peak RSS (whole run)',
      `${r.operatorMaxRssMiB} MiB`,
      `target <= 200 MiB; ${r.idleRssMiB} MiB when idle`,
      r.operatorMaxRssMiB <= 200,
    ],
    [
      'RSS slope per resource',
      `${r.rssSlopeKiBPerResource} KiB`,
      `${r.shardRss.map((s) => `${s.resources}: ${s.rssMiB} MiB (heap ${s.heapMiB})`).join(', ')}; heap slope ${r.heapSlopeKiBPerResource} KiB; target <= 8 KiB`,
      r.rssSlopeKiBPerResource <= 8,
    ],
    [
      'one more Milvus client',
      `${r.extraClientMiB} MiB`,
      `the SDK alone: ${r.extraClientMiBSdkAlone} MiB; target <= 2 MiB`,
      r.extraClientMiB <= 2,
    ],
    [
      `idle ${r.idleSeconds} s: RPCs, writes, CPU, relists`,
      `${r.idleRpcs}, ${r.idleStatusWrites}, ${r.idleCpuPercent}%, ${r.idleRelists}`,
      `target 0, 0, < 1%, 0; one /metrics scrape: ${r.scrapeCpuMs} ms of CPU, not counted`,
      r.idleRpcs === 0 && r.idleStatusWrites === 0 && r.idleCpuPercent < 1 && r.idleRelists === 0,
    ],
    [
      'all-jobs lists per endpoint per poll',
      `${r.listAllPerEndpointPerPoll}`,
      `${r.listAllCalls} all-jobs lists, ${r.observerCollectionLists} per-collection lists; target <= 1`,
      r.listAllPerEndpointPerPoll <= 1.05,
    ],
    [
      'Milvus calls to follow the jobs vs a naive poller',
      `${r.naiveVsOperatorLists}x fewer`,
      `naive poller: ${r.naivePollerCalls} progress calls; operator: ${r.progressCalls} progress calls`,
      r.progressCalls === 0,
    ],
    [
      'RefreshExternalCollection calls',
      `${r.refreshCalls}`,
      `${r.resources + 1} triggers`,
      r.refreshCalls === r.resources + 1,
    ],
  ];
  console.log(
    `\n${r.resources} resources (+1 long job) on ${r.endpoints} endpoints, jobs of ${r.jobDurationMs / 1000} s, ` +
      `${r.retainedJobsPerEndpoint} retained jobs per endpoint, ${r.workers} workers, poll ${poll} s\n`,
  );
  for (const [label, now, reference, met] of rows)
    console.log(`${met ? 'met    ' : 'NOT MET'}  ${label.padEnd(62)} ${now.padStart(16)}   ${reference}`);
  console.log(`\nList strategy per endpoint: ${r.strategies.join('; ')}`);
  console.log(
    `TLS connections to the API server: ${r.apiServerTlsConnections}; events dropped in the burst: ${r.eventsDropped}`,
  );
  const mr = r.memoryReclaims;
  console.log(
    `Memory reclaims in the burst (--memory-reclaim-mib): ${mr.buffers + mr.heap} full collections ` +
      `(${mr.buffers} for received buffers, ${mr.heap} for heap growth), ${mr.seconds} s in those collections`,
  );
  if (baseline.resources === r.resources) {
    const keys: (keyof Results)[] = [
      'secondsToAllCompleted',
      'operatorCpuSeconds',
      'operatorMaxRssMiB',
      'statusWritesPerTrigger',
    ];
    console.log(
      `\nAgainst bench/baseline.json (${baseline.resources} resources, measured on ${baseline.machine ?? 'an unrecorded machine'}):`,
    );
    for (const k of keys) console.log(`  ${k}: ${JSON.stringify(baseline[k])} -> ${JSON.stringify(r[k])}`);
  }
  console.log(
    `\nScaling row: | ${r.resources} | ${r.secondsToAllCompleted} s | ${r.rawFloorSeconds} s (${r.timeVsFloor}x) | ${r.operatorCpuSeconds} s (${r.cpuMsPerStatusWrite} ms/write) | ` +
      `${r.operatorMaxRssMiB} MiB | ${r.statusWrites} (${r.statusWritesPerTrigger}/trigger) | ${r.milvusRpcs} RPCs | ${r.naivePollerCalls} |`,
  );
  if (record) {
    const entries = Object.entries({ ...recorded, [String(r.resources)]: r }).sort(([x], [y]) => Number(x) - Number(y));
    writeFileSync(baselinePath, `${JSON.stringify(Object.fromEntries(entries), null, 2)}\n`);
    console.log(`Recorded as the new baseline in ${baselinePath}`);
  }
}

main().catch((err: Error) => {
  console.error(`bench: ${err.stack ?? err.message}`);
  process.exit(1);
});
