/**
 * The operator's own Kubernetes client (issue 10) against the real kube-apiserver: the in-cluster
 * configuration with a token file that rotates, an exec credential plugin, and the leader Lease's
 * resourceVersion conflicts; gzip-compressed answers, as client-go asks for them, and the kubeconfig's
 * disable-compression.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { KubeApiError, KubeHttp } from '../../src/adapters/kube-http.js';
import { inCluster, loadKubeConfig } from '../../src/adapters/kubeconfig.js';
import { HttpLeaseClient } from '../../src/adapters/lease.js';
import { ConflictError } from '../../src/reconcile/ports.js';
import { ApiRecorder } from '../support/api-recorder.js';
import { TestEnv } from '../support/env.js';

const env = new TestEnv('kubeclient');
const work = mkdtempSync(join(tmpdir(), 'ecr-kube-client-'));
let server: URL;
let ca: Buffer;
let token: string;

/** A kubeconfig of one cluster and one user, written in the work directory; returns its path. */
function writeKubeconfig(name: string, cluster: Record<string, unknown>, user: Record<string, unknown>): string {
  const file = join(work, name);
  writeFileSync(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster }],
      users: [{ name: 'u', user }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'x',
    }),
  );
  return file;
}

describe("the operator's Kubernetes client against kube-apiserver", () => {
  beforeAll(async () => {
    await env.setUp();
    const kc = parse(readFileSync(env.kubeconfig, 'utf8')) as {
      clusters: { cluster: { server: string; 'certificate-authority-data': string } }[];
      users: { user: { token: string } }[];
    };
    server = new URL(kc.clusters[0]!.cluster.server);
    ca = Buffer.from(kc.clusters[0]!.cluster['certificate-authority-data'], 'base64');
    token = kc.users[0]!.user.token;
  });

  afterAll(async () => {
    await env.tearDown();
    rmSync(work, { recursive: true, force: true });
  });

  it('in-cluster: reads the ServiceAccount files, and after a 401 reads the rotated token at once', async () => {
    const sa = join(work, 'sa');
    rmSync(sa, { recursive: true, force: true });
    mkdirSync(sa);
    writeFileSync(join(sa, 'ca.crt'), ca);
    writeFileSync(join(sa, 'token'), 'not-a-valid-token');
    const http = new KubeHttp(
      inCluster({ KUBERNETES_SERVICE_HOST: server.hostname, KUBERNETES_SERVICE_PORT: server.port }, sa),
    );
    const path = `/api/v1/namespaces/${env.namespace}`;
    const err = await http.json('GET', path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect((err as KubeApiError).code).toBe(401);
    // The kubelet rotates the projected token: the cached one is refused, the file is read again, and the
    // same request goes through with the new token.
    writeFileSync(join(sa, 'token'), `${token}\n`);
    await expect(http.json<{ metadata: { name: string } }>('GET', path)).resolves.toMatchObject({
      metadata: { name: env.namespace },
    });
    await http.close();
  });

  it('exec plugin: the API server accepts the token it hands out; Lease writes with a stale resourceVersion conflict', async () => {
    const plugin = join(work, 'plugin.sh');
    writeFileSync(
      plugin,
      `#!/bin/sh\nprintf '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"%s"}}' "$(cat "$TOKEN_FILE")"\n`,
    );
    chmodSync(plugin, 0o755);
    writeFileSync(join(work, 'token-for-plugin'), token);
    const file = writeKubeconfig(
      'kubeconfig',
      { server: server.origin, 'certificate-authority-data': ca.toString('base64') },
      {
        exec: {
          apiVersion: 'client.authentication.k8s.io/v1beta1',
          command: './plugin.sh',
          env: [{ name: 'TOKEN_FILE', value: join(work, 'token-for-plugin') }],
        },
      },
    );
    const http = new KubeHttp(loadKubeConfig(file));
    const leases = new HttpLeaseClient(http);
    const ns = env.namespace;
    expect(await leases.read(ns, 'le')).toBeUndefined();
    await leases.create({ metadata: { name: 'le', namespace: ns }, spec: { holderIdentity: 'a' } });
    await expect(
      leases.create({ metadata: { name: 'le', namespace: ns }, spec: { holderIdentity: 'b' } }),
    ).rejects.toBeInstanceOf(ConflictError);
    const read = (await leases.read(ns, 'le'))!;
    expect(read.spec?.holderIdentity).toBe('a');
    await leases.replace({ ...read, spec: { ...read.spec, holderIdentity: 'c' } });
    await expect(leases.replace({ ...read, spec: { ...read.spec, holderIdentity: 'd' } })).rejects.toBeInstanceOf(
      ConflictError,
    );
    expect((await leases.read(ns, 'le'))?.spec?.holderIdentity).toBe('c');
    await http.close();
  });

  it('asks for gzip: a list of 200 KB arrives compressed and reads the same; disable-compression turns it off', async () => {
    const ns = env.namespace;
    const direct = new KubeHttp(loadKubeConfig(env.kubeconfig));
    // 48 ConfigMaps of 4 KiB: a list answer over the API server's 128 KiB compression threshold.
    await Promise.all(
      Array.from({ length: 48 }, (_, i) =>
        direct.json('POST', `/api/v1/namespaces/${ns}/configmaps`, {
          metadata: { name: `big-${i}`, labels: { gzip: 'test' } },
          data: { blob: `${i}`.padEnd(4096, 'x') },
        }),
      ),
    );
    const recorder = await ApiRecorder.start(inject('apiServer'), readFileSync(inject('caCertPath'), 'utf8'));
    try {
      const list = async (disableCompression: boolean): Promise<string[]> => {
        const file = writeKubeconfig(
          `kubeconfig-gzip-${disableCompression}`,
          {
            server: recorder.url,
            'insecure-skip-tls-verify': true,
            ...(disableCompression ? { 'disable-compression': true } : {}),
          },
          { token },
        );
        const http = new KubeHttp(loadKubeConfig(file));
        try {
          const answer = await http.json<{ items: { metadata: { name: string }; data: { blob: string } }[] }>(
            'GET',
            `/api/v1/namespaces/${ns}/configmaps?labelSelector=gzip%3Dtest`,
          );
          expect(answer.items.every((cm) => cm.data.blob.length === 4096)).toBe(true);
          return answer.items.map((cm) => cm.metadata.name).sort();
        } finally {
          await http.close();
        }
      };
      const compressed = await list(false);
      const plain = await list(true);
      expect(compressed).toHaveLength(48);
      expect(plain).toEqual(compressed);
      const lists = recorder.requests.filter((r) => r.verb === 'list' && r.resource === 'configmaps');
      expect(lists.map((r) => r.contentEncoding ?? 'identity')).toEqual(['gzip', 'identity']);
      // 48 x 4 KiB of one letter: the compressed answer is a small fraction of the plain one.
      expect(lists[0]!.bodyBytes * 10).toBeLessThan(lists[1]!.bodyBytes);
      expect(lists[1]!.bodyBytes).toBeGreaterThan(128 * 1024);
    } finally {
      await recorder.close();
      await direct.close();
    }
  });
});
