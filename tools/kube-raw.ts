/**
 * A minimal Kubernetes API client over one HTTP/2 connection (node:http2, bearer token, one CA): what the
 * benchmark uses to create objects quickly, to watch them, and as the "raw floor" writer, the least a
 * program can do to make the operator's status writes. No client-node, no cache, no retries.
 */
import http2 from 'node:http2';

export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: { metadata?: { name?: string; resourceVersion?: string }; [k: string]: unknown };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class RawKube {
  private session: http2.ClientHttp2Session | undefined;

  constructor(
    private readonly server: string,
    private readonly caPem: string | Buffer,
    private readonly token: string,
  ) {}

  private connect(): http2.ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const session = http2.connect(this.server, { ca: this.caPem });
    session.on('error', () => undefined); // surfaced by the requests
    session.unref();
    this.session = session;
    return session;
  }

  /** One request; resolves with the parsed JSON answer (throws ApiError on a status >= 300). */
  call<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const req = this.connect().request({
        ':method': method,
        ':path': path,
        authorization: `Bearer ${this.token}`,
        accept: 'application/json',
        ...(body !== undefined ? { 'content-type': contentType } : {}),
      });
      let status = 0;
      const chunks: Buffer[] = [];
      req.on('response', (headers) => (status = Number(headers[':status'])));
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('error', reject);
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (status >= 300) {
          reject(new ApiError(status, `${method} ${path}: HTTP ${status} ${text.slice(0, 300)}`));
          return;
        }
        try {
          resolve((text ? JSON.parse(text) : {}) as T);
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      });
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  }

  /** A GET whose answer is text (such as /metrics). */
  text(path: string): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const req = this.connect().request({ ':method': 'GET', ':path': path, authorization: `Bearer ${this.token}` });
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('error', reject);
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.end();
    });
  }

  /**
   * Watches `path` (a collection URL) from `resourceVersion`, calling `onEvent` per event, and re-watches
   * from the last version seen when the server ends the stream, until stop().
   */
  watch(path: string, resourceVersion: string, onEvent: (e: WatchEvent) => void): { stop(): void } {
    let stopped = false;
    let rv = resourceVersion;
    let current: http2.ClientHttp2Stream | undefined;
    const open = (): void => {
      if (stopped) return;
      const sep = path.includes('?') ? '&' : '?';
      const req = this.connect().request({
        ':method': 'GET',
        ':path': `${path}${sep}watch=true&allowWatchBookmarks=true&resourceVersion=${rv}&timeoutSeconds=1800`,
        authorization: `Bearer ${this.token}`,
        accept: 'application/json',
      });
      current = req;
      let buffered = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => {
        buffered += chunk;
        for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          if (!line.trim()) continue;
          const event = JSON.parse(line) as WatchEvent;
          if (event.object?.metadata?.resourceVersion) rv = event.object.metadata.resourceVersion;
          onEvent(event);
        }
      });
      const again = (): void => {
        if (!stopped) setTimeout(open, 200);
      };
      req.on('end', again);
      req.on('error', again);
      req.end();
    };
    open();
    return {
      stop: () => {
        stopped = true;
        current?.close();
      },
    };
  }

  close(): void {
    this.session?.close();
  }
}

/** Runs `fn(i)` for i in [0, n) with at most `concurrency` at once. */
export async function inParallel(n: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}
