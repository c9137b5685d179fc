/**
 * A recording TLS proxy in front of kube-apiserver, on 127.0.0.1, speaking HTTP/2 (as kube-apiserver does)
 * and HTTP/1.1: a client pointed at it (its own token passes through untouched) is served by the real API
 * server, and every request is kept with the RBAC
 * attributes the API server authorizes it by (verb, API group, resource, subresource, namespace, name) and the
 * status code it got. What an audit log would show, without changing the API server's flags.
 */
import {
  type Http2SecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
  createSecureServer,
} from 'node:http2';
import { type IncomingMessage, type ServerResponse } from 'node:http';
import { request } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { makeTestPki } from './certs.js';

export interface RecordedRequest {
  method: string;
  path: string;
  verb: string;
  group: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
  code: number;
  /** The API server's message, for an error. */
  message?: string;
  /** The answer's Content-Encoding (gzip when the API server compressed it). */
  contentEncoding?: string;
  /** The answer's body as it crossed the wire (compressed, when it was), in bytes; counted as it passes. */
  bodyBytes: number;
}

/** RBAC request attributes of a resource request (k8s.io/apiserver's RequestInfoFactory, for what we use). */
export function requestAttributes(
  method: string,
  url: string,
): Omit<RecordedRequest, 'method' | 'path' | 'code' | 'message' | 'contentEncoding' | 'bodyBytes'> | undefined {
  const { pathname, searchParams } = new URL(url, 'https://x');
  const parts = pathname.split('/').filter(Boolean);
  let group: string;
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 3) [group, rest] = ['', parts.slice(2)];
  else if (parts[0] === 'apis' && parts.length >= 4) [group, rest] = [parts[1]!, parts.slice(3)];
  else return undefined; // discovery and other non-resource URLs
  let namespace = '';
  if (rest[0] === 'namespaces' && rest.length >= 3) [namespace, rest] = [rest[1]!, rest.slice(2)];
  const [resource = '', name = '', subresource = ''] = rest;
  const watch = searchParams.get('watch') === 'true' || searchParams.get('watch') === '1';
  const verb =
    method === 'GET'
      ? name
        ? 'get'
        : watch
          ? 'watch'
          : 'list'
      : ({ POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: name ? 'delete' : 'deletecollection' }[method] ??
        method.toLowerCase());
  return { verb, group, resource, subresource, namespace, name };
}

const HOP_BY_HOP = ['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'host', 'te'];

export class ApiRecorder {
  readonly requests: RecordedRequest[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly server: Http2SecureServer;
  private readonly target: URL;

  private constructor(
    upstream: string,
    private readonly upstreamCa: string,
  ) {
    this.target = new URL(upstream);
    const pki = makeTestPki(['localhost']);
    this.server = createSecureServer({ cert: pki.serverCert, key: pki.serverKey, allowHTTP1: true }, (req, res) =>
      this.forward(req, res),
    );
  }

  static async start(upstream: string, upstreamCa: string): Promise<ApiRecorder> {
    const recorder = new ApiRecorder(upstream, upstreamCa);
    recorder.server.on('connection', (socket: Socket) => {
      recorder.sockets.add(socket);
      socket.once('close', () => recorder.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => recorder.server.listen(0, '127.0.0.1', resolve));
    return recorder;
  }

  get url(): string {
    return `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private forward(req: IncomingMessage | Http2ServerRequest, response: ServerResponse | Http2ServerResponse): void {
    // The HTTP/2 compatibility API mirrors http's (writeHead, pipe, close): one code path for both.
    const res = response as ServerResponse;
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    // HTTP/2 pseudo-headers and HTTP/1.1 connection headers do not cross to the other protocol.
    const headers = Object.fromEntries(
      Object.entries(req.headers).filter(([k]) => !k.startsWith(':') && !HOP_BY_HOP.includes(k)),
    );
    const upstream = request(
      {
        host: this.target.hostname,
        port: this.target.port,
        method,
        path,
        headers: { ...headers, host: this.target.host },
        ca: this.upstreamCa,
      },
      (up) => {
        const attrs = requestAttributes(method, path);
        if (attrs) {
          const encoding = up.headers['content-encoding'];
          const recorded: RecordedRequest = {
            method,
            path,
            code: up.statusCode ?? 0,
            ...attrs,
            ...(encoding ? { contentEncoding: encoding } : {}),
            bodyBytes: 0,
          };
          this.requests.push(recorded);
          up.on('data', (chunk: Buffer) => (recorded.bodyBytes += chunk.length));
          // An error's Status message says who refused: RBAC ("... cannot create resource ...") or, say,
          // a namespace being deleted.
          if (recorded.code >= 400) {
            let body = '';
            up.on('data', (chunk: Buffer) => {
              if (body.length < 4096) body += chunk.toString();
            });
            up.on('end', () => {
              try {
                recorded.message = (JSON.parse(body) as { message?: string }).message ?? body;
              } catch {
                recorded.message = body;
              }
            });
          }
        }
        const back = Object.fromEntries(Object.entries(up.headers).filter(([k]) => !HOP_BY_HOP.includes(k)));
        res.writeHead(up.statusCode ?? 502, back);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    (req as NodeJS.ReadableStream).pipe(upstream);
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
