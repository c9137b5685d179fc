/**
 * The operator's own kubeconfig loader (no @kubernetes/client-node: importing it costs about 85 MiB RSS).
 *
 * Where the configuration comes from, in this order: `--kubeconfig <path>`; else `$KUBECONFIG`, a
 * colon-separated list of files merged as kubectl merges them (missing files skipped, the first file to name a
 * cluster, user or context wins, and so does the first `current-context`); else `~/.kube/config`; else the
 * in-cluster configuration (KUBERNETES_SERVICE_HOST/PORT and the ServiceAccount's token and CA).
 *
 * Of the current context it supports: the cluster's `server`, `certificate-authority(-data)`,
 * `insecure-skip-tls-verify` and `tls-server-name`; the user's `client-certificate(-data)`/`client-key(-data)`,
 * `token`, `tokenFile`, `username`/`password` and the `exec` credential plugin (ExecCredential
 * client.authentication.k8s.io/v1 and v1beta1). Anything else that changes how to connect or authenticate
 * (`auth-provider`, impersonation, `proxy-url`, ...) fails at start with a KubeconfigError naming the field.
 * Relative paths resolve against the directory of the kubeconfig file that holds them.
 *
 * Token files (the in-cluster projected token rotates) are read again every minute, as client-go does, and at
 * once after a 401; an exec plugin's credential is kept until its expirationTimestamp, and the plugin runs
 * again after a 401. No token, key or password is ever part of a message.
 */
import { execFile } from 'node:child_process';
import { channel } from 'node:diagnostics_channel';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parse } from 'yaml';

/** A kubeconfig that cannot be used; the message names the file and field. */
export class KubeconfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KubeconfigError';
  }
}

/** The in-cluster ServiceAccount files (client-go's rest.InClusterConfig). */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** How often a token file is read again (client-go's cached file token source: one minute). */
export const TOKEN_FILE_REREAD_MS = 60_000;

/** The cluster side of the current context. */
export interface ClusterSettings {
  server: string;
  /** PEM trusted instead of the system's roots. */
  ca?: Buffer;
  insecureSkipTlsVerify: boolean;
  tlsServerName?: string;
  /** `disable-compression`: do not ask the API server for gzip-compressed answers (client-go's field). */
  disableCompression: boolean;
}

/** What one request needs from the user side: headers, and the client certificate of the TLS connection. */
export interface Credentials {
  headers: Record<string, string>;
  cert?: Buffer;
  key?: Buffer;
  /** After this (ms since the epoch) the credentials are worked out again. */
  refreshAt: number;
}

interface ExecSettings {
  command: string;
  args: string[];
  env: { name: string; value: string }[];
  apiVersion: string;
  provideClusterInfo: boolean;
  installHint?: string;
  /** Where the kubeconfig names it, for messages. */
  field: string;
}

interface UserSettings {
  cert?: Buffer;
  key?: Buffer;
  token?: string;
  tokenFile?: string;
  basic?: { username: string; password: string };
  exec?: ExecSettings;
}

type Named = Record<string, unknown>;
interface Entry {
  value: Named;
  /** Directory of the file it came from (relative paths resolve against it). */
  dir: string;
  file: string;
}

const EXEC_API_VERSIONS = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'];

/** Fields of a user that the loader understands; any other non-empty field fails the load. */
const USER_FIELDS = new Set([
  'client-certificate',
  'client-certificate-data',
  'client-key',
  'client-key-data',
  'token',
  'tokenFile',
  'username',
  'password',
  'exec',
  'extensions',
]);
const CLUSTER_FIELDS = new Set([
  'server',
  'certificate-authority',
  'certificate-authority-data',
  'insecure-skip-tls-verify',
  'tls-server-name',
  'disable-compression',
  'extensions',
]);
const EXEC_FIELDS = new Set([
  'command',
  'args',
  'env',
  'apiVersion',
  'installHint',
  'provideClusterInfo',
  'interactiveMode',
]);

const isObject = (v: unknown): v is Named => typeof v === 'object' && v !== null && !Array.isArray(v);
const isEmpty = (v: unknown): boolean =>
  v === undefined ||
  v === null ||
  v === '' ||
  v === false ||
  (Array.isArray(v) && v.length === 0) ||
  (isObject(v) && Object.keys(v).length === 0);

export class KubeConfig {
  private cached: Credentials | undefined;
  private pending: Promise<Credentials> | undefined;
  /** The current token file's content (kept when a later read fails, as client-go does). */
  private fileToken: string | undefined;

  constructor(
    readonly cluster: ClusterSettings,
    private readonly user: UserSettings,
    /** Where it came from (file paths or "in-cluster"), for logs. */
    readonly source: string,
    readonly contextName: string,
    /** The context's namespace, if any. */
    readonly namespace?: string,
  ) {}

  /** Whether a 401 can be answered by new credentials (a token file re-read or an exec plugin run). */
  get refreshable(): boolean {
    return this.user.tokenFile !== undefined || (this.user.exec !== undefined && !this.staticHeader);
  }

  private get staticHeader(): boolean {
    return this.user.token !== undefined || this.user.tokenFile !== undefined || this.user.basic !== undefined;
  }

  /** The credentials for the next request (cached; token files re-read and exec plugins re-run when due). */
  credentials(): Promise<Credentials> {
    const c = this.cached;
    if (c && Date.now() < c.refreshAt) return Promise.resolve(c);
    this.pending ??= this.work().finally(() => (this.pending = undefined));
    return this.pending;
  }

  /**
   * The API server answered 401 to a request made with `used`: forget them, so the next request reads the
   * token file again or runs the exec plugin again. Returns whether anything was forgotten (false when newer
   * credentials are already in use, or none can be refreshed).
   */
  invalidate(used: Credentials): boolean {
    if (!this.refreshable) return false;
    if (this.cached !== used) return this.cached !== undefined || this.pending !== undefined;
    this.cached = undefined;
    return true;
  }

  private async work(): Promise<Credentials> {
    const u = this.user;
    const headers: Record<string, string> = {};
    let refreshAt = Infinity;
    let cert = u.cert;
    let key = u.key;
    if (u.token !== undefined) headers.authorization = `Bearer ${u.token}`;
    else if (u.tokenFile !== undefined) {
      try {
        this.fileToken = (await readFile(u.tokenFile, 'utf8')).trim();
      } catch (err) {
        if (this.fileToken === undefined)
          throw new KubeconfigError(`cannot read the token file ${u.tokenFile}: ${(err as Error).message}`);
      }
      headers.authorization = `Bearer ${this.fileToken}`;
      refreshAt = Date.now() + TOKEN_FILE_REREAD_MS;
    } else if (u.basic) {
      headers.authorization = `Basic ${Buffer.from(`${u.basic.username}:${u.basic.password}`).toString('base64')}`;
    } else if (u.exec) {
      const got = await runExecPlugin(u.exec, this.cluster);
      if (got.token !== undefined) headers.authorization = `Bearer ${got.token}`;
      if (got.cert && got.key) {
        cert = got.cert;
        key = got.key;
      }
      if (got.expiresAt !== undefined) refreshAt = got.expiresAt;
    }
    const creds: Credentials = { headers, refreshAt, ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
    this.cached = creds;
    return creds;
  }
}

/** The kubeconfig of `--kubeconfig <path>`, else $KUBECONFIG, ~/.kube/config, in-cluster. Throws KubeconfigError. */
export function loadKubeConfig(path?: string, env: NodeJS.ProcessEnv = process.env): KubeConfig {
  if (path) {
    const file = resolve(path);
    if (!existsSync(file)) throw new KubeconfigError(`--kubeconfig ${path}: no such file`);
    return fromFiles([file]);
  }
  const list = env.KUBECONFIG;
  if (list) {
    const files = [...new Set(list.split(':').filter((p) => p !== ''))].map((p) => resolve(p));
    const present = files.filter((f) => existsSync(f));
    if (present.length === 0) throw new KubeconfigError(`KUBECONFIG=${list}: none of these files exists`);
    return fromFiles(present);
  }
  const home = env.HOME || homedir();
  const defaultFile = join(home, '.kube', 'config');
  if (home && existsSync(defaultFile)) return fromFiles([defaultFile]);
  if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT) return inCluster(env);
  throw new KubeconfigError(
    'no Kubernetes configuration: pass --kubeconfig, set KUBECONFIG, create ~/.kube/config, or run in a cluster ' +
      '(KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set)',
  );
}

/** The in-cluster configuration (client-go's rest.InClusterConfig), reading files under `dir`. */
export function inCluster(env: NodeJS.ProcessEnv = process.env, dir = SERVICE_ACCOUNT_DIR): KubeConfig {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port)
    throw new KubeconfigError('in-cluster configuration needs KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT');
  const tokenFile = join(dir, 'token');
  if (!existsSync(tokenFile)) throw new KubeconfigError(`in-cluster configuration: no token file ${tokenFile}`);
  const caFile = join(dir, 'ca.crt');
  const server = `https://${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
  return new KubeConfig(
    {
      server,
      insecureSkipTlsVerify: false,
      disableCompression: false,
      ...(existsSync(caFile) ? { ca: readFileSync(caFile) } : {}),
    },
    { tokenFile },
    'in-cluster',
    'in-cluster',
  );
}

/** Parses one kubeconfig text, as if read from `file` (tests). */
export function kubeConfigFromText(text: string, file: string): KubeConfig {
  return build([{ file, doc: parseDoc(text, file) }]);
}

function parseDoc(text: string, file: string): Named {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new KubeconfigError(`${file}: not YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return {};
  if (!isObject(doc)) throw new KubeconfigError(`${file}: not a kubeconfig (the document is not a mapping)`);
  return doc;
}

function fromFiles(files: string[]): KubeConfig {
  return build(
    files.map((file) => {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        throw new KubeconfigError(`cannot read kubeconfig ${file}: ${(err as Error).message}`);
      }
      return { file, doc: parseDoc(text, file) };
    }),
  );
}

/** Merges the files (first wins, as kubectl) and resolves the current context. */
function build(docs: { file: string; doc: Named }[]): KubeConfig {
  const clusters = new Map<string, Entry>();
  const users = new Map<string, Entry>();
  const contexts = new Map<string, Entry>();
  let current: string | undefined;
  const collect = (into: Map<string, Entry>, list: unknown, inner: string, file: string): void => {
    if (list === undefined || list === null) return;
    if (!Array.isArray(list)) throw new KubeconfigError(`${file}: ${inner}s must be a list`);
    for (const item of list) {
      if (!isObject(item) || typeof item.name !== 'string') continue;
      if (into.has(item.name)) continue;
      const value = item[inner];
      into.set(item.name, { value: isObject(value) ? value : {}, dir: dirname(file), file });
    }
  };
  for (const { file, doc } of docs) {
    collect(clusters, doc.clusters, 'cluster', file);
    collect(users, doc.users, 'user', file);
    collect(contexts, doc.contexts, 'context', file);
    const cc = doc['current-context'];
    if (current === undefined && typeof cc === 'string' && cc !== '') current = cc;
  }
  const source = docs.map((d) => d.file).join(':');
  if (current === undefined) throw new KubeconfigError(`${source}: no current-context`);
  const context = contexts.get(current);
  if (!context) throw new KubeconfigError(`${source}: current-context "${current}" names no context`);
  const clusterName = context.value.cluster;
  const userName = context.value.user;
  if (typeof clusterName !== 'string' || clusterName === '')
    throw new KubeconfigError(`${context.file}: contexts[${current}].context.cluster is not set`);
  const cluster = clusters.get(clusterName);
  if (!cluster)
    throw new KubeconfigError(
      `${context.file}: contexts[${current}].context.cluster "${clusterName}" names no cluster`,
    );
  let user: Entry | undefined;
  if (typeof userName === 'string' && userName !== '') {
    user = users.get(userName);
    if (!user)
      throw new KubeconfigError(`${context.file}: contexts[${current}].context.user "${userName}" names no user`);
  }
  const namespace = typeof context.value.namespace === 'string' ? context.value.namespace : undefined;
  return new KubeConfig(
    clusterSettings(clusterName, cluster),
    user ? userSettings(String(userName), user) : {},
    source,
    current,
    namespace,
  );
}

function str(entry: Entry, field: string, where: string): string | undefined {
  const v = entry.value[field];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new KubeconfigError(`${entry.file}: ${where}.${field} must be a string`);
  return v;
}

function bool(entry: Entry, field: string, where: string): boolean {
  const v = entry.value[field];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw new KubeconfigError(`${entry.file}: ${where}.${field} must be true or false`);
  return v;
}

function pathOf(entry: Entry, p: string): string {
  return isAbsolute(p) ? p : resolve(entry.dir, p);
}

/** The bytes of `<field>` (a file) or `<field>-data` (base64); the data wins, as in client-go. */
function fileOrData(entry: Entry, field: string, where: string): Buffer | undefined {
  const data = str(entry, `${field}-data`, where);
  if (data !== undefined) return Buffer.from(data, 'base64');
  const file = str(entry, field, where);
  if (file === undefined) return undefined;
  const path = pathOf(entry, file);
  try {
    return readFileSync(path);
  } catch (err) {
    throw new KubeconfigError(`${entry.file}: ${where}.${field} ${path}: ${(err as Error).message}`);
  }
}

function unsupported(entry: Entry, where: string, field: string, hint: string): KubeconfigError {
  return new KubeconfigError(`${entry.file}: ${where}.${field} is not supported by this operator; ${hint}`);
}

function clusterSettings(name: string, entry: Entry): ClusterSettings {
  const where = `clusters[${name}].cluster`;
  for (const [field, v] of Object.entries(entry.value))
    if (!CLUSTER_FIELDS.has(field) && !isEmpty(v))
      throw unsupported(
        entry,
        where,
        field,
        field === 'proxy-url' ? 'it connects to the API server directly' : 'remove the field',
      );
  const server = str(entry, 'server', where);
  if (!server) throw new KubeconfigError(`${entry.file}: ${where}.server is not set`);
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new KubeconfigError(`${entry.file}: ${where}.server "${server}" is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new KubeconfigError(`${entry.file}: ${where}.server "${server}" is neither https:// nor http://`);
  const insecure = bool(entry, 'insecure-skip-tls-verify', where);
  const ca = fileOrData(entry, 'certificate-authority', where);
  const tlsServerName = str(entry, 'tls-server-name', where);
  return {
    server,
    insecureSkipTlsVerify: insecure,
    ...(ca ? { ca } : {}),
    ...(tlsServerName ? { tlsServerName } : {}),
    disableCompression: bool(entry, 'disable-compression', where),
  };
}

function userSettings(name: string, entry: Entry): UserSettings {
  const where = `users[${name}].user`;
  for (const [field, v] of Object.entries(entry.value)) {
    if (USER_FIELDS.has(field) || isEmpty(v)) continue;
    if (field === 'auth-provider') {
      const provider = isObject(v) && typeof v.name === 'string' ? ` (${v.name})` : '';
      throw unsupported(
        entry,
        where,
        `auth-provider${provider}`,
        'use an exec credential plugin instead (kubelogin for OIDC and Azure, gke-gcloud-auth-plugin for GKE)',
      );
    }
    if (field.startsWith('as'))
      throw unsupported(entry, where, field, 'impersonation is not supported; use a user with the needed rights');
    throw unsupported(entry, where, field, 'remove the field');
  }
  const user: UserSettings = {};
  const cert = fileOrData(entry, 'client-certificate', where);
  const key = fileOrData(entry, 'client-key', where);
  if ((cert === undefined) !== (key === undefined))
    throw new KubeconfigError(
      `${entry.file}: ${where} has a client ${cert ? 'certificate without a key' : 'key without a certificate'} (client-certificate and client-key go together)`,
    );
  if (cert && key) {
    user.cert = cert;
    user.key = key;
  }
  const token = str(entry, 'token', where);
  const tokenFile = str(entry, 'tokenFile', where);
  const username = str(entry, 'username', where);
  const password = str(entry, 'password', where);
  if ((token !== undefined || tokenFile !== undefined) && (username !== undefined || password !== undefined))
    throw new KubeconfigError(
      `${entry.file}: ${where} has both a token and username/password; only one authentication method is allowed`,
    );
  if (token !== undefined) user.token = token;
  else if (tokenFile !== undefined) {
    user.tokenFile = pathOf(entry, tokenFile);
    if (!existsSync(user.tokenFile))
      throw new KubeconfigError(`${entry.file}: ${where}.tokenFile ${user.tokenFile}: no such file`);
  }
  if (username !== undefined || password !== undefined)
    user.basic = { username: username ?? '', password: password ?? '' };
  const exec = entry.value.exec;
  if (!isEmpty(exec)) {
    if (!isObject(exec)) throw new KubeconfigError(`${entry.file}: ${where}.exec must be a mapping`);
    user.exec = execSettings(entry, exec, `${where}.exec`);
  }
  return user;
}

function execSettings(entry: Entry, exec: Named, where: string): ExecSettings {
  for (const [field, v] of Object.entries(exec))
    if (!EXEC_FIELDS.has(field) && !isEmpty(v)) throw unsupported(entry, where, field, 'remove the field');
  const command = exec.command;
  if (typeof command !== 'string' || command === '')
    throw new KubeconfigError(`${entry.file}: ${where}.command is not set`);
  const apiVersion = exec.apiVersion;
  if (typeof apiVersion !== 'string' || !EXEC_API_VERSIONS.includes(apiVersion))
    throw new KubeconfigError(
      `${entry.file}: ${where}.apiVersion ${JSON.stringify(apiVersion ?? null)} is not supported; use ${EXEC_API_VERSIONS.join(' or ')}`,
    );
  if (exec.interactiveMode === 'Always')
    throw unsupported(
      entry,
      where,
      'interactiveMode: Always',
      'the operator has no terminal; use IfAvailable or Never',
    );
  const args = exec.args ?? [];
  if (!Array.isArray(args) || !args.every((a) => typeof a === 'string'))
    throw new KubeconfigError(`${entry.file}: ${where}.args must be a list of strings`);
  const env = exec.env ?? [];
  if (
    !Array.isArray(env) ||
    !env.every(
      (e) => isObject(e) && typeof e.name === 'string' && (e.value === undefined || typeof e.value === 'string'),
    )
  )
    throw new KubeconfigError(`${entry.file}: ${where}.env must be a list of {name, value}`);
  return {
    // As client-go: a command with a path separator is relative to the kubeconfig's directory; a bare name is
    // looked up on PATH.
    command: command.includes('/') ? pathOf(entry, command) : command,
    args,
    env: (env as Named[]).map((e) => ({ name: String(e.name), value: typeof e.value === 'string' ? e.value : '' })),
    apiVersion,
    provideClusterInfo: exec.provideClusterInfo === true,
    ...(typeof exec.installHint === 'string' && exec.installHint !== '' ? { installHint: exec.installHint } : {}),
    field: `${entry.file}: ${where}`,
  };
}

/** How long an exec plugin may take before it is killed. */
const EXEC_TIMEOUT_MS = 60_000;

interface ExecResult {
  token?: string;
  cert?: Buffer;
  key?: Buffer;
  expiresAt?: number;
}

/** Runs an exec credential plugin and reads its ExecCredential (stdout is never quoted: it holds the secret). */
async function runExecPlugin(exec: ExecSettings, cluster: ClusterSettings): Promise<ExecResult> {
  const info = {
    apiVersion: exec.apiVersion,
    kind: 'ExecCredential',
    spec: {
      interactive: false,
      ...(exec.provideClusterInfo
        ? {
            cluster: {
              server: cluster.server,
              ...(cluster.tlsServerName ? { 'tls-server-name': cluster.tlsServerName } : {}),
              ...(cluster.insecureSkipTlsVerify ? { 'insecure-skip-tls-verify': true } : {}),
              ...(cluster.disableCompression ? { 'disable-compression': true } : {}),
              ...(cluster.ca ? { 'certificate-authority-data': cluster.ca.toString('base64') } : {}),
            },
          }
        : {}),
    },
  };
  const env: NodeJS.ProcessEnv = { ...process.env, KUBERNETES_EXEC_INFO: JSON.stringify(info) };
  for (const e of exec.env) env[e.name] = e.value;
  const what = `exec credential plugin ${exec.command} (${exec.field})`;
  const stdout = await new Promise<string>((done, fail) => {
    execFile(
      exec.command,
      exec.args,
      { env, timeout: EXEC_TIMEOUT_MS, maxBuffer: 4 * 1024 * 1024, encoding: 'utf8' },
      (err, out, errOut) => {
        if (!err) return done(out);
        const e = err as { code?: unknown; killed?: boolean };
        const tail = errOut.trim().slice(-500);
        let why: string;
        if (e.code === 'ENOENT') why = `not found${exec.installHint ? `; ${exec.installHint.trim()}` : ''}`;
        else if (e.killed) why = `killed after ${EXEC_TIMEOUT_MS / 1000} s`;
        else why = `exited with ${typeof e.code === 'number' ? `code ${e.code}` : 'an error'}`;
        fail(new KubeconfigError(`${what}: ${why}${tail ? `; stderr: ${tail}` : ''}`));
      },
    );
  });
  let cred: unknown;
  try {
    cred = JSON.parse(stdout);
  } catch {
    throw new KubeconfigError(`${what}: its output is not JSON (an ExecCredential)`);
  }
  if (!isObject(cred) || cred.kind !== 'ExecCredential')
    throw new KubeconfigError(`${what}: its output is not an ExecCredential`);
  if (cred.apiVersion !== exec.apiVersion)
    throw new KubeconfigError(
      `${what}: it answered apiVersion ${JSON.stringify(cred.apiVersion ?? null)}, the kubeconfig asks for ${exec.apiVersion}`,
    );
  const status = cred.status;
  if (!isObject(status)) throw new KubeconfigError(`${what}: the ExecCredential has no status`);
  const result: ExecResult = {};
  if (typeof status.token === 'string' && status.token !== '') result.token = status.token;
  const certData = typeof status.clientCertificateData === 'string' ? status.clientCertificateData : '';
  const keyData = typeof status.clientKeyData === 'string' ? status.clientKeyData : '';
  if ((certData === '') !== (keyData === ''))
    throw new KubeconfigError(`${what}: status.clientCertificateData and status.clientKeyData go together`);
  if (certData !== '') {
    result.cert = Buffer.from(certData);
    result.key = Buffer.from(keyData);
  }
  if (result.token === undefined && result.cert === undefined)
    throw new KubeconfigError(`${what}: the ExecCredential has neither status.token nor a client certificate`);
  if (typeof status.expirationTimestamp === 'string' && status.expirationTimestamp !== '') {
    const at = Date.parse(status.expirationTimestamp);
    if (Number.isNaN(at)) throw new KubeconfigError(`${what}: status.expirationTimestamp is not a time (RFC 3339)`);
    result.expiresAt = at;
  }
  return result;
}

/**
 * Calls `onConnect` for every new connection that the operator's HTTP client (undici) opens, so metrics can
 * show connection churn. Returns an unsubscribe function.
 */
export function onApiConnection(onConnect: (origin: string) => void): () => void {
  const ch = channel('undici:client:connected');
  const listener = (message: unknown): void => {
    const p = (message as { connectParams?: { protocol?: string; hostname?: string; port?: string | number } })
      .connectParams;
    onConnect(p ? `${p.protocol ?? ''}//${p.hostname ?? ''}:${p.port ?? ''}` : 'unknown');
  };
  ch.subscribe(listener);
  return () => ch.unsubscribe(listener);
}
