/**
 * The operator's Kubernetes HTTP client: every API request (status patches, reads, events, Secret reads, the
 * list, the watch and the leader Lease) goes through undici's plain `dispatcher.request()` (not WHATWG fetch,
 * whose Request/Headers/ReadableStream machinery cost about 2 ms of CPU per request here) on one pooled,
 * HTTP/2-capable undici Agent per TLS setting, with the credentials of the operator's own kubeconfig loader
 * (kubeconfig.ts). No @kubernetes/client-node.
 *
 * Like client-go, every request but a watch asks for a gzip-compressed answer unless the kubeconfig's cluster
 * sets `disable-compression`. The API server compresses only answers of 128 KiB or more: the list's pages
 * (about 2.5 MB for 500 resources, 145 KB compressed), not status patches. Compressed, a page is a
 * seventeenth of the HTTP/2 data (whose read buffers, once promoted to the old generation, wait for a full
 * collection: docs/scale.md), and it is inflated off the main thread.
 *
 * An HTTP error status raises KubeApiError (the code and the API server's Status message). A 401 on a
 * request made with refreshable credentials (a token file, an exec plugin) refreshes them and sends the
 * request once more: a 401 means the API server did not act on it.
 */
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import type { Agent as AgentType, Dispatcher } from 'undici';
import { http } from '../util/node-http.js';
import type { Credentials, KubeConfig } from './kubeconfig.js';

/** The API server answered with an HTTP error status. */
export class KubeApiError extends Error {
  constructor(
    /** The HTTP status code. */
    readonly code: number,
    /** The answer's body: the API server's Status object when it is JSON, else its text. */
    readonly body: unknown,
  ) {
    const message = (body as { message?: unknown } | undefined)?.message;
    super(`HTTP ${code}: ${typeof message === 'string' ? message : (http.STATUS_CODES[code] ?? 'no message')}`);
    this.name = 'KubeApiError';
  }

  /** The Status message of the API server, when it sent one. */
  get statusMessage(): string | undefined {
    const message = (this.body as { message?: unknown } | undefined)?.message;
    return typeof message === 'string' ? message : undefined;
  }

  /** The Status reason (NotFound, Conflict, Forbidden, ...), when it sent one. */
  get reason(): string | undefined {
    const reason = (this.body as { reason?: unknown } | undefined)?.reason;
    return typeof reason === 'string' ? reason : undefined;
  }
}

/** Watch callback and done contract (what ListWatch calls). */
export type WatchCallback = (phase: string, apiObj: unknown, watchObj?: unknown) => void;
export type WatchDone = (err: unknown) => void;

/**
 * undici's Agent and its request API, without the rest of undici. The package's index loads all of it
 * (fetch, WebSocket, the caches, the mocks, EventSource): 2.9 MiB of heap and about 8 MiB of RSS in a
 * process of its own, for an operator that uses one Agent and `request()`. This loads the two modules the
 * operator uses and adds the request API to the dispatchers as the index does (undici 8.13, pinned; a test
 * of this module fails if they move).
 */
const undici = createRequire(import.meta.url);
const Agent = undici('undici/lib/dispatcher/agent.js') as typeof AgentType;
Object.assign(
  (undici('undici/lib/dispatcher/dispatcher.js') as { prototype: object }).prototype,
  undici('undici/lib/api/index.js'),
);

/** undici keeps idle connections alive; TCP keep-alive probes start after 30 s, as client-go's dialer. */
const KEEPALIVE_INITIAL_DELAY_MS = 30_000;

const inflate = promisify(gunzip);

/** An answer's body as text, inflated when the API server compressed it. */
async function bodyText(res: Dispatcher.ResponseData): Promise<string> {
  if (res.headers['content-encoding'] !== 'gzip') return res.body.text();
  const compressed = Buffer.from(await res.body.arrayBuffer());
  try {
    return (await inflate(compressed)).toString('utf8');
  } catch (err) {
    throw new Error(
      `the API server's gzip-compressed answer (HTTP ${res.statusCode}) does not inflate: ${String(err)}`,
    );
  }
}

export class KubeHttp {
  private readonly origin: string;
  /** The server URL's path (a proxy prefix), without a trailing slash. */
  private readonly prefix: string;
  private agent: { cert: Buffer | undefined; key: Buffer | undefined; dispatcher: AgentType } | undefined;

  constructor(private readonly kc: KubeConfig) {
    const url = new URL(kc.cluster.server);
    this.origin = url.origin;
    this.prefix = url.pathname.replace(/\/$/, '');
  }

  /** The credentials for one request and the pooled dispatcher of their TLS settings. */
  private async resolve(): Promise<{ creds: Credentials; dispatcher: AgentType }> {
    const creds = await this.kc.credentials();
    const a = this.agent;
    if (a && sameBytes(a.cert, creds.cert) && sameBytes(a.key, creds.key)) return { creds, dispatcher: a.dispatcher };
    const c = this.kc.cluster;
    const dispatcher = new Agent({
      allowH2: true,
      connect: {
        keepAlive: true,
        keepAliveInitialDelay: KEEPALIVE_INITIAL_DELAY_MS,
        ...(c.ca ? { ca: c.ca } : {}),
        ...(c.insecureSkipTlsVerify ? { rejectUnauthorized: false } : {}),
        ...(c.tlsServerName ? { servername: c.tlsServerName } : {}),
        ...(creds.cert && creds.key ? { cert: creds.cert, key: creds.key } : {}),
      },
    });
    this.agent = { cert: creds.cert, key: creds.key, dispatcher };
    // Connections of the previous client certificate finish their requests, then close.
    if (a) void a.dispatcher.close().catch(() => undefined);
    return { creds, dispatcher };
  }

  /** One request; resolves with the parsed JSON answer. Throws KubeApiError on an HTTP error status. */
  async json<T>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const payload = body !== undefined ? JSON.stringify(body) : undefined;
    for (let attempt = 0; ; attempt++) {
      const { creds, dispatcher } = await this.resolve();
      const res = await dispatcher.request({
        origin: this.origin,
        path: this.prefix + path,
        method,
        headers: {
          ...creds.headers,
          accept: 'application/json',
          ...(this.kc.cluster.disableCompression ? {} : { 'accept-encoding': 'gzip' }),
          ...(payload !== undefined ? { 'content-type': contentType } : {}),
        },
        ...(payload !== undefined ? { body: payload } : {}),
      });
      const text = await bodyText(res);
      if (res.statusCode === 401 && attempt === 0 && this.kc.invalidate(creds)) continue;
      if (res.statusCode >= 300) throw new KubeApiError(res.statusCode, parseOr(text));
      return JSON.parse(text) as T;
    }
  }

  /**
   * Watches `path`: `callback(type, object, event)` per event, `done(err)` exactly once when the stream ends
   * (null) or fails; an inactivity of `inactivityMs` (no byte, not even a bookmark) ends it with a
   * TimeoutError, which ListWatch answers by watching again at once from the last resourceVersion. Resolves
   * with an AbortController that ends the watch.
   */
  async watch(
    path: string,
    queryParams: Record<string, unknown>,
    callback: WatchCallback,
    done: WatchDone,
    inactivityMs: number,
  ): Promise<AbortController> {
    const controller = new AbortController();
    let finished = false;
    const finish = (err: unknown): void => {
      if (finished) return;
      finished = true;
      controller.abort();
      done(err);
    };
    try {
      const { creds, dispatcher } = await this.resolve();
      const url = new URL(this.origin + this.prefix + path);
      url.searchParams.set('watch', 'true');
      for (const [k, v] of Object.entries(queryParams))
        if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
          url.searchParams.set(k, String(v));
      const res = await dispatcher.request({
        origin: this.origin,
        path: url.pathname + url.search,
        method: 'GET',
        headers: { ...creds.headers, accept: 'application/json' },
        signal: controller.signal,
        headersTimeout: inactivityMs,
        bodyTimeout: inactivityMs,
      });
      if (res.statusCode !== 200) {
        const text = await res.body.text().catch(() => '');
        if (res.statusCode === 401) this.kc.invalidate(creds);
        throw new KubeApiError(res.statusCode, parseOr(text));
      }
      let buffered = '';
      res.body.setEncoding('utf8');
      res.body.on('data', (chunk: string) => {
        buffered += chunk;
        let nl = buffered.indexOf('\n');
        while (nl >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          nl = buffered.indexOf('\n');
          if (line.trim() === '') continue;
          let event: { type: string; object: unknown };
          try {
            event = JSON.parse(line) as { type: string; object: unknown };
          } catch {
            continue; // a line that is not JSON is skipped
          }
          callback(event.type, event.object, event);
        }
      });
      res.body.on('error', (err: Error & { code?: string }) => finish(timeoutOr(err)));
      res.body.on('end', () => finish(null));
      res.body.on('close', () => finish(null));
    } catch (err) {
      finish(timeoutOr(err));
    }
    return controller;
  }

  /** Closes the pooled connections: requests in flight get `graceMs` to finish, then are cut. */
  async close(graceMs = 2_000): Promise<void> {
    const a = this.agent;
    this.agent = undefined;
    if (!a) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const closed = a.dispatcher.close().then(
      () => true,
      () => true,
    );
    const late = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), graceMs)));
    if (!(await Promise.race([closed, late]))) await a.dispatcher.destroy().catch(() => undefined);
    clearTimeout(timer);
  }
}

function sameBytes(a: Buffer | undefined, b: Buffer | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.equals(b));
}

function parseOr(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text; // not JSON: keep the text
  }
}

/** undici's body or headers timeout, as the TimeoutError that a watch raises for inactivity. */
function timeoutOr(err: unknown): unknown {
  const code = (err as { code?: string } | undefined)?.code;
  if (code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT')
    return new DOMException('The operation was aborted due to timeout', 'TimeoutError');
  return err;
}
