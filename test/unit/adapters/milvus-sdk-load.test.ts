import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSdk } from '../../../src/adapters/milvus-sdk.js';

const require = createRequire(import.meta.url);

/** Modules of an npm package in Node's module cache (wherever npm placed the package). */
const cached = (pkg: string): string[] => Object.keys(require.cache).filter((p) => p.includes(`/node_modules/${pkg}/`));

interface Sdk {
  MilvusClient: unknown;
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
    const standIn = require.cache[cached('@shanghaikid/parquetjs')[0]!]!.exports as Record<string, unknown>;
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
    // The stand-in answers reflection as the library does (TypeScript's __importStar copies properties with
    // their descriptors); the library's own __esModule is not configurable, which a proxy may not report.
    expect(Object.getOwnPropertyDescriptor(standIn, '__esModule')?.value).toBe(true);
    expect(typeof { ...standIn }.ParquetWriter).toBe('function');
    expect(standIn instanceof Object).toBe(true);
  });
});
