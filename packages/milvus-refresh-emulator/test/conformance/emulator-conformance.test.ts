/**
 * The emulator, seen through two independent official clients: the Node SDK 3.0.6 and pymilvus 3.0.2.
 * Both run the pymilvus documentation flow and the error cases, and must observe the same results.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { MilvusClient } from '@zilliz/milvus2-sdk-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type MilvusEmulator, OffsetClock, startEmulator } from '../../src/index.js';
import { makeTestPki } from '../support/certs.js';
import { PyMilvus } from '../support/pymilvus.js';

const TWO_POW_53 = 2n ** 53n;
const SPEC = {
  format: 'parquet',
  extfs: {
    cloud_provider: 'aws',
    region: 'us-west-2',
    access_key_id: 'AKIA-SECRET-ID',
    access_key_value: 'very-secret-key',
  },
};
const SPEC_JSON = JSON.stringify(SPEC);

interface Job {
  job_id: string;
  collection_name: string;
  state: string;
  progress: number;
  reason: string;
  external_source: string;
  external_spec: string | null;
  start_time: string;
  end_time: string;
}

type Outcome<T> = { ok: true; value: T } | { ok: false; code: number | null; message: string };

/** One client's view, normalised so Node and Python answers compare directly. */
interface Client {
  name: string;
  refresh(name: string, extra?: { source?: string; spec?: string; db?: string }): Promise<Outcome<string>>;
  progress(jobId: string): Promise<Outcome<Job>>;
  list(name: string, db?: string): Promise<Outcome<Job[]>>;
}

function nodeJob(j: Record<string, unknown>): Job {
  return {
    job_id: String(j.job_id),
    collection_name: String(j.collection_name),
    state: String(j.state),
    progress: Number(j.progress),
    reason: String(j.reason),
    external_source: String(j.external_source),
    external_spec: typeof j.external_spec === 'string' ? j.external_spec : null,
    start_time: String(j.start_time),
    end_time: String(j.end_time),
  };
}

function nodeOutcome<T>(res: { status?: { code?: number; reason?: string } }, value: () => T): Outcome<T> {
  if (!res.status) return { ok: false, code: null, message: 'no status in response' };
  if (res.status.code !== 0) return { ok: false, code: res.status.code ?? null, message: res.status.reason ?? '' };
  return { ok: true, value: value() };
}

function nodeClient(sdk: MilvusClient): Client {
  return {
    name: 'node-sdk',
    refresh: async (name, extra = {}) => {
      const res = await sdk.refreshExternalCollection({
        collection_name: name,
        ...(extra.source !== undefined ? { external_source: extra.source } : {}),
        ...(extra.spec !== undefined ? { external_spec: extra.spec } : {}),
        ...(extra.db ? { db_name: extra.db } : {}),
      });
      return nodeOutcome(res, () => String(res.job_id));
    },
    progress: async (jobId) => {
      const res = await sdk.getRefreshExternalCollectionProgress({ job_id: jobId });
      return nodeOutcome(res, () => nodeJob(res.job_info as unknown as Record<string, unknown>));
    },
    list: async (name, db) => {
      const res = await sdk.listRefreshExternalCollectionJobs({
        collection_name: name,
        ...(db ? { db_name: db } : {}),
      });
      return nodeOutcome(res, () => (res.jobs as unknown as Record<string, unknown>[]).map(nodeJob));
    },
  };
}

function pyClient(py: PyMilvus): Client {
  const outcome = async <T>(cmd: Record<string, unknown>, map: (r: never) => T): Promise<Outcome<T>> => {
    const a = await py.call(cmd);
    return a.ok ? { ok: true, value: map(a.result as never) } : { ok: false, code: a.code, message: a.message };
  };
  return {
    name: 'pymilvus',
    refresh: (name, extra = {}) =>
      outcome(
        {
          op: 'refresh',
          collection_name: name,
          external_source: extra.source ?? '',
          external_spec: extra.spec ?? '',
          db_name: extra.db ?? '',
        },
        (r: { job_id: string; job_id_type: string }) => {
          expect(r.job_id_type).toBe('int');
          return r.job_id;
        },
      ),
    progress: (jobId) => outcome({ op: 'progress', job_id: jobId }, (r: Job & { job_id_type: string }) => pyJob(r)),
    list: (name, db) =>
      outcome({ op: 'list', collection_name: name, db_name: db ?? '' }, (r: (Job & { job_id_type: string })[]) =>
        r.map(pyJob),
      ),
  };
}

/** pymilvus hands job ids out as Python ints; the driver reports the type and the exact decimal. */
function pyJob({ job_id_type, ...job }: Job & { job_id_type: string }): Job {
  expect(job_id_type).toBe('int');
  return job;
}

function ok<T>(o: Outcome<T>): T {
  if (!o.ok) throw new Error(`expected success, got code ${o.code}: ${o.message}`);
  return o.value;
}

/** A client whose background Connect may fail (bad credentials, untrusted server) without an unhandled rejection. */
function sdkClient(config: ConstructorParameters<typeof MilvusClient>[0]): MilvusClient {
  const client = new MilvusClient(config);
  (client as unknown as { connectPromise?: Promise<unknown> }).connectPromise?.catch(() => undefined);
  return client;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The documentation loop: poll until terminal, collecting "state: progress%". */
async function pollUntilDone(client: Client, jobId: string): Promise<{ lines: string[]; last: Job }> {
  const lines: string[] = [];
  for (let i = 0; i < 200; i++) {
    const job = ok(await client.progress(jobId));
    lines.push(`${job.state}: ${job.progress}%`);
    if (job.state === 'RefreshCompleted' || job.state === 'RefreshFailed') return { lines, last: job };
    await sleep(150);
  }
  throw new Error(`job ${jobId} did not finish`);
}

const ORDER = ['RefreshPending', 'RefreshInProgress', 'RefreshCompleted'];

describe('Milvus emulator conformance (Node SDK 3.0.6 and pymilvus 3.0.2)', () => {
  let emu: MilvusEmulator;
  let sdk: MilvusClient;
  let py: PyMilvus;
  let clients: Client[];

  beforeAll(async () => {
    emu = await startEmulator({ timings: { job: { durationMs: 1500, pendingMs: 300 } } });
    emu.seedCollection({ name: 'products', source: 's3://lake/products/', spec: SPEC });
    emu.seedCollection({ name: 'orders', source: 's3://lake/orders/', spec: SPEC });
    emu.seedCollection({ name: 'plain', external: false });
    emu.seedCollection({ name: 'deferred' });
    emu.seedCollection({ name: 'flaky', source: 's3://lake/flaky/', spec: SPEC });
    emu.setJobBehaviour('flaky', {
      failAtPercent: 40,
      failReason: 'worker failure 1/1: no such key lake/flaky/part-0.parquet',
    });
    sdk = sdkClient({ address: emu.address });
    py = new PyMilvus(inject('python'));
    await py.ok({ op: 'connect', uri: `http://${emu.address}` });
    clients = [nodeClient(sdk), pyClient(py)];
  });

  afterAll(async () => {
    py?.close();
    await sdk?.closeConnection();
    await emu?.close();
  });

  it.each([0, 1])('runs the documentation flow with client %i: refresh, poll to RefreshCompleted, list', async (i) => {
    const client = clients[i]!;
    const jobId = ok(await client.refresh('products'));
    expect(BigInt(jobId)).toBeGreaterThan(TWO_POW_53);
    const { lines, last } = await pollUntilDone(client, jobId);
    expect(lines.at(-1)).toBe('RefreshCompleted: 100%');
    expect(lines.length).toBeGreaterThan(2);
    let previous = { state: 0, progress: 0 };
    for (const line of lines) {
      const [state, pct] = line.split(': ') as [string, string];
      const current = { state: ORDER.indexOf(state), progress: Number.parseInt(pct, 10) };
      expect(current.state).toBeGreaterThanOrEqual(previous.state);
      expect(current.progress).toBeGreaterThanOrEqual(previous.progress);
      if (state !== 'RefreshCompleted') expect(current.progress).toBeLessThanOrEqual(99);
      previous = current;
    }
    expect(last.job_id).toBe(jobId);
    expect(Number(last.end_time)).toBeGreaterThan(Number(last.start_time));
    const jobs = ok(await client.list('products'));
    expect(jobs[0]).toEqual(last);
  });

  it('gives both clients the same job, with ids above 2^53 that round-trip exactly', async () => {
    const [node, python] = clients as [Client, Client];
    const fromNode = ok(await node.refresh('orders'));
    await sleep(100);
    const seenByPython = ok(await python.progress(fromNode));
    const seenByNode = ok(await node.progress(fromNode));
    expect(seenByPython.job_id).toBe(fromNode);
    expect(seenByNode.job_id).toBe(fromNode);
    expect(BigInt(seenByPython.job_id)).toBeGreaterThan(TWO_POW_53);
    await pollUntilDone(node, fromNode);
    const fromPython = ok(await python.refresh('orders'));
    expect(BigInt(fromPython)).toBeGreaterThan(BigInt(fromNode));
    await sleep(100);
    expect(ok(await node.progress(fromPython)).job_id).toBe(fromPython);
    await pollUntilDone(python, fromPython);
    const nodeList = ok(await node.list('orders'));
    const pyList = ok(await python.list('orders'));
    expect(nodeList.map((j) => j.job_id)).toEqual([fromPython, fromNode]);
    expect(pyList).toEqual(nodeList);
  });

  it.each([0, 1])(
    'client %i: a duplicate refresh during an active job is rejected with "in progress"; after it ends a new one is accepted',
    async (i) => {
      const client = clients[i]!;
      const first = ok(await client.refresh('products'));
      const second = await client.refresh('products');
      expect(second.ok).toBe(false);
      if (!second.ok) {
        expect(second.message).toContain('in progress');
        expect(second.message).toContain(first);
      }
      await pollUntilDone(client, first);
      const third = ok(await client.refresh('products'));
      expect(BigInt(third)).toBeGreaterThan(BigInt(first));
      await pollUntilDone(client, third);
    },
  );

  it('persists a job only after the RPC returned: "not found" for a moment, and a second refresh in that window is lost (milvus#49231)', async () => {
    const [node, python] = clients as [Client, Client];
    emu.seedCollection({ name: 'racy', source: 's3://lake/racy/', spec: SPEC });
    emu.setTimings({ persistDelayMs: 800 });
    try {
      const first = ok(await node.refresh('racy'));
      const early = await python.progress(first);
      expect(early).toEqual({ ok: false, code: 1100, message: `refresh job ${first} not found: invalid parameter` });
      const second = ok(await python.refresh('racy')); // the duplicate check cannot see the unpersisted job
      expect(BigInt(second)).toBeGreaterThan(BigInt(first));
      await sleep(1000);
      expect(ok(await python.progress(first)).state).toMatch(/^Refresh(Pending|InProgress)$/);
      expect(await node.progress(second)).toEqual({
        ok: false,
        code: 1100,
        message: `refresh job ${second} not found: invalid parameter`,
      });
      expect(ok(await node.list('racy')).map((j) => j.job_id)).toEqual([first]);
      await pollUntilDone(node, first);
      expect((await python.progress(second)).ok).toBe(false);
    } finally {
      emu.setTimings({ persistDelayMs: 0 });
    }
  });

  it('reports a failed job with its reason and the progress it had reached, to both clients', async () => {
    const [node, python] = clients as [Client, Client];
    const jobId = ok(await node.refresh('flaky'));
    const { last } = await pollUntilDone(python, jobId);
    expect(last.state).toBe('RefreshFailed');
    expect(last.reason).toBe('worker failure 1/1: no such key lake/flaky/part-0.parquet');
    expect(last.progress).toBe(40);
    expect(ok(await node.progress(jobId))).toEqual(last);
  });

  const errorCases: { title: string; run: (c: Client) => Promise<Outcome<unknown>>; code: number; fragment: string }[] =
    [
      {
        title: 'unknown collection',
        run: (c) => c.refresh('missing_collection'),
        code: 100,
        fragment: 'collection not found[database=default][collection=missing_collection]',
      },
      {
        title: 'ordinary collection',
        run: (c) => c.refresh('plain'),
        code: 1100,
        fragment: 'collection plain is not an external collection',
      },
      {
        title: 'source without spec',
        run: (c) => c.refresh('products', { source: 's3://lake/other/' }),
        code: 1100,
        fragment: 'must be both provided or both omitted',
      },
      {
        title: 'scheme not allowed',
        run: (c) => c.refresh('products', { source: 'file:///tmp/data/', spec: SPEC_JSON }),
        code: 1100,
        fragment: 'scheme "file" is not allowed',
      },
      {
        title: 'cloud_provider missing',
        run: (c) =>
          c.refresh('products', {
            source: 's3://lake/p/',
            spec: JSON.stringify({ format: 'parquet', extfs: { region: 'us-east-1', anonymous: 'true' } }),
          }),
        code: 1101,
        fragment: 'cloud_provider is required',
      },
      {
        title: 'boolean not a string',
        run: (c) =>
          c.refresh('products', {
            source: 's3://lake/p/',
            spec: JSON.stringify({ extfs: { cloud_provider: 'aws', region: 'x', anonymous: 'yes' } }),
          }),
        code: 1100,
        fragment: 'must be "true" or "false"',
      },
      {
        title: 'deferred collection without override',
        run: (c) => c.refresh('deferred'),
        code: 1100,
        fragment: 'has no persisted external_source/external_spec',
      },
      {
        title: 'invalid collection name',
        run: (c) => c.refresh('9lives'),
        code: 1100,
        fragment: 'the first character of a collection name must be an underscore or letter',
      },
      {
        title: 'unknown job id',
        run: (c) => c.progress('9223372036854775807'),
        code: 1100,
        fragment: 'refresh job 9223372036854775807 not found',
      },
      {
        title: 'listing an ordinary collection',
        run: (c) => c.list('plain'),
        code: 1100,
        fragment: 'is not an external collection',
      },
    ];

  it.each(errorCases)(
    'rejects $title with the same code and message for both clients',
    async ({ run, code, fragment }) => {
      const [a, b] = await Promise.all(clients.map(run));
      expect(a!.ok).toBe(false);
      expect(b!.ok).toBe(false);
      if (a!.ok || b!.ok) return;
      expect(a!.code).toBe(code);
      expect(a!.message).toContain(fragment);
      expect(b).toEqual(a);
    },
  );

  it('redacts external_spec in job info and DescribeCollection, for both clients', async () => {
    const jobs = ok(await clients[1]!.list('products'));
    expect(jobs.length).toBeGreaterThan(0);
    for (const job of [...jobs, ...ok(await clients[0]!.list('products'))]) {
      expect(job.external_spec).toContain('"access_key_id":"***"');
      expect(job.external_spec).not.toContain('very-secret-key');
      expect(job.external_spec).not.toContain('AKIA-SECRET-ID');
    }
    const described = await sdk.describeCollection({ collection_name: 'products' });
    expect(JSON.stringify(described)).not.toContain('very-secret-key');
    const pyDescribed = await py.ok<Record<string, unknown>>({ op: 'describe', collection_name: 'products' });
    expect(String(pyDescribed.external_spec)).toContain('"access_key_value":"***"');
    expect(JSON.stringify(pyDescribed)).not.toContain('very-secret-key');
  });

  it('stores a source/spec override on the collection only when the job succeeds', async () => {
    const node = clients[0]!;
    emu.seedCollection({ name: 'moving', source: 's3://lake/v1/', spec: SPEC });
    emu.setJobBehaviour('moving', { failAtPercent: 10, failReason: 'explore external files failed: access denied' });
    const failed = ok(await node.refresh('moving', { source: 's3://lake/v2/', spec: SPEC_JSON }));
    expect((await pollUntilDone(node, failed)).last.state).toBe('RefreshFailed');
    expect(ok(await node.progress(failed)).external_source).toBe('s3://lake/v2/');
    let described = await py.ok<Record<string, unknown>>({ op: 'describe', collection_name: 'moving' });
    expect(described.external_source).toBe('s3://lake/v1/');
    emu.setJobBehaviour('moving', undefined);
    const succeeded = ok(await node.refresh('moving', { source: 's3://lake/v2/', spec: SPEC_JSON }));
    expect((await pollUntilDone(node, succeeded)).last.state).toBe('RefreshCompleted');
    described = await py.ok<Record<string, unknown>>({ op: 'describe', collection_name: 'moving' });
    expect(described.external_source).toBe('s3://lake/v2/');
    // A later refresh without arguments uses the stored pair.
    const reuse = ok(await node.refresh('moving'));
    await sleep(100);
    expect(ok(await node.progress(reuse)).external_source).toBe('s3://lake/v2/');
  });

  it('serves a database other than default; an empty name lists every job of every database, newest first', async () => {
    const created = await sdk.createDatabase({ db_name: 'analytics' });
    expect(created.error_code).toBe('Success');
    const dbs = await sdk.listDatabases();
    expect(dbs.db_names).toContain('analytics');
    const pyAnalytics = new PyMilvus(inject('python'));
    try {
      await pyAnalytics.ok({ op: 'connect', uri: `http://${emu.address}`, db_name: 'analytics' });
      await pyAnalytics.ok({
        op: 'create_external',
        collection_name: 'events',
        external_source: 's3://lake/events/',
        external_spec: SPEC_JSON,
      });
      const jobId = ok(await pyClient(pyAnalytics).refresh('events'));
      // Unknown in the default database, known in analytics.
      const wrongDb = await clients[0]!.list('events');
      expect(wrongDb.ok).toBe(false);
      const inDb = ok(await clients[0]!.list('events', 'analytics'));
      expect(inDb.map((j) => j.job_id)).toEqual([jobId]);
      const everything = ok(await clients[0]!.list(''));
      expect(everything[0]!.job_id).toBe(jobId);
      expect(new Set(everything.map((j) => j.collection_name))).toEqual(
        new Set(['products', 'orders', 'racy', 'flaky', 'moving', 'events']),
      );
      const starts = everything.map((j) => Number(j.start_time));
      expect([...starts].sort((x, y) => y - x)).toEqual(starts);
      // Same jobs in the same order (progress of running jobs moves between the two calls).
      const ids = (jobs: Job[]): string[] => jobs.map((j) => `${j.job_id}/${j.collection_name}/${j.start_time}`);
      expect(ids(ok(await clients[1]!.list('')))).toEqual(ids(everything));
    } finally {
      pyAnalytics.close();
    }
  });

  it('creates an external collection through pymilvus and describes it through the Node SDK', async () => {
    await py.ok({
      op: 'create_external',
      collection_name: 'from_py',
      external_source: 's3://lake/from_py/',
      external_spec: SPEC_JSON,
    });
    const d = await sdk.describeCollection({ collection_name: 'from_py' });
    expect(d.status.error_code).toBe('Success');
    const schema = d.schema as unknown as {
      external_source: string;
      external_spec: string;
      fields: { name: string; external_field: string; is_primary_key: boolean }[];
    };
    expect(schema.external_source).toBe('s3://lake/from_py/');
    expect(schema.fields.find((f) => f.is_primary_key)?.name).toBe('__virtual_pk__');
    expect(schema.fields.find((f) => f.name === 'embedding')?.external_field).toBe('embedding');
  });

  it('completes the pymilvus documentation script', async () => {
    // Asynchronous: the emulator answers from this very process.
    const script = join(import.meta.dirname, 'doc_example.py');
    const { stdout, stderr } = await promisify(execFile)(
      inject('python'),
      [script, '--uri', `http://${emu.address}`, '--collection', 'products', '--interval', '0.2'],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(stderr).toBe('');
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^Refresh job started: \d{17,}$/);
    expect(lines).toContain('RefreshCompleted: 100%');
    expect(lines.some((l) => /^RefreshInProgress: \d+%$/.test(l))).toBe(true);
    const jobId = lines[0]!.split(': ')[1]!;
    expect(lines).toContain(`Job ${jobId}: RefreshCompleted (100%)`);
  });
});

describe('emulator authentication and TLS (both clients)', () => {
  it('keeps a job with a transient planning failure Pending with a reason, fails it at the job timeout, and forgets it after retention', async () => {
    // Its own emulator: the clock jumps a day forward.
    const clock = new OffsetClock();
    const own = await startEmulator({ clock });
    const sdk2 = sdkClient({ address: own.address });
    const py2 = new PyMilvus(inject('python'));
    await py2.ok({ op: 'connect', uri: `http://${own.address}` });
    const [node, python] = [nodeClient(sdk2), pyClient(py2)];
    own.seedCollection({ name: 'unreachable', source: 's3://lake/unreachable/', spec: SPEC });
    own.setJobBehaviour('unreachable', { stuck: true, transientReason: 'NoSuchBucket: lake' });
    try {
      const jobId = ok(await node.refresh('unreachable'));
      clock.advance(30 * 60_000);
      const pending = ok(await python.progress(jobId));
      expect(pending).toMatchObject({
        state: 'RefreshPending',
        progress: 0,
        reason: 'NoSuchBucket: lake',
        end_time: '0',
      });
      clock.advance(31 * 60_000); // past dataCoord.externalCollectionJobTimeout (1 h from start_time)
      const failed = ok(await node.progress(jobId));
      expect(failed).toMatchObject({ state: 'RefreshFailed', reason: 'timeout, last failure: NoSuchBucket: lake' });
      expect(Number(failed.end_time) - Number(failed.start_time)).toBe(3_600_000);
      expect(ok(await python.progress(jobId))).toEqual(failed);
      clock.advance(24 * 3_600_000 + 1000); // past dataCoord.externalCollectionJobRetention after end_time
      expect(await python.progress(jobId)).toEqual({
        ok: false,
        code: 1100,
        message: `refresh job ${jobId} not found: invalid parameter`,
      });
      expect(ok(await node.list('unreachable'))).toEqual([]);
    } finally {
      py2.close();
      await sdk2.closeConnection();
      await own.close();
    }
  });

  it('accepts user:password and API-key tokens and rejects everything else with UNAUTHENTICATED', async () => {
    const emu = await startEmulator({ auth: { users: { root: 'Milvus' }, apiKeys: ['k-123'] } });
    emu.seedCollection({ name: 'products', source: 's3://lake/products/', spec: SPEC });
    try {
      for (const token of ['root:Milvus', 'k-123']) {
        const sdk = sdkClient({ address: emu.address, token });
        expect(ok(await nodeClient(sdk).list('products'))).toEqual([]);
        await sdk.closeConnection();
        const py = new PyMilvus(inject('python'));
        await py.ok({ op: 'connect', uri: `http://${emu.address}`, token });
        expect(await py.ok({ op: 'list', collection_name: 'products' })).toEqual([]);
        py.close();
      }
      const bad = sdkClient({ address: emu.address, username: 'root', password: 'wrong' });
      await expect(bad.listRefreshExternalCollectionJobs({ collection_name: 'products' })).rejects.toThrow(
        /auth check failure, please check username and password are correct/,
      );
      await bad.closeConnection();
      const anonymous = sdkClient({ address: emu.address });
      await expect(anonymous.listRefreshExternalCollectionJobs({ collection_name: 'products' })).rejects.toThrow(
        /missing authorization in header/,
      );
      await anonymous.closeConnection();
      // pymilvus replaces the server's message with its own connection error, as it does against Milvus.
      const py = new PyMilvus(inject('python'));
      const denied = await py.call({ op: 'connect', uri: `http://${emu.address}`, token: 'root:wrong' });
      expect(denied).toMatchObject({
        ok: false,
        code: 2,
        message: expect.stringContaining('Fail connecting to server'),
      });
      py.close();
      expect(emu.rpcs('Connect').at(-1)?.outcome).toBe(
        'UNAUTHENTICATED auth check failure, please check username and password are correct',
      );
      expect(emu.rpcs('RefreshExternalCollection')).toHaveLength(0);
    } finally {
      await emu.close();
    }
  });

  it('serves TLS that both clients verify against the CA', async () => {
    const pki = makeTestPki(['milvus.test']);
    const emu = await startEmulator({ tls: { cert: pki.serverCert, key: pki.serverKey } });
    emu.seedCollection({ name: 'products', source: 's3://lake/products/', spec: SPEC });
    try {
      const sdk = sdkClient({
        address: `https://${emu.address}`,
        tls: { rootCert: Buffer.from(pki.caCert), serverName: 'milvus.test' },
      });
      const jobId = ok(await nodeClient(sdk).refresh('products'));
      expect(BigInt(jobId)).toBeGreaterThan(TWO_POW_53);
      await sdk.closeConnection();
      const py = new PyMilvus(inject('python'));
      await py.ok({
        op: 'connect',
        uri: `https://${emu.address}`,
        server_pem_path: pki.caCertPath,
        server_name: 'milvus.test',
      });
      await sleep(150);
      expect((await py.ok<Job>({ op: 'progress', job_id: jobId })).job_id).toBe(jobId);
      py.close();
      // Without the CA the server is not trusted.
      const untrusted = sdkClient({ address: `https://${emu.address}`, timeout: 3000, maxRetries: 0 });
      await expect(
        untrusted.listRefreshExternalCollectionJobs({ collection_name: 'products', timeout: 3000 }),
      ).rejects.toThrow();
      await untrusted.closeConnection();
    } finally {
      await emu.close();
    }
  });
});
