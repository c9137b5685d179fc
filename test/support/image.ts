/**
 * The operator's image without Docker: scripts/build-image.sh builds what the Dockerfile describes into an
 * OCI layout, umoci unpacks it into a runtime bundle, and runc runs it (read-only root filesystem, uid from
 * the image, the host's network namespace so that it reaches the local control plane on 127.0.0.1).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from '../../tools/paths.js';

export interface BuiltImage {
  /** OCI image layout directory. */
  oci: string;
  /** oci-layout:tag */
  ref: string;
}

/** The run stage of the Dockerfile, as Docker would read it. */
export interface DockerfileRunStage {
  from: string;
  workdir: string;
  user: string;
  entrypoint: string[];
  expose: string[];
  copies: { from: string; to: string }[];
}

export function readDockerfile(path = join(REPO_ROOT, 'Dockerfile')): DockerfileRunStage {
  const lines = readFileSync(path, 'utf8')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const froms = lines.map((l, i) => [l, i] as const).filter(([l]) => l.startsWith('FROM '));
  const last = froms.at(-1)!;
  const stage: DockerfileRunStage = {
    from: last[0].slice(5),
    workdir: '/',
    user: '',
    entrypoint: [],
    expose: [],
    copies: [],
  };
  for (const line of lines.slice(last[1] + 1)) {
    const [keyword, ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (keyword === 'WORKDIR') stage.workdir = args;
    else if (keyword === 'USER') stage.user = args;
    else if (keyword === 'ENTRYPOINT') stage.entrypoint = JSON.parse(args) as string[];
    else if (keyword === 'EXPOSE') stage.expose.push(...rest.map((p) => (p.includes('/') ? p : `${p}/tcp`)));
    else if (keyword === 'COPY') {
      const words = rest.filter((w) => !w.startsWith('--'));
      const to = words.at(-1)!;
      stage.copies.push({ from: words[0]!, to: to.startsWith('/') ? to : join(stage.workdir, to) });
    }
  }
  return stage;
}

/** Builds (or reuses) the image. Long the first time: npm ci, tsc and mmdebstrap. */
export function buildImage(log: (line: string) => void = (l) => console.log(l)): Promise<BuiltImage> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [join(REPO_ROOT, 'scripts', 'build-image.sh')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    createInterface({ input: child.stderr }).on('line', (l) => {
      if (l.startsWith('[build-image]')) log(l);
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      const kv = Object.fromEntries(
        out
          .trim()
          .split('\n')
          .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
      );
      if (code === 0 && kv.oci && kv.ref) resolve({ oci: kv.oci, ref: kv.ref });
      else reject(new Error(`scripts/build-image.sh failed (exit code ${code}); run it by hand to see why`));
    });
  });
}

/** umoci unpack: a runtime bundle (config.json + rootfs/) of the image. */
export function unpack(image: BuiltImage, bundle: string): void {
  const res = spawnSync('umoci', ['unpack', '--image', image.ref, bundle], { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`umoci unpack failed: ${res.stderr}`);
}

/** The image's config (OCI image-spec `config` object). */
export function imageConfig(image: BuiltImage): {
  User: string;
  WorkingDir: string;
  Entrypoint: string[];
  Cmd?: string[];
  ExposedPorts: Record<string, object>;
  Env: string[];
} {
  const index = JSON.parse(readFileSync(join(image.oci, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  const blob = (digest: string): string => join(image.oci, 'blobs', ...digest.split(':'));
  const manifest = JSON.parse(readFileSync(blob(index.manifests[0]!.digest), 'utf8')) as { config: { digest: string } };
  return (JSON.parse(readFileSync(blob(manifest.config.digest), 'utf8')) as { config: ReturnType<typeof imageConfig> })
    .config;
}

export interface RuncOptions {
  bundle: string;
  /** runc's state directory (--root). */
  state: string;
  id: string;
  /** Arguments after the image's entrypoint. */
  args: string[];
  /** Host file -> container path, bound read-only. */
  mounts: Record<string, string>;
}

/**
 * Rewrites the bundle's config.json the way a restricted Kubernetes pod runs the image: the image's user, a
 * read-only root filesystem, no capabilities, no privilege escalation; and the host's network namespace.
 */
export function configureBundle(options: RuncOptions): void {
  const path = join(options.bundle, 'config.json');
  const config = JSON.parse(readFileSync(path, 'utf8')) as {
    process: { terminal: boolean; args: string[]; noNewPrivileges?: boolean; capabilities?: unknown };
    root: { path: string; readonly?: boolean };
    mounts: { destination: string; type: string; source: string; options: string[] }[];
    linux: { namespaces: { type: string }[] };
  };
  config.process.terminal = false;
  // umoci writes Entrypoint + Cmd (the image has no Cmd): the arguments follow the entrypoint.
  config.process.args = [...config.process.args, ...options.args];
  config.process.noNewPrivileges = true;
  config.process.capabilities = { bounding: [], effective: [], permitted: [], inheritable: [], ambient: [] };
  config.root.readonly = true;
  config.linux.namespaces = config.linux.namespaces.filter((n) => n.type !== 'network');
  for (const [source, destination] of Object.entries(options.mounts))
    config.mounts.push({ destination, type: 'bind', source, options: ['bind', 'ro', 'nosuid', 'nodev', 'noexec'] });
  writeFileSync(path, JSON.stringify(config, null, 2));
}

/** A container run by `runc run` (foreground: runc forwards signals and exits with the container). */
export class RuncContainer {
  readonly proc: ChildProcess;
  readonly lines: string[] = [];
  readonly exited: Promise<number | null>;

  constructor(private readonly options: RuncOptions) {
    this.proc = spawn('runc', ['--root', options.state, 'run', '--bundle', options.bundle, options.id], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [this.proc.stdout!, this.proc.stderr!])
      createInterface({ input: stream }).on('line', (l) => this.lines.push(l));
    this.exited = new Promise((resolve) => this.proc.once('exit', (code) => resolve(code)));
  }

  async waitForLog(re: RegExp, timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const hit = this.lines.find((l) => re.test(l));
      if (hit) return hit;
      if (this.proc.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`container log never matched ${re}; last lines:\n${this.lines.slice(-20).join('\n')}`);
  }

  /** runc's view: the container's init pid on the host. */
  pid(): number {
    const res = spawnSync('runc', ['--root', this.options.state, 'state', this.options.id], { encoding: 'utf8' });
    if (res.status !== 0) throw new Error(`runc state failed: ${res.stderr}`);
    return (JSON.parse(res.stdout) as { pid: number }).pid;
  }

  /** runc exec of a command in the running container; never throws. */
  exec(args: string[]): { code: number | null; stdout: string; stderr: string } {
    const res = spawnSync('runc', ['--root', this.options.state, 'exec', this.options.id, ...args], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    return { code: res.status, stdout: res.stdout, stderr: res.stderr };
  }

  /** SIGTERM, then SIGKILL after 10 s; then the container is deleted. */
  async stop(): Promise<void> {
    const runc = (...args: string[]): void => {
      spawnSync('runc', ['--root', this.options.state, ...args], { encoding: 'utf8' });
    };
    if (this.proc.exitCode === null) {
      runc('kill', this.options.id, 'TERM');
      const timer = setTimeout(() => runc('kill', this.options.id, 'KILL'), 10_000);
      await this.exited;
      clearTimeout(timer);
    }
    runc('delete', '--force', this.options.id);
  }
}
