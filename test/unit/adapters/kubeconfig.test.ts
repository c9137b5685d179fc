/** The operator's own kubeconfig loader (issue 10: no @kubernetes/client-node in the operator). */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { KubeApiError, KubeHttp } from '../../../src/adapters/kube-http.js';
import {
  KubeconfigError,
  TOKEN_FILE_REREAD_MS,
  inCluster,
  kubeConfigFromText,
  loadKubeConfig,
} from '../../../src/adapters/kubeconfig.js';

const root = mkdtempSync(join(tmpdir(), 'ecr-kubeconfig-'));
let n = 0;
/** A fresh directory under the test's temporary root. */
const dir = (): string => {
  const d = join(root, `d${++n}`);
  mkdirSync(d, { recursive: true });
  return d;
};

interface Doc {
  clusters?: { name: string; cluster: Record<string, unknown> }[];
  users?: { name: string; user: Record<string, unknown> }[];
  contexts?: { name: string; context: Record<string, unknown> }[];
  'current-context'?: string;
}

const write = (path: string, doc: Doc): string => {
  writeFileSync(path, stringify({ apiVersion: 'v1', kind: 'Config', ...doc }));
  return path;
};

/** One cluster, one user, one context named x. */
const simple = (cluster: Record<string, unknown>, user: Record<string, unknown>): Doc => ({
  clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443', ...cluster } }],
  users: [{ name: 'u', user }],
  contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
  'current-context': 'x',
});

const env = (e: Record<string, string>): NodeJS.ProcessEnv => ({ HOME: join(root, 'no-home'), ...e });

afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => vi.useRealTimers());

describe('where the kubeconfig comes from', () => {
  it('merges $KUBECONFIG files first-wins, as kubectl: entries and current-context of the first file to set them', async () => {
    const d = dir();
    const a = write(join(d, 'a'), {
      clusters: [{ name: 'c', cluster: { server: 'https://a.example:6443' } }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u', namespace: 'from-a' } }],
      'current-context': 'x',
    });
    const b = write(join(d, 'b'), {
      clusters: [{ name: 'c', cluster: { server: 'https://b.example:6443' } }],
      users: [{ name: 'u', user: { token: 'token-from-b' } }],
      contexts: [{ name: 'y', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'y',
    });
    const kc = loadKubeConfig(undefined, env({ KUBECONFIG: `${a}::${join(d, 'missing')}:${b}` }));
    expect(kc.contextName).toBe('x');
    expect(kc.namespace).toBe('from-a');
    expect(kc.cluster.server).toBe('https://a.example:6443');
    expect((await kc.credentials()).headers).toEqual({ authorization: 'Bearer token-from-b' });
    expect(kc.source).toBe(`${a}:${b}`);
    // Reversed, b's entries and current context win.
    const kb = loadKubeConfig(undefined, env({ KUBECONFIG: `${b}:${a}` }));
    expect([kb.contextName, kb.cluster.server]).toEqual(['y', 'https://b.example:6443']);
  });

  it('--kubeconfig wins over $KUBECONFIG, which wins over ~/.kube/config, which wins over in-cluster', () => {
    const d = dir();
    const flag = write(join(d, 'flag'), simple({ server: 'https://flag:1' }, { token: 't' }));
    const listed = write(join(d, 'listed'), simple({ server: 'https://listed:1' }, { token: 't' }));
    const home = dir();
    mkdirSync(join(home, '.kube'));
    write(join(home, '.kube', 'config'), simple({ server: 'https://home:1' }, { token: 't' }));
    const cluster = { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' };
    expect(loadKubeConfig(flag, { HOME: home, KUBECONFIG: listed, ...cluster }).cluster.server).toBe('https://flag:1');
    expect(loadKubeConfig(undefined, { HOME: home, KUBECONFIG: listed, ...cluster }).cluster.server).toBe(
      'https://listed:1',
    );
    expect(loadKubeConfig(undefined, { HOME: home, ...cluster }).cluster.server).toBe('https://home:1');
    // No file anywhere and not in a cluster: a message saying what was tried.
    expect(() => loadKubeConfig(undefined, env({}))).toThrow(/pass --kubeconfig, set KUBECONFIG/);
    expect(() => loadKubeConfig(join(d, 'nope'), env({}))).toThrow(KubeconfigError);
    expect(() => loadKubeConfig(undefined, env({ KUBECONFIG: join(d, 'nope') }))).toThrow(/none of these files/);
  });

  it('resolves relative paths against the directory of the file that names them, not the working directory', async () => {
    const d = dir();
    mkdirSync(join(d, 'pki'));
    writeFileSync(join(d, 'pki', 'ca.pem'), 'CA-PEM');
    writeFileSync(join(d, 'pki', 'client.pem'), 'CERT-PEM');
    writeFileSync(join(d, 'pki', 'client.key'), 'KEY-PEM');
    writeFileSync(join(d, 'token'), 'file-token\n');
    const file = write(
      join(d, 'config'),
      simple(
        { 'certificate-authority': 'pki/ca.pem', 'tls-server-name': 'api.example' },
        { 'client-certificate': 'pki/client.pem', 'client-key': './pki/client.key', tokenFile: 'token' },
      ),
    );
    const kc = loadKubeConfig(file, env({}));
    expect(kc.cluster.ca?.toString()).toBe('CA-PEM');
    expect(kc.cluster.tlsServerName).toBe('api.example');
    const creds = await kc.credentials();
    expect(creds.cert?.toString()).toBe('CERT-PEM');
    expect(creds.key?.toString()).toBe('KEY-PEM');
    expect(creds.headers.authorization).toBe('Bearer file-token');
  });

  it('takes -data over the file (the file is then never read), and checks what it reads', async () => {
    const b64 = (s: string): string => Buffer.from(s).toString('base64');
    const kc = kubeConfigFromText(
      stringify(
        simple(
          {
            'certificate-authority': '/does/not/exist',
            'certificate-authority-data': b64('CA'),
            'insecure-skip-tls-verify': false,
          },
          { 'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY'), username: 'admin', password: 'pw' },
        ),
      ),
      '/x/config',
    );
    expect(kc.cluster.ca?.toString()).toBe('CA');
    const creds = await kc.credentials();
    expect([creds.cert?.toString(), creds.key?.toString()]).toEqual(['CERT', 'KEY']);
    expect(creds.headers.authorization).toBe(`Basic ${b64('admin:pw')}`);
    expect(() =>
      kubeConfigFromText(stringify(simple({ 'certificate-authority': 'ca.pem' }, {})), join(dir(), 'config')),
    ).toThrow(/clusters\[c\]\.cluster\.certificate-authority .*ca\.pem/);
    expect(() => kubeConfigFromText(stringify(simple({}, { 'client-certificate-data': b64('C') })), '/x/c')).toThrow(
      /client certificate without a key/,
    );
    expect(() => kubeConfigFromText(stringify(simple({}, { token: 't', username: 'u' })), '/x/c')).toThrow(
      /only one authentication method/,
    );
  });

  it('refuses what it does not support at load, naming the file and the field, and never quoting a secret', () => {
    const file = '/etc/kc/config';
    const load = (cluster: Record<string, unknown>, user: Record<string, unknown>): string => {
      try {
        kubeConfigFromText(stringify(simple(cluster, user)), file);
      } catch (err) {
        expect(err).toBeInstanceOf(KubeconfigError);
        return (err as Error).message;
      }
      throw new Error('loaded');
    };
    const oidc = load(
      {},
      { 'auth-provider': { name: 'oidc', config: { 'id-token': 'SECRET-ID-TOKEN', 'client-secret': 'SECRET' } } },
    );
    expect(oidc).toBe(
      '/etc/kc/config: users[u].user.auth-provider (oidc) is not supported by this operator; use an exec credential ' +
        'plugin instead (kubelogin for OIDC and Azure, gke-gcloud-auth-plugin for GKE)',
    );
    expect(load({}, { 'auth-provider': { name: 'gcp' } })).toMatch(/auth-provider \(gcp\) is not supported/);
    expect(load({}, { as: 'someone', token: 'SECRET' })).toMatch(
      /users\[u\]\.user\.as is not supported.*impersonation/,
    );
    expect(load({ 'proxy-url': 'http://proxy:3128' }, {})).toMatch(
      /clusters\[c\]\.cluster\.proxy-url is not supported/,
    );
    expect(load({}, { exec: { command: 'x', apiVersion: 'client.authentication.k8s.io/v1alpha1' } })).toMatch(
      /users\[u\]\.user\.exec\.apiVersion "client.authentication.k8s.io\/v1alpha1" is not supported/,
    );
    expect(
      load({}, { exec: { command: 'x', apiVersion: 'client.authentication.k8s.io/v1', interactiveMode: 'Always' } }),
    ).toMatch(/exec\.interactiveMode: Always is not supported/);
    expect(load({ server: 'ftp://x' }, {})).toMatch(/neither https:\/\/ nor http:\/\//);
    expect(load({ 'disable-compression': 'yes' }, {})).toBe(
      '/etc/kc/config: clusters[c].cluster.disable-compression must be true or false',
    );
    expect(load({ 'insecure-skip-tls-verify': 'true' }, {})).toMatch(
      /clusters\[c\]\.cluster\.insecure-skip-tls-verify must be true or false/,
    );
    for (const m of [oidc]) expect(m).not.toContain('SECRET');
    // disable-compression is read (the client then does not ask for gzip); extensions are accepted and ignored.
    const kc = kubeConfigFromText(
      stringify(simple({ 'disable-compression': true, extensions: [] }, { token: 't' })),
      file,
    );
    expect(kc.cluster.disableCompression).toBe(true);
    expect(kubeConfigFromText(stringify(simple({}, { token: 't' })), file).cluster.disableCompression).toBe(false);
  });
});

describe('in-cluster', () => {
  it('uses the service host and port, the ServiceAccount CA, and re-reads the rotating token every minute and after a 401', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const sa = dir();
    writeFileSync(join(sa, 'token'), 'token-1');
    writeFileSync(join(sa, 'ca.crt'), 'SA-CA');
    const kc = inCluster({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, sa);
    expect(kc.cluster.server).toBe('https://[fd00::1]:443');
    expect(kc.cluster.ca?.toString()).toBe('SA-CA');
    const first = await kc.credentials();
    expect(first.headers.authorization).toBe('Bearer token-1');
    writeFileSync(join(sa, 'token'), 'token-2\n'); // the kubelet rotated the projected token
    vi.advanceTimersByTime(TOKEN_FILE_REREAD_MS - 1_000);
    expect((await kc.credentials()).headers.authorization).toBe('Bearer token-1'); // still cached
    vi.advanceTimersByTime(2_000);
    const second = await kc.credentials();
    expect(second.headers.authorization).toBe('Bearer token-2');
    // A 401 makes the next request read the file at once.
    writeFileSync(join(sa, 'token'), 'token-3');
    expect(kc.invalidate(first)).toBe(true); // stale credentials: newer ones are in use already
    expect((await kc.credentials()).headers.authorization).toBe('Bearer token-2');
    expect(kc.invalidate(second)).toBe(true);
    expect((await kc.credentials()).headers.authorization).toBe('Bearer token-3');
    // The file vanishing for a moment keeps the last token, as client-go does.
    rmSync(join(sa, 'token'));
    vi.advanceTimersByTime(TOKEN_FILE_REREAD_MS + 1);
    expect((await kc.credentials()).headers.authorization).toBe('Bearer token-3');
  });

  it('needs the service variables and the token file', () => {
    expect(() => inCluster({}, dir())).toThrow(/KUBERNETES_SERVICE_HOST/);
    expect(() => inCluster({ KUBERNETES_SERVICE_HOST: 'h', KUBERNETES_SERVICE_PORT: '1' }, dir())).toThrow(
      /no token file/,
    );
  });
});

describe('exec credential plugin', () => {
  let server: Server;
  let port = 0;
  const seen: string[] = [];

  beforeAll(async () => {
    // Accepts only the second token the plugin hands out.
    server = createServer((req, res) => {
      seen.push(req.headers.authorization ?? '');
      const ok = req.headers.authorization === 'Bearer plugin-token-2';
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify(
          ok
            ? { kind: 'Thing', ok: true }
            : { kind: 'Status', code: 401, reason: 'Unauthorized', message: 'Unauthorized' },
        ),
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
  });

  /** A plugin script next to a kubeconfig that runs it by a relative path; counts its runs in a file. */
  const setUp = (
    opts: {
      apiVersion?: string;
      expiresInS?: number;
      exit?: number;
      answerVersion?: string;
      provideClusterInfo?: boolean;
    } = {},
  ): { file: string; runs: () => number; info: () => { spec: Record<string, unknown> } } => {
    const d = dir();
    const apiVersion = opts.apiVersion ?? 'client.authentication.k8s.io/v1';
    const script = join(d, 'bin', 'plugin.sh');
    mkdirSync(join(d, 'bin'));
    writeFileSync(
      script,
      `#!/bin/sh
n=$(( $(cat "$COUNT_FILE" 2>/dev/null || echo 0) + 1 ))
echo $n > "$COUNT_FILE"
printf '%s' "$KUBERNETES_EXEC_INFO" > "$INFO_FILE"
echo "plugin ran with $1" >&2
if [ "${opts.exit ?? 0}" != 0 ]; then exit ${opts.exit ?? 0}; fi
exp=""
if [ -n "$EXPIRES_IN" ]; then exp=", \\"expirationTimestamp\\": \\"$(date -u -d "+$EXPIRES_IN seconds" +%Y-%m-%dT%H:%M:%SZ)\\""; fi
printf '{"apiVersion": "%s", "kind": "ExecCredential", "status": {"token": "plugin-token-%s"%s}}' "${opts.answerVersion ?? apiVersion}" "$n" "$exp"
`,
    );
    chmodSync(script, 0o755);
    const file = write(
      join(d, 'config'),
      simple(
        { server: `http://127.0.0.1:${port}` },
        {
          exec: {
            apiVersion,
            command: './bin/plugin.sh',
            args: ['an-arg'],
            env: [
              { name: 'COUNT_FILE', value: join(d, 'count') },
              { name: 'INFO_FILE', value: join(d, 'info') },
              ...(opts.expiresInS !== undefined ? [{ name: 'EXPIRES_IN', value: String(opts.expiresInS) }] : []),
            ],
            provideClusterInfo: opts.provideClusterInfo ?? false,
            installHint: 'install the plugin',
          },
        },
      ),
    );
    return {
      file,
      runs: () => {
        try {
          return Number(readFileSync(join(d, 'count'), 'utf8'));
        } catch {
          return 0;
        }
      },
      info: () => JSON.parse(readFileSync(join(d, 'info'), 'utf8')) as { spec: Record<string, unknown> },
    };
  };

  it.each(['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'])(
    'runs the plugin (%s) once and keeps its token while it has no expiry',
    async (apiVersion) => {
      const p = setUp({ apiVersion, provideClusterInfo: true });
      const kc = loadKubeConfig(p.file, env({}));
      const [a, b] = await Promise.all([kc.credentials(), kc.credentials()]);
      expect(a.headers.authorization).toBe('Bearer plugin-token-1');
      expect(b).toBe(a);
      expect((await kc.credentials()).headers.authorization).toBe('Bearer plugin-token-1');
      expect(p.runs()).toBe(1);
      const info = p.info();
      expect(info).toMatchObject({ apiVersion, kind: 'ExecCredential', spec: { interactive: false } });
      expect(info.spec.cluster).toEqual({ server: `http://127.0.0.1:${port}` });
    },
  );

  it('runs it again once the credential expires', async () => {
    const p = setUp({ expiresInS: 2 });
    const kc = loadKubeConfig(p.file, env({}));
    expect((await kc.credentials()).headers.authorization).toBe('Bearer plugin-token-1');
    expect((await kc.credentials()).headers.authorization).toBe('Bearer plugin-token-1');
    expect(p.runs()).toBe(1);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 3_000);
    expect((await kc.credentials()).headers.authorization).toBe('Bearer plugin-token-2');
    expect(p.runs()).toBe(2);
    expect(p.info().spec.cluster).toBeUndefined(); // provideClusterInfo: false
  });

  it('runs it again after a 401 and sends the request once more with the new token', async () => {
    const p = setUp();
    const http = new KubeHttp(loadKubeConfig(p.file, env({})));
    seen.length = 0;
    await expect(http.json('GET', '/api/v1/namespaces')).resolves.toEqual({ kind: 'Thing', ok: true });
    expect(seen).toEqual(['Bearer plugin-token-1', 'Bearer plugin-token-2']);
    expect(p.runs()).toBe(2);
    // Still accepted: cached, no third run.
    await http.json('GET', '/api/v1/namespaces');
    expect(p.runs()).toBe(2);
    await http.close();
  });

  it('a 401 that new credentials do not cure fails with the API server status (one retry only)', async () => {
    const kc = kubeConfigFromText(
      stringify(simple({ server: `http://127.0.0.1:${port}` }, { token: 'static' })),
      '/x/c',
    );
    const http = new KubeHttp(kc);
    seen.length = 0;
    const err = await http.json('GET', '/x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect((err as KubeApiError).code).toBe(401);
    expect((err as KubeApiError).message).toBe('HTTP 401: Unauthorized');
    expect(seen).toEqual(['Bearer static']); // a static token cannot be refreshed: no retry
    await http.close();
  });

  it('says why the plugin failed, with its stderr and never its stdout', async () => {
    const failing = setUp({ exit: 3 });
    await expect(loadKubeConfig(failing.file, env({})).credentials()).rejects.toThrow(
      /exec credential plugin .*plugin\.sh \(.*users\[u\]\.user\.exec\): exited with code 3; stderr: plugin ran with an-arg/,
    );
    const wrong = setUp({ answerVersion: 'client.authentication.k8s.io/v1beta1' });
    const message = await loadKubeConfig(wrong.file, env({}))
      .credentials()
      .then(
        () => '',
        (e: unknown) => (e as Error).message,
      );
    expect(message).toMatch(/answered apiVersion "client.authentication.k8s.io\/v1beta1"/);
    expect(message).not.toContain('plugin-token');
    const missing = kubeConfigFromText(
      stringify(
        simple(
          {},
          {
            exec: {
              apiVersion: 'client.authentication.k8s.io/v1',
              command: 'no-such-plugin-xyz',
              installHint: 'brew install xyz',
            },
          },
        ),
      ),
      '/x/c',
    );
    await expect(missing.credentials()).rejects.toThrow(/no-such-plugin-xyz .*: not found; brew install xyz/);
  });
});
