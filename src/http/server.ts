/** /healthz, /readyz and /metrics on node:http (controller-runtime serves the same paths). */
import type { Server } from 'node:http';
import type { Registry } from 'prom-client';
import { http } from '../util/node-http.js';

export interface Endpoints {
  registry?: Registry;
  /** Live: the process can do work. */
  healthy?: () => boolean;
  /** Ready: informer synced and watching (or waiting for leadership, which is a healthy state). */
  ready?: () => boolean;
}

/** Listens on `host:port` (port 0 picks one); resolves with the server and its port. */
export async function serve(bind: string, endpoints: Endpoints): Promise<{ server: Server; port: number }> {
  const [host, portText] = splitBind(bind);
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const reply = (code: number, body: string, type = 'text/plain; charset=utf-8'): void => {
      res.writeHead(code, { 'content-type': type });
      res.end(body);
    };
    if (path === '/healthz') {
      const ok = endpoints.healthy?.() ?? true;
      reply(ok ? 200 : 500, ok ? 'ok' : 'unhealthy');
    } else if (path === '/readyz') {
      const ok = endpoints.ready?.() ?? true;
      reply(ok ? 200 : 503, ok ? 'ok' : 'not ready');
    } else if (path === '/metrics' && endpoints.registry) {
      endpoints.registry.metrics().then(
        (text) => reply(200, text, endpoints.registry!.contentType),
        (err: Error) => reply(500, err.message),
      );
    } else {
      reply(404, 'not found');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(portText), host || undefined, () => resolve());
  });
  const address = server.address();
  return { server, port: typeof address === 'object' && address ? address.port : 0 };
}

/** ":8080" -> ["", "8080"]; "127.0.0.1:0" -> ["127.0.0.1", "0"]. */
export function splitBind(bind: string): [string, string] {
  const i = bind.lastIndexOf(':');
  if (i < 0 || !/^\d+$/.test(bind.slice(i + 1)))
    throw new Error(`bind address ${JSON.stringify(bind)} must be [host]:port`);
  return [bind.slice(0, i).replace(/^\[|\]$/g, ''), bind.slice(i + 1)];
}
