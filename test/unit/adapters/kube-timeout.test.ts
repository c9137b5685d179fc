/** --kube-request-timeout: a request the API server never answers fails after the deadline (issue 11, defect 10). */
import { type Server, type Socket, createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeAdapter, KubeTimeoutError } from '../../../src/adapters/kube.js';
import { KubeHttp } from '../../../src/adapters/kube-http.js';
import { kubeConfigFromText } from '../../../src/adapters/kubeconfig.js';
import type { ExternalCollectionRefresh } from '../../../src/api/v1alpha1.js';
import type { Logger } from '../../../src/logger.js';

const log: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => log,
};

let server: Server;
const sockets: Socket[] = [];
let http: KubeHttp;

const resource = {
  apiVersion: 'milvus.io/v1alpha1',
  kind: 'ExternalCollectionRefresh',
  metadata: { name: 'r', namespace: 'ns', resourceVersion: '1' },
  spec: { milvus: { address: '127.0.0.1:19530' }, collectionName: 'c' },
} as unknown as ExternalCollectionRefresh;

describe('KubeAdapter against an API server that never answers', () => {
  beforeAll(async () => {
    server = createServer((s) => void sockets.push(s)); // accepts, reads, never answers
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    http = new KubeHttp(
      kubeConfigFromText(
        JSON.stringify({
          clusters: [{ name: 'c', cluster: { server: `http://127.0.0.1:${port}` } }],
          users: [{ name: 'u', user: { token: 'not-a-real-token' } }],
          contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
          'current-context': 'x',
        }),
        '/nowhere/kubeconfig',
      ),
    );
  });

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await http.close();
    await new Promise((r) => server.close(r));
  });

  const timeouts = [300];
  it.each(timeouts)('fails a status write, a read and a Secret read after %i ms', async (ms) => {
    const kube = new KubeAdapter(http, { cached: () => undefined, log, requestTimeoutMs: ms });
    for (const call of [
      () => kube.patchStatus(resource, { state: 'RefreshPending' }),
      () => kube.read('ns', 'r'),
      () => kube.secret('ns', 's'),
    ]) {
      const started = Date.now();
      const err = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      const took = Date.now() - started;
      expect(err).toBeInstanceOf(KubeTimeoutError);
      expect(String((err as Error).message)).toMatch(/did not answer .* within 0\.3 s/);
      expect(took).toBeGreaterThanOrEqual(ms - 20);
      expect(took).toBeLessThan(ms + 2_000);
    }
  });

  it('gives up on each event after the deadline, so a hung API server cannot stall the event queue', async () => {
    const calls: [string, number | 'dropped'][] = [];
    const warnings: string[] = [];
    const kube = new KubeAdapter(http, {
      cached: () => undefined,
      log: { ...log, warn: (m: string) => void warnings.push(m) },
      requestTimeoutMs: 300,
      onApiCall: (what, code) => void calls.push([what, code]),
    });
    const started = Date.now();
    for (const reason of ['A', 'B', 'C']) await kube.event(resource, 'Normal', reason, 'm'); // returns at once
    expect(Date.now() - started).toBeLessThan(100);
    while (kube.queuedEvents > 0 || calls.length < 3) {
      expect(Date.now() - started, 'the queue drains: 3 x 0.3 s, not forever').toBeLessThan(5_000);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(Date.now() - started).toBeGreaterThanOrEqual(3 * 300 - 60);
    expect(calls).toEqual([
      ['create_event', 0],
      ['create_event', 0],
      ['create_event', 0],
    ]);
    expect(warnings).toEqual(['Could not record event', 'Could not record event', 'Could not record event']);
  });

  it('keeps Warning events over Normal ones when the event queue is full', async () => {
    const failed: unknown[] = [];
    let dropped = 0;
    const kube = new KubeAdapter(http, {
      cached: () => undefined,
      log: { ...log, warn: (_m: string, fields?: Record<string, unknown>) => void failed.push(fields?.reason) },
      requestTimeoutMs: 100,
      maxQueuedEvents: 2,
      onApiCall: (_what, code) => void (code === 'dropped' && dropped++),
    });
    // N1 is being sent (the API server never answers: each event fails after 0.1 s, with its reason logged);
    // the queue holds two.
    const offered: ['Normal' | 'Warning', string][] = [
      ['Normal', 'N1'],
      ['Normal', 'N2'],
      ['Normal', 'N3'],
      ['Warning', 'W1'], // full: takes N2's place
      ['Normal', 'N4'], // full: dropped
      ['Warning', 'W2'], // full: takes N3's place
      ['Warning', 'W3'], // full of Warnings: dropped
    ];
    for (const [type, reason] of offered) await kube.event(resource, type, reason, 'm');
    const started = Date.now();
    while (kube.queuedEvents > 0 || failed.length < 3) {
      expect(Date.now() - started).toBeLessThan(5_000);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(failed).toEqual(['N1', 'W1', 'W2']);
    expect(dropped).toBe(4);
  });

  it('without a deadline the same write is still waiting after 1.5 s', async () => {
    const kube = new KubeAdapter(http, { cached: () => undefined, log });
    const outcome = await Promise.race([
      kube.patchStatus(resource, { state: 'RefreshPending' }).then(
        () => 'answered',
        () => 'failed',
      ),
      new Promise((r) => setTimeout(() => r('still waiting'), 1_500)),
    ]);
    expect(outcome).toBe('still waiting');
  });
});
