/**
 * The operator's hot API paths (status patches, reads, events, the list and the watch) without WHATWG
 * fetch. client-node 2.0.1 sends every request through undici's `fetch`, whose Request/Headers/
 * ReadableStream machinery cost about 2 ms of CPU per request here: more than the operator's own work per
 * status write. This sends the same requests through `dispatcher.request()` (undici's plain API, present on
 * every undici dispatcher) on the very dispatcher client-node configured (PooledKubeConfig's pooled HTTP/2
 * connection), with client-node's own authentication (`applySecurityAuthentication`), and raises client-node's
 * `ApiException`, so callers cannot tell the difference. Without a dispatcher (a plain-http cluster) it
 * reports itself unavailable and callers keep using client-node.
 */
import { STATUS_CODES } from 'node:http';
import { ApiException, HttpMethod, type KubeConfig, RequestContext } from '@kubernetes/client-node';

/** undici's Dispatcher, as far as it is used here. */
interface Dispatcher {
  request(options: {
    origin: string;
    path: string;
    method: string;
    headers: Record<string, string>;
    body?: string;
    signal?: AbortSignal;
    headersTimeout?: number;
    bodyTimeout?: number;
  }): Promise<{
    statusCode: number;
    headers: Record<string, string | string[] | undefined>;
    body: NodeJS.ReadableStream & { text(): Promise<string>; destroy(err?: Error): void };
  }>;
}

interface Auth {
  origin: string;
  /** The server URL's path (a proxy prefix), without a trailing slash. */
  prefix: string;
  headers: Record<string, string>;
  dispatcher: Dispatcher;
  at: number;
}

/** client-node's Watch callback and done contract (what ListWatch calls). */
export type WatchCallback = (phase: string, apiObj: unknown, watchObj?: unknown) => void;
export type WatchDone = (err: unknown) => void;

export class KubeHttp {
  private auth: Auth | undefined;
  private authPromise: Promise<Auth | undefined> | undefined;
  private unavailable = false;

  constructor(
    private readonly kc: KubeConfig,
    /** Authentication (headers, dispatcher) is worked out again after this long: tokens rotate. */
    private readonly authTtlMs = 10_000,
  ) {}

  /** The headers and dispatcher of the current context; undefined when there is no dispatcher. */
  private async resolveAuth(): Promise<Auth | undefined> {
    if (this.unavailable) return undefined;
    const cached = this.auth;
    if (cached && Date.now() - cached.at < this.authTtlMs) return cached;
    this.authPromise ??= (async () => {
      try {
        const server = this.kc.getCurrentCluster()?.server;
        if (!server) return undefined;
        const url = new URL(server);
        const ctx = new RequestContext(server, HttpMethod.GET);
        await this.kc.applySecurityAuthentication(ctx);
        const dispatcher = ctx.getDispatcher() as unknown as Dispatcher | undefined;
        if (!dispatcher || typeof dispatcher.request !== 'function') {
          this.unavailable = true;
          return undefined;
        }
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(ctx.getHeaders() as unknown as Record<string, string>)) headers[k] = v;
        this.auth = {
          origin: url.origin,
          prefix: url.pathname.replace(/\/$/, ''),
          headers,
          dispatcher,
          at: Date.now(),
        };
        return this.auth;
      } finally {
        this.authPromise = undefined;
      }
    })();
    return this.authPromise;
  }

  /** Whether requests can go this way (a dispatcher exists). */
  async available(): Promise<boolean> {
    return (await this.resolveAuth()) !== undefined;
  }

  /**
   * One request; resolves with the parsed JSON answer. Throws ApiException on an HTTP error status, and an
   * Error when this path is unavailable (check `available()` first).
   */
  async json<T>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const auth = await this.resolveAuth();
    if (!auth) throw new Error('no HTTP dispatcher for the API server');
    const res = await auth.dispatcher.request({
      origin: auth.origin,
      path: auth.prefix + path,
      method,
      headers: {
        ...auth.headers,
        accept: 'application/json',
        ...(body !== undefined ? { 'content-type': contentType } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.body.text();
    if (res.statusCode >= 300) {
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = String(v);
      throw new ApiException(res.statusCode, STATUS_CODES[res.statusCode] ?? 'HTTP error', parsed, headers);
    }
    return JSON.parse(text) as T;
  }

  /**
   * client-node's Watch.watch() contract over `dispatcher.request()`: `callback(type, object, event)` per
   * event, `done(err)` exactly once when the stream ends (null) or fails; an inactivity of `inactivityMs`
   * (no byte, not even a bookmark) ends it with a TimeoutError, which ListWatch answers by watching again
   * at once from the last resourceVersion. Resolves with an AbortController that ends the watch.
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
      const auth = await this.resolveAuth();
      if (!auth) throw new Error('no HTTP dispatcher for the API server');
      const url = new URL(auth.origin + auth.prefix + path);
      url.searchParams.set('watch', 'true');
      for (const [k, v] of Object.entries(queryParams))
        if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
          url.searchParams.set(k, String(v));
      const res = await auth.dispatcher.request({
        origin: auth.origin,
        path: url.pathname + url.search,
        method: 'GET',
        headers: { ...auth.headers, accept: 'application/json' },
        signal: controller.signal,
        headersTimeout: inactivityMs,
        bodyTimeout: inactivityMs,
      });
      if (res.statusCode !== 200) {
        res.body.destroy();
        const error = new Error(STATUS_CODES[res.statusCode] ?? 'Internal Server Error') as Error & {
          statusCode: number;
        };
        error.statusCode = res.statusCode;
        throw error;
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
            continue; // as client-node: a line that is not JSON is skipped
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
}

/** undici's body or headers timeout, as the TimeoutError that client-node's Watch raises for inactivity. */
function timeoutOr(err: unknown): unknown {
  const code = (err as { code?: string } | undefined)?.code;
  if (code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT')
    return new DOMException('The operation was aborted due to timeout', 'TimeoutError');
  return err;
}
