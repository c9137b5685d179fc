import { createRequire } from 'node:module';
import { describe, expect, it, vi } from 'vitest';
import { RawJobList, decodeLeanList, shareSdkDefinitions } from '../../../src/adapters/milvus-sdk.js';
import { exposeGc } from '../../support/gc.js';

const require = createRequire(import.meta.url);

interface Method {
  responseSerialize: (o: unknown) => Buffer;
  responseDeserialize: (b: Buffer) => unknown;
}

/** The SDK's own (un-patched) codec of ListRefreshExternalCollectionJobs. */
function sdkCodec(): Method {
  const sdk = require('@zilliz/milvus2-sdk-node') as { getGRPCService: (p: unknown, o: unknown) => unknown };
  const { LOADER_OPTIONS } = require('@zilliz/milvus2-sdk-node/dist/milvus/grpc/GrpcClient.js') as {
    LOADER_OPTIONS: Record<string, unknown>;
  };
  const service = sdk.getGRPCService({ serviceName: 'milvus.proto.milvus.MilvusService' }, LOADER_OPTIONS) as {
    service: Record<string, Method>;
  };
  return service.service.ListRefreshExternalCollectionJobs!;
}

const job = (i: number) => ({
  job_id: (470804829245014016n + BigInt(i)).toString(),
  collection_name: `c${i % 7}`,
  state: i % 3 === 0 ? 'RefreshInProgress' : 'RefreshCompleted',
  progress: String(i % 100),
  reason: i % 5 === 0 ? 'some reason' : '',
  external_source: `s3://lake/c${i % 7}/`,
  start_time: String(1_700_000_000_000 + i),
  end_time: i % 3 === 0 ? '0' : String(1_700_000_006_000 + i),
  external_spec: '{"format":"parquet"}',
});

describe('lean job list', () => {
  const codec = sdkCodec();
  const jobs = Array.from({ length: 50 }, (_, i) => job(i));
  const buf = codec.responseSerialize({ status: { code: 0, error_code: 'Success', reason: '' }, jobs });

  it('indexes every job and decodes each exactly as the SDK does', () => {
    const full = codec.responseDeserialize(buf) as { status: unknown; jobs: Record<string, unknown>[] };
    const lean = decodeLeanList(buf, codec.responseDeserialize) as { status: unknown; jobs: RawJobList };
    expect(lean.status).toEqual(full.status);
    expect(lean.jobs).toBeInstanceOf(RawJobList);
    expect(lean.jobs.ids).toEqual(full.jobs.map((j) => j.job_id));
    expect(lean.jobs.all()).toEqual(full.jobs);
    expect(lean.jobs.job(jobs[17]!.job_id)).toEqual(full.jobs[17]);
    expect(lean.jobs.job('1')).toBeUndefined();
    expect(lean.jobs.has(jobs[3]!.job_id)).toBe(true);
  });

  it('reads job ids only as far as a lookup must: the newest jobs are found without reading the rest', () => {
    const lean = decodeLeanList(buf, codec.responseDeserialize).jobs as RawJobList;
    expect(lean.indexed).toBe(0);
    const front = [jobs[1]!.job_id, jobs[0]!.job_id, jobs[2]!.job_id];
    expect([...lean.positions(front)]).toEqual([
      [jobs[0]!.job_id, 0],
      [jobs[1]!.job_id, 1],
      [jobs[2]!.job_id, 2],
    ]);
    expect(lean.indexed).toBe(3);
    expect(lean.fingerprint(jobs[1]!.job_id)).toBeDefined();
    expect(lean.indexed).toBe(3);
    // An id that is not listed is looked for in every job; what was read before is not read again.
    expect(lean.positions([jobs[1]!.job_id, '999']).size).toBe(1);
    expect(lean.indexed).toBe(50);
    const full = codec.responseDeserialize(buf) as { jobs: Record<string, unknown>[] };
    expect(lean.job(jobs[40]!.job_id)).toEqual(full.jobs[40]);
  });

  it('keeps no Buffer slab alive for the ids it has looked up', async () => {
    // The ids looked up are remembered (the same are looked up every poll). Each lookup here is followed by
    // other small Buffers, as in the operator, where HTTP/2 and gRPC allocate in between: had the remembered
    // ids been small Buffers (slices of Node's shared 64 KiB pool), each would keep its slab alive.
    const gc = exposeGc();
    // V8 frees dead array buffers on a background thread after a collection: on a busy machine the count
    // read right after gc() may still hold them. Collect until the count stops falling.
    const settled = async (): Promise<number> => {
      let last = Infinity;
      for (let i = 0; i < 50; i++) {
        gc();
        await new Promise((resolve) => setTimeout(resolve, 20));
        const now = process.memoryUsage().arrayBuffers;
        if (now >= last) return now;
        last = now;
      }
      return last;
    };
    const lean = decodeLeanList(buf, codec.responseDeserialize).jobs as RawJobList;
    const before = await settled();
    for (let i = 0; i < 3_000; i++) {
      lean.positions([(900_000_000_000_000_000n + BigInt(i)).toString()]);
      Buffer.from('x'.repeat(8_000)); // garbage from the shared pool
    }
    const retainedMiB = ((await settled()) - before) / 1024 / 1024;
    expect(retainedMiB).toBeLessThan(2); // as pool slices, the 3,000 ids kept 37.5 MiB of slabs
  });

  it('summarizes a whole list without decoding it: the highest job id and the collections with an active job', () => {
    // Listed newest first by start time, which need not be id order; ids of several varint lengths; a pending
    // job's state (0) is not on the wire at all.
    const listed = [
      { ...job(1), job_id: '99', state: 'RefreshCompleted' },
      { ...job(2), job_id: '470804829245014999', collection_name: 'orders', state: 'RefreshFailed' },
      { ...job(3), job_id: '470804829245015000', collection_name: 'products', state: 'RefreshPending' },
      { ...job(4), job_id: '470804829245014998', collection_name: 'users', state: 'RefreshInProgress' },
      { ...job(5), job_id: '16384', collection_name: 'old', state: 'RefreshCompleted' },
    ];
    const encoded = codec.responseSerialize({ status: { code: 0 }, jobs: listed });
    const lean = decodeLeanList(encoded, codec.responseDeserialize).jobs as RawJobList;
    const summary = lean.summary();
    expect(summary.highestJobId).toBe('470804829245015000');
    expect([...summary.activeCollections].sort()).toEqual(['products', 'users']);
    // The pass indexed every id: lookups read none again.
    expect(lean.indexed).toBe(5);
    expect(lean.has('16384')).toBe(true);
    const full = codec.responseDeserialize(buf) as { jobs: Record<string, unknown>[] };
    const all = (decodeLeanList(buf, codec.responseDeserialize).jobs as RawJobList).summary();
    const ids = full.jobs.map((j) => BigInt(j.job_id as string));
    expect(all.highestJobId).toBe(ids.reduce((a, b) => (b > a ? b : a)).toString());
    expect(all.activeCollections).toEqual(
      new Set(full.jobs.filter((j) => j.state === 'RefreshInProgress').map((j) => j.collection_name)),
    );
    const empty = decodeLeanList(codec.responseSerialize({ status: { code: 0 }, jobs: [] }), codec.responseDeserialize);
    expect((empty.jobs as RawJobList).summary()).toEqual({ highestJobId: '0', activeCollections: new Set() });
  });

  it('tells a changed job from an unchanged one by its bytes', () => {
    const changed = jobs.map((j, i) => (i === 4 ? { ...j, progress: '77' } : j));
    const a = decodeLeanList(buf, codec.responseDeserialize).jobs as RawJobList;
    const b = decodeLeanList(codec.responseSerialize({ status: { code: 0 }, jobs: changed }), codec.responseDeserialize)
      .jobs as RawJobList;
    expect(b.fingerprint(jobs[3]!.job_id)).toBe(a.fingerprint(jobs[3]!.job_id));
    expect(b.fingerprint(jobs[4]!.job_id)).not.toBe(a.fingerprint(jobs[4]!.job_id));
  });

  it('decodes an error answer and an empty list', () => {
    const failed = codec.responseSerialize({ status: { code: 1100, error_code: 'UnexpectedError', reason: 'boom' } });
    const lean = decodeLeanList(failed, codec.responseDeserialize) as { status: { reason: string }; jobs: RawJobList };
    expect(lean.status.reason).toBe('boom');
    expect(lean.jobs.length).toBe(0);
  });

  it('memoises the SDK definitions: a second client loads nothing again', () => {
    shareSdkDefinitions();
    const sdk = require('@zilliz/milvus2-sdk-node') as { getGRPCService: (p: unknown, o: unknown) => unknown };
    const a = sdk.getGRPCService({ serviceName: 'milvus.proto.milvus.MilvusService' }, { keepCase: true });
    const b = sdk.getGRPCService({ serviceName: 'milvus.proto.milvus.MilvusService' }, { keepCase: true });
    expect(a).toBe(b);
  });

  it("formats no SDK log line below the SDK logger's level", () => {
    shareSdkDefinitions();
    const { logger } = require('@zilliz/milvus2-sdk-node/dist/milvus/utils/logger.js') as {
      logger: { level: string; format: { transform: (...a: unknown[]) => unknown }; debug: (m: string) => unknown };
    };
    const level = logger.level;
    const transform = vi.spyOn(logger.format, 'transform');
    try {
      logger.level = 'error';
      expect(logger.debug(`[Request] ${JSON.stringify({ collection_name: 'c' })}`)).toBe(logger);
      expect(transform).not.toHaveBeenCalled();
      // The answer follows the level (it is kept per level until the level changes).
      transform.mockReturnValue(false); // formatted, then dropped: nothing printed
      logger.level = 'debug';
      logger.debug('now formatted');
      expect(transform).toHaveBeenCalledTimes(1);
      logger.level = 'error';
      logger.debug('not formatted');
      expect(transform).toHaveBeenCalledTimes(1);
    } finally {
      transform.mockRestore();
      logger.level = level;
    }
  });
});

describe('releasing a lean job list', () => {
  const codec = sdkCodec();
  const status = { code: 0, error_code: 'Success', reason: '' };

  it('frees a large answer at once (gRPC hands it over in a buffer of its own) and refuses reads after', () => {
    const jobs = Array.from({ length: 3_000 }, (_, i) => job(i));
    const message = codec.responseSerialize({ status, jobs });
    const framed = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), message]); // gRPC's frame header, then the message
    const lean = decodeLeanList(framed.subarray(5), codec.responseDeserialize).jobs as RawJobList;
    const full = codec.responseDeserialize(message) as { jobs: Record<string, unknown>[] };
    expect(lean.job(jobs[5]!.job_id)).toEqual(full.jobs[5]);
    expect(framed.buffer.byteLength).toBeGreaterThan(150_000);
    lean.release();
    expect(framed.buffer.byteLength).toBe(0); // detached: its memory is returned now, not at a later collection
    expect(() => lean.has(jobs[5]!.job_id)).toThrow(/after release/);
    expect(() => lean.all()).toThrow(/after release/);
    expect(() => lean.ids).toThrow(/after release/);
  });

  it('leaves a small answer’s memory alone: it may share it with other buffers', () => {
    const message = codec.responseSerialize({ status, jobs: [job(1), job(2)] });
    const before = Buffer.from('a neighbour in the same pool');
    const small = Buffer.from(message); // a slice of Node's shared pool, like many small buffers
    const after = Buffer.from('another neighbour');
    expect(small.buffer).toBe(before.buffer);
    const lean = decodeLeanList(small, codec.responseDeserialize).jobs as RawJobList;
    lean.release();
    expect(small.equals(message)).toBe(true);
    expect(before.toString()).toBe('a neighbour in the same pool');
    expect(after.toString()).toBe('another neighbour');
    expect(() => lean.job(job(1).job_id)).toThrow(/after release/);
  });
});
