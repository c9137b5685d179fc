import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { loadSdk, shareSdkDefinitions } from '../../../src/adapters/milvus-sdk.js';

const require = createRequire(import.meta.url);

/** Modules of an npm package in Node's module cache (wherever npm placed the package). */
const cached = (pkg: string): string[] => Object.keys(require.cache).filter((p) => p.includes(`/node_modules/${pkg}/`));

interface ProtoType {
  fullName: string;
  create(o: object): unknown;
  encode(m: unknown): { finish(): Uint8Array };
  decode(b: Uint8Array): unknown;
  toObject(m: unknown): Record<string, unknown>;
}
interface Client {
  schemaProto: { lookupType(name: string): ProtoType };
  milvusProto: { lookupType(name: string): ProtoType };
  connectPromise?: Promise<unknown>;
  closeConnection(): Promise<unknown>;
}

interface Sdk {
  MilvusClient: new (config: object) => Client;
  ParquetFormatter: new () => {
    persist(
      columns: Map<string, unknown[]>,
      dynamicRows: unknown[],
      rowCount: number,
      dir: string,
      schema: unknown,
    ): Promise<string[]>;
  };
}

describe('loading the Milvus SDK', () => {
  it('defers the bulk writer’s Parquet library to its first use, and the bulk writer still writes Parquet', async () => {
    // Vitest runs each test file in a process of its own; the assertions below need the SDK not yet loaded.
    expect(require.cache[require.resolve('@zilliz/milvus2-sdk-node')]).toBeUndefined();
    const sdk = loadSdk<Sdk>();
    expect(typeof sdk.MilvusClient).toBe('function');
    expect(cached('@shanghaikid/parquetjs')).toHaveLength(1); // the stand-in
    expect(cached('thrift')).toEqual([]); // one of the library's own dependencies
    expect(loadSdk<Sdk>()).toBe(sdk);

    const dir = mkdtempSync(join(tmpdir(), 'ecr-parquet-'));
    try {
      const schema = {
        fields: [
          { name: 'id', data_type: 'Int64', is_primary_key: true },
          { name: 'title', data_type: 'VarChar' },
        ],
        enable_dynamic_field: false,
      };
      const columns = new Map<string, unknown[]>([
        ['id', [1, 2]],
        ['title', ['a', 'b']],
      ]);
      const [file] = await new sdk.ParquetFormatter().persist(columns, [], 2, dir, schema);
      const bytes = readFileSync(file!);
      expect(bytes.subarray(0, 4).toString()).toBe('PAR1'); // Parquet's magic number, at both ends
      expect(bytes.subarray(-4).toString()).toBe('PAR1');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(cached('@shanghaikid/parquetjs').length).toBeGreaterThan(10);
    expect(cached('thrift').length).toBeGreaterThan(0);
  });

  it('builds a client’s proto definitions only as far as they are used', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const sdk = loadSdk<Sdk>();
    shareSdkDefinitions();
    const heap = (): number => {
      gc();
      gc();
      return process.memoryUsage().heapUsed / 2 ** 20;
    };
    const before = heap();
    const client = new sdk.MilvusClient({ address: '127.0.0.1:1', logLevel: 'error', telemetry: { enabled: false } });
    client.connectPromise?.catch(() => undefined);
    // Every client built the whole proto: 8.6 MiB for the first, before the definitions were built per method.
    expect(heap() - before).toBeLessThan(2);
    // The protobufjs roots the SDK reads to build collection schemas and search requests: built when first read.
    const schema = client.schemaProto.lookupType('milvus.proto.schema.CollectionSchema');
    const bytes = schema.encode(schema.create({ name: 'docs', fields: [{ name: 'id', data_type: 5 }] })).finish();
    expect(schema.toObject(schema.decode(bytes))).toMatchObject({ name: 'docs', fields: [{ name: 'id' }] });
    expect(client.milvusProto.lookupType('milvus.proto.common.PlaceholderGroup').fullName).toBe(
      '.milvus.proto.common.PlaceholderGroup',
    );
    await client.closeConnection();
  });
});
