/**
 * `npm run bench`: what the operator costs at scale, measured against a real control plane, emulators over
 * gRPC and the operator as its own process. Prints the numbers and compares them with
 *  - a naive per-job poller (one GetRefreshExternalCollectionProgress per active job per poll), and
 *  - the numbers recorded in bench/baseline.json (update it with --record).
 *
 *   npm run bench -- [--resources 300] [--endpoints 3] [--job-duration 6s] [--record]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type MilvusEmulator, startEmulator } from 'milvus-refresh-emulator';
import { parseDurationMs } from '../src/util/duration.js';
import { freePort, startControlPlane } from './control-plane.js';
import { kubectlOk } from './kubectl.js';
import { REPO_ROOT } from './paths.js';

const POLL_MS = 1_000;

interface Results {
  resources: number;
  endpoints: number;
  jobDurationMs: number;
  secondsToAllCompleted: number;
  refreshCalls: number;
  perCollectionListCalls: number;
  listAllCallsPerEndpointPerSecond: number;
  progressCalls: number;
  statusWritesPerResource: number;
  idleRpcs: number;
  idleStatusWrites: number;
  operatorCpuSeconds: number;
  operatorMaxRssMiB: number;
  /** TLS connections the operator opened to the API server (each one a handshake). */
  apiServerTlsConnections: number;
  naivePollerCalls: number;
}

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks (USER_HZ = 100)
}

/** The operator's TLS connections to `port`, as its preload (tools/tls-count.ts) last wrote them. */
function tlsConnections(file: string, port: string): number {
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as Record<string, number>)[port] ?? 0;
  } catch {
    return -1;
  }
}

function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmHWM:'));
  return Math.round(Number(line?.split(/\s+/)[1] ?? 0) / 1024);
}

async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      resources: { type: 'string', default: '300' },
      endpoints: { type: 'string', default: '3' },
      'job-duration': { type: 'string', default: '6s' },
      record: { type: 'boolean', default: false },
    },
  });
  const n = Number(values.resources);
  const e = Number(values.endpoints);
  const jobDurationMs = parseDurationMs(values['job-duration'], '--job-duration');
  if (!Number.isInteger(n) || n < 1 || !Number.isInteger(e) || e < 1)
    throw new Error('--resources and --endpoints must be positive integers');

  console.log(`Benchmark on Node ${process.version}; the operator runs on the same binary (${process.execPath})`);
  const cp = await startControlPlane({ log: () => undefined });
  const emulators: MilvusEmulator[] = [];
  let operator: ChildProcess | undefined;
  try {
    for (let i = 0; i < e; i++)
      emulators.push(await startEmulator({ timings: { job: { durationMs: jobDurationMs, pendingMs: 500 } } }));
    const items: Record<string, unknown>[] = [];
    for (let i = 0; i < n; i++) {
      const emu = emulators[i % e]!;
      const name = `c${i}`;
      emu.seedCollection({
        name,
        source: `s3://lake/${name}/`,
        spec: { format: 'parquet', extfs: { cloud_provider: 'aws', region: 'us-east-1', anonymous: 'true' } },
      });
      items.push({
        apiVersion: 'milvus.io/v1alpha1',
        kind: 'ExternalCollectionRefresh',
        metadata: { name: `r${i}`, namespace: 'bench' },
        spec: { milvus: { address: emu.address }, collectionName: name },
      });
    }
    const kc = cp.kubeconfigPath;
    await kubectlOk(kc, ['create', 'namespace', 'bench']);
    const metricsPort = await freePort();
    const tlsCountFile = join(mkdtempSync(join(tmpdir(), 'ecr-bench-')), 'tls.json');
    operator = spawn(
      process.execPath,
      [
        '--import',
        fileURLToPath(new URL('./tls-count.js', import.meta.url)),
        join(REPO_ROOT, 'dist', 'main.js'),
        `--kubeconfig=${cp.kubeconfigPath}`,
        `--poll-interval=${POLL_MS}ms`,
        `--metrics-bind-address=127.0.0.1:${metricsPort}`,
        '--health-probe-bind-address=0',
        '--log-level=warn',
      ],
      { stdio: 'ignore', env: { ...process.env, ECR_TLS_COUNT_FILE: tlsCountFile } },
    );
    const pid = operator.pid!;
    await new Promise((r) => setTimeout(r, 1_500));
    const cpu0 = cpuSeconds(pid);
    const started = Date.now();
    await kubectlOk(kc, ['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
    console.log(`Applied ${n} resources on ${e} Milvus endpoints; waiting for every job to complete...`);
    for (;;) {
      const stdout = await kubectlOk(kc, [
        '-n',
        'bench',
        'get',
        'ecr',
        '-o',
        'jsonpath={range .items[*]}{.status.state}{"\\n"}{end}',
      ]);
      const done = stdout.split('\n').filter((s) => s === 'RefreshCompleted').length;
      if (done === n) break;
      if (Date.now() - started > 600_000) throw new Error(`only ${done}/${n} completed after 10 minutes`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const elapsedMs = Date.now() - started;
    const rpcs = emulators.flatMap((x) => x.rpcs());
    const listAll = rpcs.filter((c) => c.method === 'ListRefreshExternalCollectionJobs' && !c.collection);
    const writes = await metric(metricsPort, 'milvus_refresh_status_writes_total');
    // Idle: jobs ended, nothing may be called or written.
    const idleRpcs0 = emulators.reduce((s, x) => s + x.rpcs().length, 0);
    await new Promise((r) => setTimeout(r, 10_000));
    const idleRpcs = emulators.reduce((s, x) => s + x.rpcs().length, 0) - idleRpcs0;
    const idleWrites = (await metric(metricsPort, 'milvus_refresh_status_writes_total')) - writes;
    const jobs = emulators.flatMap((x) => x.jobs());
    const naive = jobs.reduce((s, j) => s + Math.ceil((Number(j.end_time) - Number(j.start_time)) / POLL_MS), 0);
    const results: Results = {
      resources: n,
      endpoints: e,
      jobDurationMs,
      secondsToAllCompleted: Math.round(elapsedMs / 100) / 10,
      refreshCalls: rpcs.filter((c) => c.method === 'RefreshExternalCollection').length,
      perCollectionListCalls: rpcs.filter((c) => c.method === 'ListRefreshExternalCollectionJobs' && c.collection)
        .length,
      listAllCallsPerEndpointPerSecond: Math.round((listAll.length / e / (elapsedMs / 1000)) * 100) / 100,
      progressCalls: rpcs.filter((c) => c.method === 'GetRefreshExternalCollectionProgress').length,
      statusWritesPerResource: Math.round((writes / n) * 10) / 10,
      idleRpcs,
      idleStatusWrites: idleWrites,
      operatorCpuSeconds: Math.round((cpuSeconds(pid) - cpu0) * 10) / 10,
      operatorMaxRssMiB: rssMiB(pid),
      naivePollerCalls: naive,
      apiServerTlsConnections: tlsConnections(tlsCountFile, new URL(cp.server).port),
    };
    report(results, listAll.length, values.record);
    const broken = [
      results.refreshCalls !== n && `${results.refreshCalls} refresh calls for ${n} triggers`,
      jobs.length !== n && `${jobs.length} Milvus jobs for ${n} triggers`,
      results.idleRpcs !== 0 && `${results.idleRpcs} RPCs while idle`,
      results.idleStatusWrites !== 0 && `${results.idleStatusWrites} status writes while idle`,
      results.progressCalls !== 0 && `${results.progressCalls} per-job progress calls`,
    ].filter(Boolean);
    if (broken.length) {
      console.error(`\nPromises broken: ${broken.join('; ')}`);
      process.exitCode = 1;
    }
  } finally {
    operator?.kill('SIGTERM');
    await Promise.all(emulators.map((x) => x.close()));
    await cp.stop();
  }
}

function report(r: Results, listAllCalls: number, record: boolean | undefined): void {
  const baselinePath = join(REPO_ROOT, 'bench', 'baseline.json');
  const baseline = existsSync(baselinePath) ? (JSON.parse(readFileSync(baselinePath, 'utf8')) as Partial<Results>) : {};
  const rows: [string, keyof Results, string][] = [
    ['time until every job completed', 'secondsToAllCompleted', 's'],
    ['RefreshExternalCollection calls', 'refreshCalls', ''],
    ['per-collection list calls (one per trigger)', 'perCollectionListCalls', ''],
    ['list-all calls per endpoint per second (poll 1 s)', 'listAllCallsPerEndpointPerSecond', ''],
    ['GetRefreshExternalCollectionProgress calls', 'progressCalls', ''],
    ['status writes per resource', 'statusWritesPerResource', ''],
    ['RPCs in 10 s idle', 'idleRpcs', ''],
    ['status writes in 10 s idle', 'idleStatusWrites', ''],
    ['operator CPU', 'operatorCpuSeconds', 's'],
    ['operator peak RSS', 'operatorMaxRssMiB', 'MiB'],
    ['TLS connections to the API server', 'apiServerTlsConnections', ''],
  ];
  console.log(`\n${r.resources} resources, ${r.endpoints} endpoints, jobs of ${r.jobDurationMs / 1000} s\n`);
  console.log(`${'measure'.padEnd(52)}${'now'.padStart(10)}${'baseline'.padStart(10)}${'change'.padStart(10)}`);
  for (const [label, key, unit] of rows) {
    const now = r[key];
    const base = baseline[key];
    const change = typeof base === 'number' && base !== 0 ? `${(((now - base) / base) * 100).toFixed(0)}%` : '-';
    console.log(
      `${label.padEnd(52)}${`${now}${unit}`.padStart(10)}${(base === undefined ? '-' : `${base}${unit}`).padStart(10)}${change.padStart(10)}`,
    );
  }
  console.log(
    `\nMilvus calls to follow the jobs: ${listAllCalls} list calls, against ${r.naivePollerCalls} for a naive poller ` +
      `(one progress call per active job per second): ${(r.naivePollerCalls / Math.max(1, listAllCalls)).toFixed(1)}x fewer.`,
  );
  if (record) {
    writeFileSync(baselinePath, `${JSON.stringify(r, null, 2)}\n`);
    console.log(`Recorded as the new baseline in ${baselinePath}`);
  }
}

main().catch((err: Error) => {
  console.error(`bench: ${err.message}`);
  process.exit(1);
});
