/**
 * A real Kubernetes control plane for tests and the demo: etcd and kube-apiserver, built from Go modules by
 * scripts/build-control-plane.sh, started the way controller-runtime's envtest starts them (RBAC on, secure
 * port, service-account signing keys) on free 127.0.0.1 ports, with an admin kubeconfig.
 *
 * Nothing outlives its owner: stop() terminates both processes and removes the work directory, and a reaper
 * process does the same if the owning process dies without calling it (test failure, Ctrl-C, kill -9).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { get as httpGet } from 'node:http';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { kubectlOk } from './kubectl.js';
import { writeTokenKubeconfig } from './kubeconfig.js';
import { REPO_ROOT } from './paths.js';

const BUILD_SCRIPT = join(REPO_ROOT, 'scripts', 'build-control-plane.sh');

/** Options of startControlPlane. */
export interface ControlPlaneOptions {
  /** Directory holding kube-apiserver and etcd; built on demand when omitted. */
  binDir?: string;
  /** CRD manifests to install and wait for (default: the repository's crds/). */
  crdDir?: string;
  /** Where to write the admin kubeconfig (default: inside the work directory). */
  kubeconfigPath?: string;
  /** Per-process start timeout (default 90 s). */
  startTimeoutMs?: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** A running control plane. */
export interface ControlPlane {
  /** https://127.0.0.1:<port> */
  readonly server: string;
  readonly kubeconfigPath: string;
  /** PEM of the CA that signed the serving certificate. */
  readonly caCertPath: string;
  readonly workDir: string;
  /** Startup time in milliseconds. */
  readonly startupMs: number;
  /** Stops kube-apiserver (etcd keeps the data) and starts it again on the same port: every watch breaks. */
  restartApiServer(): Promise<void>;
  /** Stops etcd and starts it again on the same ports with the same data directory (kube-apiserver stays up). */
  restartEtcd(): Promise<void>;
  stop(): Promise<void>;
}

/** Runs the build script (idempotent) and returns the directory with the binaries. */
export async function ensureControlPlaneBinaries(
  log: (line: string) => void = (l) => console.error(l),
): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('bash', [BUILD_SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n')) if (line.trim()) log(line);
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) resolvePromise(out.trim().split('\n').at(-1)!);
      else reject(new Error(`scripts/build-control-plane.sh failed with exit code ${code}`));
    });
  });
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolvePromise(addr.port) : reject(new Error('no port'))));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor(
  what: string,
  timeoutMs: number,
  probe: () => Promise<boolean>,
  proc?: ChildProcess,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc && proc.exitCode !== null) throw new Error(`${what}: process exited with code ${proc.exitCode}`);
    if (await probe().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`${what}: not ready after ${Math.round(timeoutMs / 1000)}s`);
}

function httpOk(url: string): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const req = httpGet(url, (res) => {
      res.resume();
      resolvePromise(res.statusCode === 200);
    });
    req.on('error', () => resolvePromise(false));
    req.setTimeout(2000, () => req.destroy());
  });
}

function httpsOk(url: string, token?: string): Promise<boolean> {
  return new Promise((resolvePromise) => {
    // Readiness probing only; clients verify the serving certificate through the kubeconfig's CA.
    const req = request(
      url,
      { rejectUnauthorized: false, headers: token ? { authorization: `Bearer ${token}` } : {} },
      (res) => {
        res.resume();
        resolvePromise(res.statusCode === 200);
      },
    );
    req.on('error', () => resolvePromise(false));
    req.setTimeout(2000, () => req.destroy());
    req.end();
  });
}

/** Starts a reaper that kills `pids` and removes `dir` once `ownerPid` is gone. */
function startReaper(ownerPid: number, pidFile: string, dir: string): ChildProcess {
  const script =
    `while kill -0 ${ownerPid} 2>/dev/null; do sleep 1; done; ` +
    `for p in $(cat "${pidFile}" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done; sleep 0.5; rm -rf "${dir}"`;
  const reaper = spawn('bash', ['-c', script], { detached: true, stdio: 'ignore' });
  reaper.unref();
  return reaper;
}

function stopProcess(proc: ChildProcess, timeoutMs = 20_000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolvePromise) => {
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.once('exit', () => {
      clearTimeout(timer);
      resolvePromise();
    });
    proc.kill('SIGTERM');
  });
}

/** Installs every CRD manifest in `crdDir` with kubectl and waits until discovery serves each plural. */
export async function installCrds(kubeconfigPath: string, crdDir: string, timeoutMs = 60_000): Promise<string[]> {
  const files = existsSync(crdDir)
    ? readdirSync(crdDir).filter((f) => /\.(ya?ml|json)$/.test(f) && !/^kustomization\.ya?ml$/.test(f))
    : [];
  if (files.length === 0) return [];
  await kubectlOk(kubeconfigPath, [
    'apply',
    '--server-side',
    '--force-conflicts',
    ...files.flatMap((f) => ['-f', join(crdDir, f)]),
  ]);
  const stdout = await kubectlOk(kubeconfigPath, [
    'get',
    'crd',
    '-o',
    'jsonpath={range .items[*]}{.spec.group} {.spec.names.plural} {.spec.versions[?(@.served==true)].name}{"\\n"}{end}',
  ]);
  const served: string[] = [];
  for (const line of stdout.trim().split('\n').filter(Boolean)) {
    const [group, plural, ...versions] = line.split(' ');
    for (const version of versions) {
      // What envtest checks: discovery lists the plural for every served version.
      await waitFor(`CRD ${plural}.${group}/${version}`, timeoutMs, async () => {
        const raw = await kubectlOk(kubeconfigPath, ['get', '--raw', `/apis/${group}/${version}`]);
        return (JSON.parse(raw) as { resources: { name: string }[] }).resources.some((res) => res.name === plural);
      });
      served.push(`${plural}.${group}/${version}`);
    }
  }
  return served;
}

/** Starts etcd and kube-apiserver, writes an admin kubeconfig, installs the CRDs. */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const log = options.log ?? ((line: string) => console.error(line));
  const binDir = options.binDir ?? (await ensureControlPlaneBinaries(log));
  const timeoutMs = options.startTimeoutMs ?? 90_000;
  const started = Date.now();
  const workDir = mkdtempSync(join(tmpdir(), 'ecr-control-plane-'));
  const pidFile = join(workDir, 'pids');
  const procs: ChildProcess[] = [];
  const reaper = startReaper(process.pid, pidFile, workDir);
  const track = (proc: ChildProcess): ChildProcess => {
    procs.push(proc);
    writeFileSync(pidFile, procs.map((p) => p.pid).join('\n'));
    return proc;
  };
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    for (const proc of [...procs].reverse()) await stopProcess(proc);
    rmSync(workDir, { recursive: true, force: true });
    try {
      process.kill(-reaper.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  try {
    const [etcdClient, etcdPeer, apiPort] = [await freePort(), await freePort(), await freePort()];
    const pki = join(workDir, 'pki');
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(workDir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(join(workDir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
    const adminToken = randomBytes(24).toString('hex');
    writeFileSync(join(workDir, 'tokens.csv'), `${adminToken},admin,admin-uid,"system:masters"\n`, { mode: 0o600 });

    // Each child writes its log straight into the work directory (shown when startup fails).
    const spawnLogged = (name: string, binary: string, args: string[]): ChildProcess => {
      const fd = openSync(join(workDir, `${name}.log`), 'a');
      try {
        return track(spawn(join(binDir, binary), args, { stdio: ['ignore', fd, fd] }));
      } finally {
        closeSync(fd);
      }
    };
    const etcdArgs = [
      '--name=ecr',
      `--data-dir=${join(workDir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=ecr=http://127.0.0.1:${etcdPeer}`,
      '--unsafe-no-fsync=true',
      '--logger=zap',
      '--log-level=warn',
      '--quota-backend-bytes=2147483648',
    ];
    const launchEtcd = async (): Promise<ChildProcess> => {
      const proc = spawnLogged('etcd', 'etcd', etcdArgs);
      await waitFor('etcd', timeoutMs, () => httpOk(`http://127.0.0.1:${etcdClient}/health`), proc);
      return proc;
    };
    let etcd = await launchEtcd();
    const restartEtcd = async (): Promise<void> => {
      await stopProcess(etcd, 2_000);
      procs.splice(procs.indexOf(etcd), 1);
      etcd = await launchEtcd();
    };
    const etcdReadyMs = Date.now() - started;

    const apiArgs = [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      `--cert-dir=${pki}`,
      `--secure-port=${apiPort}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      '--service-cluster-ip-range=10.0.0.0/24',
      '--allow-privileged=true',
      '--disable-admission-plugins=ServiceAccount',
      '--authorization-mode=RBAC',
      `--token-auth-file=${join(workDir, 'tokens.csv')}`,
      `--service-account-issuer=https://127.0.0.1:${apiPort}/`,
      `--service-account-key-file=${join(workDir, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(workDir, 'sa.key')}`,
      '--endpoint-reconciler-type=none',
    ];
    const server = `https://127.0.0.1:${apiPort}`;
    const launchApiServer = async (): Promise<ChildProcess> => {
      const proc = spawnLogged('kube-apiserver', 'kube-apiserver', apiArgs);
      await waitFor('kube-apiserver /readyz', timeoutMs, () => httpsOk(`${server}/readyz`), proc);
      await waitFor(
        'default namespace',
        10_000,
        () => httpsOk(`${server}/api/v1/namespaces/default`, adminToken),
        proc,
      );
      return proc;
    };
    let apiserver = await launchApiServer();
    const restartApiServer = async (): Promise<void> => {
      await stopProcess(apiserver, 2_000); // no patience for a graceful drain: clients see a crash
      procs.splice(procs.indexOf(apiserver), 1);
      apiserver = await launchApiServer();
    };

    // kube-apiserver self-signed its serving certificate into --cert-dir: the file holds the cert and its CA.
    const caCertPath = join(pki, 'apiserver.crt');
    const kubeconfigPath = resolve(options.kubeconfigPath ?? join(workDir, 'admin.kubeconfig'));
    writeTokenKubeconfig(kubeconfigPath, {
      server,
      caPem: readFileSync(caCertPath),
      token: adminToken,
      clusterName: 'ecr-local',
      userName: 'ecr-admin',
      contextName: 'ecr-local',
      namespace: 'default',
    });
    const crds = await installCrds(kubeconfigPath, options.crdDir ?? join(REPO_ROOT, 'crds'), timeoutMs);
    const startupMs = Date.now() - started;
    log(
      `[control-plane] etcd ready in ${(etcdReadyMs / 1000).toFixed(1)}s, kube-apiserver ${server} ready in ${(startupMs / 1000).toFixed(1)}s` +
        (crds.length ? `, CRDs served: ${crds.join(', ')}` : ''),
    );
    return { server, kubeconfigPath, caCertPath, workDir, startupMs, restartApiServer, restartEtcd, stop };
  } catch (err) {
    const tail = ['etcd', 'kube-apiserver']
      .map((n) => join(workDir, `${n}.log`))
      .filter((f) => existsSync(f))
      .map((f) => `--- ${f}\n${readFileSync(f, 'utf8').split('\n').slice(-15).join('\n')}`)
      .join('\n');
    await stop();
    throw new Error(`control plane failed to start: ${(err as Error).message}\n${tail}`);
  }
}
