/**
 * The fault campaign of `npm run chaos` and test/integration/chaos.test.ts: two operator replicas with leader
 * election (each its own process, as in the Deployment) against a local control plane of its own (real
 * kube-apiserver + etcd) and Milvus emulators, with triggers and faults drawn from a seeded PRNG. Afterwards
 * tools/chaos-invariants.ts proves the invariants from Milvus' job lists and the statuses.
 *
 * Replay: the seed fixes the schedule (the sequence of actions, their targets' draws and the pauses between
 * them), which is logged. Timing on a busy machine still decides the exact interleaving with the operator.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { type MilvusEmulator, startEmulator } from 'milvus-refresh-emulator';
import {
  type CampaignHistory,
  type CheckResult,
  type FinalStatus,
  type JobClaim,
  type MilvusJob,
  type ResourceRecord,
  type TriggerRecord,
  checkInvariants,
} from './chaos-invariants.js';
import { type ControlPlane, startControlPlane } from './control-plane.js';
import { RawKube } from './kube-raw.js';
import { REPO_ROOT } from './paths.js';

export const FAULT_KINDS = [
  'kill-leader',
  'kill-standby',
  'apiserver-restart',
  'etcd-restart',
  'emulator-restart',
  'milvus-unreachable',
  'rpc-latency',
  'silent-drop',
  'foreign-job',
  'delete-mid-run',
  'two-addresses',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface CampaignOptions {
  seed: number;
  /** Triggers to write (creations, spec changes, annotation bumps). */
  triggers: number;
  /** Resources created at the start (default 12). */
  resources?: number;
  /** Emulators (default 2). */
  emulators?: number;
  /** Chance that a step is a fault rather than a trigger (default 0.15); each kind happens at least once. */
  faultRate?: number;
  /** Where logs and the record go (default a new temporary directory). */
  outDir?: string;
  binDir?: string;
  log?: (line: string) => void;
  /**
   * Breaks an invariant on purpose after settling, to show the checker is not vacuous: `double-job` starts,
   * in Milvus, a second job with the request of a resource whose last trigger already has its job (what a
   * double submission by the operator would leave).
   */
  sabotage?: 'double-job';
}

export interface CampaignResult {
  seed: number;
  triggers: number;
  triggersByKind: Record<string, number>;
  triggersByPhase: Record<string, number>;
  faults: Record<FaultKind, number>;
  /** Silent drops Milvus made, of operator jobs and of foreign ones. */
  drops: { operator: number; foreign: number };
  jobs: { operator: number; foreign: number; total: number };
  replicaStarts: number;
  replicaExitsOnTheirOwn: number;
  check: CheckResult;
  durationMs: number;
  settleMs: number;
  schedule: string[];
  outDir: string;
}

const NS = 'chaos';
const ECR = `/apis/milvus.io/v1alpha1/namespaces/${NS}/externalcollectionrefreshes`;
const ANNOTATION = 'milvus.io/refresh-requested-at';
const RPC_TIMEOUT_MS = 2_000;
const SPEC = { format: 'parquet', extfs: { cloud_provider: 'aws', region: 'us-west-2', anonymous: 'true' } };
const OPERATOR_FLAGS = [
  `--namespace=${NS}`,
  '--leader-elect',
  `--leader-election-namespace=${NS}`,
  '--leader-elect-lease-duration=4s',
  '--leader-elect-renew-deadline=3s',
  '--leader-elect-retry-period=1s',
  '--poll-interval=500ms',
  '--submit-grace=3s',
  `--rpc-timeout=${RPC_TIMEOUT_MS / 1000}s`,
  '--backoff-base=200ms',
  '--backoff-max=3s',
  '--unavailable-stall=60s',
  '--metrics-bind-address=127.0.0.1:0',
  '--health-probe-bind-address=127.0.0.1:0',
  '--log-level=debug',
];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** mulberry32: a small seeded PRNG (uniform in [0, 1)). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Step {
  kind: 'bump' | 'spec' | 'create' | FaultKind;
  /** A draw in [0, 1) that picks the target. */
  pick: number;
  /** The pause after the step. */
  pauseMs: number;
  /** How long a fault with a duration lasts. */
  lengthMs: number;
}

/** The schedule: `triggers` trigger steps with faults among them, every fault kind at least once. */
export function makeSchedule(seed: number, triggers: number, faultRate: number): Step[] {
  const rand = prng(seed);
  const steps: Step[] = [];
  let written = 0;
  const mandatory = [...FAULT_KINDS];
  // Every kind once, at seeded positions spread over the campaign (not in its first tenth).
  const positions = new Map<number, FaultKind[]>();
  for (const kind of mandatory) {
    const at = Math.floor(triggers * (0.1 + 0.8 * rand()));
    positions.set(at, [...(positions.get(at) ?? []), kind]);
  }
  const fault = (kind: FaultKind): Step => ({
    kind,
    pick: rand(),
    pauseMs: Math.floor(300 + 700 * rand()),
    lengthMs: Math.floor(2_000 + 4_000 * rand()),
  });
  while (written < triggers) {
    for (const kind of positions.get(written) ?? []) steps.push(fault(kind));
    positions.delete(written);
    if (rand() < faultRate) {
      steps.push(fault(FAULT_KINDS[Math.floor(rand() * FAULT_KINDS.length)]!));
      continue;
    }
    const r = rand();
    steps.push({
      kind: r < 0.6 ? 'bump' : r < 0.93 ? 'spec' : 'create',
      pick: rand(),
      pauseMs: Math.floor(50 + 450 * rand()),
      lengthMs: 0,
    });
    written++;
  }
  return steps;
}

interface Replica {
  slot: number;
  proc: ChildProcess;
  lines: string[];
  killedByUs: boolean;
  leaderSince?: number;
  metricsPort?: number;
  /** When the supervisor saw it dead and scheduled its replacement. */
  restartAt?: number;
}

interface Live {
  name: string;
  emulator: number;
  collection: string;
  address: string;
  version: number;
  deleted: boolean;
}

/** Runs a campaign and checks its invariants. Everything it starts is stopped before it returns or throws. */
export async function runCampaign(options: CampaignOptions): Promise<CampaignResult> {
  const log = options.log ?? ((l: string) => console.error(l));
  const started = Date.now();
  const rand = prng(options.seed ^ 0x9e3779b9);
  const schedule = makeSchedule(options.seed, options.triggers, options.faultRate ?? 0.15);
  const outDir = options.outDir ?? mkdtempSync(join(tmpdir(), `ecr-chaos-${options.seed}-`));
  mkdirSync(outDir, { recursive: true });
  const scheduleText = schedule.map(
    (s, i) => `${i} ${s.kind} pick=${s.pick.toFixed(4)} pause=${s.pauseMs}${s.lengthMs ? ` length=${s.lengthMs}` : ''}`,
  );
  writeFileSync(join(outDir, 'schedule.txt'), `seed ${options.seed}\n${scheduleText.join('\n')}\n`);
  log(
    `[chaos] seed ${options.seed}: ${schedule.length} steps (${options.triggers} triggers); schedule and logs in ${outDir}`,
  );

  const password = `Chaos-Pw-${options.seed}-q7Z${Math.floor(rand() * 1e6)}`;
  const secrets = [password, Buffer.from(`root:${password}`).toString('base64')];
  const cleanups: (() => Promise<void> | void)[] = [];
  const replicas: Replica[] = [];
  const allReplicaLines: string[][] = [];
  const triggers: TriggerRecord[] = [];
  const resources = new Map<string, ResourceRecord>();
  const live = new Map<string, Live>();
  const faults = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  const foreignJobIds: string[] = [];
  const droppedIds: string[] = [];
  const attributions: { resource: string; jobId: string }[] = [];
  const attributed = new Set<string>();
  const claims: JobClaim[] = [];
  const claimed = new Set<string>();
  const faultWindows: [number, number][] = [];
  const secretHits: { where: string; excerpt: string }[] = [];
  const lastSeen = new Map<string, { reason: string; jobId?: string; state?: string }>();
  let replicaStarts = 0;
  let replicaExitsOnTheirOwn = 0;
  let stopping = false;

  const grepSecrets = (where: string, text: string): void => {
    for (const s of secrets) {
      const at = text.indexOf(s);
      if (at >= 0 && secretHits.length < 50)
        secretHits.push({ where, excerpt: text.slice(Math.max(0, at - 80), at + 80) });
    }
  };

  try {
    const cp: ControlPlane = await startControlPlane({ ...(options.binDir ? { binDir: options.binDir } : {}), log });
    cleanups.push(() => cp.stop());
    const token = /token: *"?([^"\s]+)"?/.exec(readFileSync(cp.kubeconfigPath, 'utf8'))![1]!;
    const kube = new RawKube(cp.server, readFileSync(cp.caCertPath), token);
    cleanups.push(() => kube.close());
    const call = async <T = Record<string, unknown>>(
      method: string,
      path: string,
      body?: unknown,
      type?: string,
    ): Promise<T> => {
      let timer: NodeJS.Timeout | undefined;
      try {
        return await Promise.race([
          kube.call<T>(method, path, body, type),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`${method} ${path}: timed out`)), 10_000);
          }),
        ]);
      } finally {
        clearTimeout(timer);
      }
    };
    await call('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    await call('POST', `/api/v1/namespaces/${NS}/secrets`, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'milvus-creds' },
      stringData: { username: 'root', password },
    });

    // Milvus: emulators with authentication, quick jobs, a short persistence window.
    const emulators: MilvusEmulator[] = [];
    for (let i = 0; i < (options.emulators ?? 2); i++) {
      const emu = await startEmulator({
        auth: { users: { root: password } },
        timings: { persistDelayMs: 100, job: { durationMs: 2_000, pendingMs: 200 } },
        log: (line) => {
          const m = /job (\d+) dropped by the ack callback/.exec(line);
          if (m) droppedIds.push(m[1]!);
        },
      });
      emulators.push(emu);
      cleanups.push(() => emu.close());
    }
    const seeded = new Set<string>();
    const seedCollection = (emu: number, collection: string): void => {
      if (seeded.has(`${emu}|${collection}`)) return;
      seeded.add(`${emu}|${collection}`);
      emulators[emu]!.seedCollection({ name: collection, source: 's3://lake/seed/', spec: SPEC });
      emulators[emu]!.setJobBehaviour(collection, { durationMs: Math.floor(1_000 + 2_000 * rand()), pendingMs: 200 });
    };

    // Two replicas, restarted like a Deployment's pods when they die.
    const startReplica = (slot: number): Replica => {
      const proc = spawn(
        process.execPath,
        [join(REPO_ROOT, 'dist', 'main.js'), `--kubeconfig=${cp.kubeconfigPath}`, ...OPERATOR_FLAGS],
        {
          env: { ...process.env, POD_NAME: `chaos-${slot}` },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      const rep: Replica = { slot, proc, lines: [], killedByUs: false };
      allReplicaLines.push(rep.lines);
      for (const stream of [proc.stdout, proc.stderr])
        createInterface({ input: stream }).on('line', (l) => {
          rep.lines.push(l);
          if (l.includes('Became the leader')) rep.leaderSince = Date.now();
          if (l.includes('"Serving metrics"')) rep.metricsPort = (JSON.parse(l) as { port: number }).port;
        });
      proc.once('exit', () => {
        if (!rep.killedByUs && !stopping) replicaExitsOnTheirOwn++;
      });
      replicaStarts++;
      replicas[slot] = rep;
      return rep;
    };
    const alive = (r: Replica | undefined): boolean => !!r && r.proc.exitCode === null && r.proc.signalCode === null;
    cleanups.push(async () => {
      stopping = true;
      await Promise.all(
        replicas.map(
          (r) =>
            new Promise<void>((resolve) => {
              if (!alive(r)) return resolve();
              r.proc.once('exit', () => resolve());
              r.proc.kill('SIGKILL');
            }),
        ),
      );
    });
    startReplica(0);
    startReplica(1);
    const supervisor = setInterval(() => {
      for (const slot of [0, 1]) {
        const r = replicas[slot];
        if (stopping || !r || alive(r) || r.restartAt) continue;
        r.restartAt = Date.now();
        setTimeout(() => {
          if (!stopping) startReplica(slot);
        }, 1_000);
      }
    }, 250);
    cleanups.push(() => clearInterval(supervisor));
    const leader = (): Replica | undefined =>
      replicas
        .filter((r) => alive(r) && r.leaderSince !== undefined)
        .sort((a, b) => b.leaderSince! - a.leaderSince!)[0];

    // The campaign's view of the statuses: a list every 300 ms (it survives restarts; history keeps the jobs
    // a short-lived status showed).
    let latestItems: {
      metadata: { name: string; generation: number; annotations?: Record<string, string> };
      status?: FinalStatus & { history?: { jobId?: string }[] };
    }[] = [];
    const observe = async (): Promise<void> => {
      const list = await call<{ items: typeof latestItems }>('GET', ECR);
      const text = JSON.stringify(list.items);
      grepSecrets('status', text);
      latestItems = list.items;
      for (const o of list.items) {
        const st = o.status;
        const ready = st?.conditions?.find((c) => c.type === 'Ready');
        lastSeen.set(o.metadata.name, {
          reason: ready?.reason ?? 'none',
          ...(st?.jobId ? { jobId: st.jobId } : {}),
          ...(st?.state ? { state: st.state } : {}),
        });
        if (st?.jobId && st.run) {
          const claim = {
            resource: o.metadata.name,
            jobId: st.jobId,
            generation: st.run.generation ?? 0,
            requestedAt: st.run.requestedAt ?? '',
          };
          const key = JSON.stringify(claim);
          if (!claimed.has(key)) {
            claimed.add(key);
            claims.push(claim);
          }
        }
        for (const jobId of [st?.jobId, ...(st?.history ?? []).map((h) => h.jobId)]) {
          if (!jobId || attributed.has(`${o.metadata.name}|${jobId}`)) continue;
          attributed.add(`${o.metadata.name}|${jobId}`);
          attributions.push({ resource: o.metadata.name, jobId });
        }
      }
    };
    let observing = true;
    const observer = (async () => {
      while (observing) {
        await observe().catch(() => undefined);
        await sleep(300);
      }
    })();
    cleanups.push(async () => {
      observing = false;
      await observer;
    });

    // Triggers.
    let nextResource = 0;
    const sourceOf = (l: Live): string => `s3://lake/${l.name}/v${l.version}/`;
    const record = (
      l: Live,
      kind: TriggerRecord['kind'],
      t0: number,
      obj: { metadata: { generation?: number; annotations?: Record<string, string> } },
    ): void => {
      triggers.push({
        resource: l.name,
        kind,
        source: sourceOf(l),
        t0,
        t1: Date.now(),
        generation: obj.metadata.generation ?? 0,
        requestedAt: obj.metadata.annotations?.[ANNOTATION] ?? '',
        phaseSeen: kind === 'create' ? 'new' : (lastSeen.get(l.name)?.reason ?? 'none'),
      });
    };
    type Obj = {
      metadata: { generation?: number; annotations?: Record<string, string> };
      spec?: { externalSource?: string };
    };
    /** A write whose outcome may be unknown (the API server restarting): re-read to learn whether it applied. */
    const write = async (
      l: Live,
      kind: TriggerRecord['kind'],
      send: () => Promise<Obj>,
      applied: (o: Obj) => boolean,
    ): Promise<boolean> => {
      const t0 = Date.now();
      try {
        record(l, kind, t0, await send());
        return true;
      } catch {
        for (let i = 0; i < 20; i++) {
          try {
            const o = await call<Obj>('GET', `${ECR}/${l.name}`);
            if (applied(o)) {
              record(l, kind, t0, o);
              return true;
            }
            return false;
          } catch {
            await sleep(500);
          }
        }
        return false;
      }
    };
    const body = (l: Live): Record<string, unknown> => ({
      apiVersion: 'milvus.io/v1alpha1',
      kind: 'ExternalCollectionRefresh',
      metadata: { name: l.name, namespace: NS },
      spec: {
        milvus: { address: l.address, credentialsSecretRef: { name: 'milvus-creds' } },
        collectionName: l.collection,
        externalSource: sourceOf(l),
        externalSpec: SPEC,
      },
    });
    const registerResource = (l: Live): void => {
      live.set(l.name, l);
      resources.set(l.name, { name: l.name, emulator: l.emulator, collection: l.collection, sources: [sourceOf(l)] });
    };
    const create = async (emulator: number, collection: string, address: string): Promise<Live | undefined> => {
      const l: Live = {
        name: `r${String(nextResource++).padStart(3, '0')}`,
        emulator,
        collection,
        address,
        version: 1,
        deleted: false,
      };
      seedCollection(emulator, collection);
      registerResource(l);
      const ok = await write(
        l,
        'create',
        () => call<Obj>('POST', ECR, body(l)),
        () => true,
      );
      if (!ok) {
        live.delete(l.name);
        resources.delete(l.name);
        return undefined;
      }
      return l;
    };
    const liveList = (): Live[] => [...live.values()].filter((l) => !l.deleted);
    const pickLive = (p: number): Live | undefined => {
      const ls = liveList();
      return ls[Math.floor(p * ls.length)];
    };
    let bumps = 0;
    const bump = async (l: Live, step: number): Promise<void> => {
      const value = `b${step}-${++bumps}`; // never the same value twice
      await write(
        l,
        'bump',
        () =>
          call<Obj>(
            'PATCH',
            `${ECR}/${l.name}`,
            { metadata: { annotations: { [ANNOTATION]: value } } },
            'application/merge-patch+json',
          ),
        (o) => o.metadata.annotations?.[ANNOTATION] === value,
      );
    };
    const specChange = async (l: Live): Promise<void> => {
      l.version++;
      resources.get(l.name)!.sources.push(sourceOf(l));
      const src = sourceOf(l);
      await write(
        l,
        'spec',
        () => call<Obj>('PATCH', `${ECR}/${l.name}`, { spec: { externalSource: src } }, 'application/merge-patch+json'),
        (o) => o.spec?.externalSource === src,
      );
    };

    const initial = options.resources ?? 12;
    for (let i = 0; i < initial; i++)
      await create(i % emulators.length, `c${i}`, emulators[i % emulators.length]!.address);

    // Faults.
    const timed: Promise<void>[] = [];
    const windowed = (lengthMs: number, begin: () => Promise<void> | void, end: () => Promise<void> | void): void => {
      const from = Date.now();
      timed.push(
        (async () => {
          await begin();
          await sleep(lengthMs);
          await end();
          faultWindows.push([from, Date.now()]);
        })(),
      );
    };
    const foreignRefresh = (emu: number, collection: string): string | undefined => {
      try {
        const id = emulators[emu]!.state.refresh(
          { db: 'default', name: collection, source: `s3://foreign/${collection}/`, spec: JSON.stringify(SPEC) },
          emulators[emu]!.clock.now(),
        );
        emulators[emu]!.jobs(collection); // let the emulator act on its own events
        foreignJobIds.push(id.toString());
        return id.toString();
      } catch {
        return undefined; // "in progress": Milvus refused it
      }
    };
    const inject = async (kind: FaultKind, pick: number, lengthMs: number): Promise<boolean> => {
      const emuIndex = Math.floor(pick * emulators.length);
      const emu = emulators[emuIndex]!;
      switch (kind) {
        case 'kill-leader':
        case 'kill-standby': {
          const lead = leader();
          const target = kind === 'kill-leader' ? lead : replicas.find((r) => alive(r) && r !== lead);
          if (!target || !alive(target)) return false;
          const from = Date.now();
          target.killedByUs = true;
          target.proc.kill('SIGKILL');
          faultWindows.push([from, from + 5_000]); // the lease expires, then the standby takes over
          return true;
        }
        case 'apiserver-restart':
        case 'etcd-restart': {
          const from = Date.now();
          await (kind === 'apiserver-restart' ? cp.restartApiServer() : cp.restartEtcd());
          faultWindows.push([from, Date.now()]);
          return true;
        }
        case 'emulator-restart': {
          const from = Date.now();
          await emu.restart({ keepJobs: true });
          faultWindows.push([from, Date.now()]);
          return true;
        }
        case 'milvus-unreachable':
          windowed(
            lengthMs,
            () => emu.stop(),
            () => emu.start(),
          );
          return true;
        case 'rpc-latency':
          windowed(
            lengthMs,
            () => emu.setLatency(RPC_TIMEOUT_MS + 1_000),
            () => emu.setLatency(0),
          );
          return true;
        case 'silent-drop': {
          // A foreign refresh accepted just before the operator's, inside a long persistence window: the
          // operator's list does not show it, its refresh passes the duplicate check, and the ack drops it.
          // Counted only when Milvus did drop a job of the operator.
          const l = liveList().filter(
            (x) =>
              x.emulator === emuIndex &&
              !['RefreshPending', 'RefreshInProgress'].includes(lastSeen.get(x.name)?.state ?? ''),
          )[Math.floor(pick * 1000) % 7];
          if (!l) return false;
          const foreignSet = (): Set<string> => new Set(foreignJobIds);
          const operatorDrops = (): number => droppedIds.filter((d) => !foreignSet().has(d)).length;
          const before = operatorDrops();
          emu.setTimings({ persistDelayMs: 1_500 });
          try {
            if (!foreignRefresh(l.emulator, l.collection)) return false;
            await bump(l, triggers.length);
            for (let waited = 0; waited < 8_000 && operatorDrops() === before; waited += 200) {
              await sleep(200);
              emu.jobs(l.collection);
            }
            return operatorDrops() > before;
          } finally {
            emu.setTimings({ persistDelayMs: 100 });
          }
        }
        case 'foreign-job': {
          // The first collection from the drawn one on that Milvus accepts (the others have a job running).
          const ls = liveList();
          const from = Math.floor(pick * ls.length);
          return ls.some((_, k) => {
            const l = ls[(from + k) % ls.length]!;
            return !!foreignRefresh(l.emulator, l.collection);
          });
        }
        case 'delete-mid-run': {
          const running = liveList().filter((x) =>
            ['Submitting', 'RefreshSubmitted', 'RefreshPending', 'RefreshInProgress', 'RefreshQueued'].includes(
              lastSeen.get(x.name)?.reason ?? '',
            ),
          );
          const l = running[Math.floor(pick * running.length)] ?? pickLive(pick);
          if (!l) return false;
          l.deleted = true;
          resources.get(l.name)!.deletedAt = Date.now();
          await call('DELETE', `${ECR}/${l.name}`).catch(() => undefined);
          // Its collection gets a new resource, which must wait for the orphaned job rather than run beside it.
          await create(l.emulator, l.collection, l.address);
          return true;
        }
        case 'two-addresses': {
          const l = pickLive(pick);
          if (!l) return false;
          const port = emulators[l.emulator]!.port;
          const other = l.address.startsWith('localhost') ? `127.0.0.1:${port}` : `localhost:${port}`;
          return !!(await create(l.emulator, l.collection, other));
        }
      }
    };

    // The campaign.
    for (const [i, step] of schedule.entries()) {
      if (step.kind === 'bump' || step.kind === 'spec' || step.kind === 'create') {
        const l = pickLive(step.pick);
        if (step.kind === 'create' || !l) {
          const emu = Math.floor(step.pick * emulators.length);
          await create(emu, `c${nextResource}`, emulators[emu]!.address);
        } else if (step.kind === 'bump') await bump(l, i);
        else await specChange(l);
      } else {
        // A fault without a target now (no leader elected yet, every collection busy) is tried again shortly.
        let done = false;
        for (let attempt = 0; attempt < 10 && !done; attempt++) {
          if (attempt > 0) await sleep(1_000);
          done = await inject(step.kind, step.pick, step.lengthMs);
        }
        if (done) faults[step.kind]++;
        log(
          `[chaos] step ${i}: ${step.kind}${done ? '' : ' (no target, skipped)'}; ${triggers.length} triggers so far`,
        );
      }
      await sleep(step.pauseMs);
    }
    await Promise.all(timed);
    for (const emu of emulators) {
      emu.setLatency(0);
      emu.setTimings({ persistDelayMs: 100 });
      await emu.start();
    }

    // Settle: every Milvus job ended and every resource Ready for its last trigger or Stalled, for 3 s.
    const settleFrom = Date.now();
    let quietSince = 0;
    while (Date.now() - settleFrom < 120_000) {
      await observe().catch(() => undefined);
      const active = emulators.some((e) =>
        e.jobs().some((j) => j.state === 'RefreshPending' || j.state === 'RefreshInProgress'),
      );
      const settled = latestItems.every((o) => {
        const c = (t: string): { status: string } | undefined => o.status?.conditions?.find((x) => x.type === t);
        const current =
          o.status?.observedGeneration === o.metadata.generation &&
          (o.status?.lastHandledRequestedAt ?? '') === (o.metadata.annotations?.[ANNOTATION] ?? '');
        return (c('Ready')?.status === 'True' && current) || c('Stalled')?.status === 'True';
      });
      if (!active && settled && latestItems.length === liveList().length) {
        if (!quietSince) quietSince = Date.now();
        if (Date.now() - quietSince >= 3_000) break;
      } else quietSince = 0;
      await sleep(500);
    }
    const settleMs = Date.now() - settleFrom;
    if (options.sabotage === 'double-job') {
      const l = liveList()[0]!;
      const emu = emulators[l.emulator]!;
      const id = emu.state
        .refresh(
          { db: 'default', name: l.collection, source: sourceOf(l), spec: JSON.stringify(SPEC) },
          emu.clock.now(),
        )
        .toString();
      log(`[chaos] sabotage: a second job (${id}) with ${l.name}'s request started in Milvus`);
      const ended = (): boolean =>
        emu
          .jobs(l.collection)
          .some((j) => j.job_id === id && (j.state === 'RefreshCompleted' || j.state === 'RefreshFailed'));
      for (let waited = 0; waited < 10_000 && !ended(); waited += 200) await sleep(200);
    }

    // What the end looks like: statuses, Milvus' jobs, events, metrics, logs.
    for (const o of latestItems) {
      const r = resources.get(o.metadata.name);
      if (!r) continue;
      r.finalStatus = o.status ?? {};
      r.finalGeneration = o.metadata.generation;
      r.finalRequestedAt = o.metadata.annotations?.[ANNOTATION] ?? '';
    }
    const collections = new Set([...resources.values()].map((r) => `${r.emulator}|${r.collection}`));
    const jobs: MilvusJob[] = emulators.flatMap((e, i) =>
      e
        .jobs()
        .filter((j) => collections.has(`${i}|${j.collection_name}`))
        .map((j) => ({
          emulator: i,
          jobId: j.job_id,
          collection: j.collection_name,
          source: j.external_source,
          state: j.state,
          progress: Number(j.progress),
          reason: j.reason,
          startMs: Number(j.start_time),
          endMs: Number(j.end_time),
        })),
    );
    for (const path of [`/apis/events.k8s.io/v1/namespaces/${NS}/events`, `/api/v1/namespaces/${NS}/events`])
      grepSecrets('events', JSON.stringify(await call('GET', path)));
    for (const r of replicas)
      if (alive(r) && r.metricsPort)
        grepSecrets('metrics', await (await fetch(`http://127.0.0.1:${r.metricsPort}/metrics`)).text());
    allReplicaLines.forEach((lines, i) => {
      const text = lines.join('\n');
      writeFileSync(join(outDir, `operator-${i}.log`), text);
      grepSecrets(`operator log ${i}`, text);
    });

    const history: CampaignHistory = {
      resources: [...resources.values()],
      triggers,
      jobs,
      foreignJobIds,
      attributions,
      claims,
      faultWindows,
      secretHits,
      settings: { submitSlackMs: 3_000, lostTriggerMs: 15_000, recoveryMs: 15_000, rpcTimeoutMs: RPC_TIMEOUT_MS },
    };
    writeFileSync(join(outDir, 'history.json'), JSON.stringify(history, null, 1));
    const check = checkInvariants(history);
    const foreignSet = new Set(foreignJobIds);
    const count = <T extends string>(xs: T[]): Record<string, number> =>
      xs.reduce<Record<string, number>>((m, x) => ((m[x] = (m[x] ?? 0) + 1), m), {});
    return {
      seed: options.seed,
      triggers: triggers.length,
      triggersByKind: count(triggers.map((t) => t.kind)),
      triggersByPhase: count(triggers.map((t) => t.phaseSeen)),
      faults,
      drops: {
        operator: droppedIds.filter((d) => !foreignSet.has(d)).length,
        foreign: droppedIds.filter((d) => foreignSet.has(d)).length,
      },
      jobs: {
        operator: check.operatorJobs,
        foreign: jobs.filter((j) => foreignSet.has(j.jobId)).length,
        total: jobs.length,
      },
      replicaStarts,
      replicaExitsOnTheirOwn,
      check,
      durationMs: Date.now() - started,
      settleMs,
      schedule: scheduleText,
      outDir,
    };
  } finally {
    stopping = true;
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
  }
}

/** The figures, as the command prints them. */
export function formatResult(r: CampaignResult): string {
  const lines = [
    `seed ${r.seed}: ${r.triggers} triggers (${Object.entries(r.triggersByKind)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}) in ${(r.durationMs / 1000).toFixed(0)} s (settling ${(r.settleMs / 1000).toFixed(0)} s)`,
    `triggers by the Ready reason they hit: ${Object.entries(r.triggersByPhase)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    `faults: ${Object.entries(r.faults)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    `silent drops by Milvus: ${r.drops.operator} of operator jobs, ${r.drops.foreign} of foreign jobs; replica starts ${r.replicaStarts}, exits on their own (lost lease) ${r.replicaExitsOnTheirOwn}`,
    `jobs: ${r.jobs.total} in Milvus (${r.jobs.operator} by the operator, ${r.jobs.foreign} foreign); triggers served by exactly one job ${r.check.served}, superseded ${r.check.superseded}, ended Stalled ${JSON.stringify(r.check.stalled)}`,
    `violations: ${r.check.violations.length}`,
    ...r.check.violations.map((v) => `  ${v.kind}${v.resource ? ` ${v.resource}` : ''}: ${v.detail}`),
  ];
  return lines.join('\n');
}
