import { createRequire } from 'node:module';
import { describe, expect, it, vi } from 'vitest';
import {
  type MethodDefinition,
  type ProtoJson,
  type ProtoLibraries,
  lazyServiceClient,
  methodProto,
  typeClosures,
} from '../../../src/adapters/lazy-proto.js';

// The libraries and the proto as the Milvus SDK loads them (from its own location).
const require = createRequire(import.meta.url);
const fromSdk = createRequire(require.resolve('@zilliz/milvus2-sdk-node'));
const libs: ProtoLibraries = {
  protobuf: fromSdk('protobufjs'),
  protoLoader: fromSdk('@grpc/proto-loader'),
  grpc: fromSdk('@grpc/grpc-js'),
};
const json = (fromSdk('./proto-json/milvus') as { default: ProtoJson }).default;
require('@zilliz/milvus2-sdk-node'); // its modules import each other: the index first
const { LOADER_OPTIONS } = fromSdk('./grpc/GrpcClient') as { LOADER_OPTIONS: Record<string, unknown> };

const MILVUS = 'milvus.proto.milvus.MilvusService';
const SERVICES = [MILVUS, 'milvus.proto.milvus.ClientTelemetryService', 'milvus.proto.milvus.ProxyService'];

interface MessageDefinition {
  type: unknown;
}
type Definitions = Record<string, unknown>;

const full = libs.protoLoader.fromJSON(json, LOADER_OPTIONS);
const fullMethods = (service: string) => full[service] as Record<string, MethodDefinition>;
type ClientClass = { service: Record<string, MethodDefinition>; prototype: Record<string, unknown> };

const refreshRequest = {
  db_name: 'analytics',
  collection_name: 'docs',
  external_source: 's3://lake/docs/',
  external_spec: '{"format":"parquet"}',
};
const listResponse = {
  status: { code: 0, error_code: 'Success', reason: '' },
  jobs: [
    {
      job_id: '470804829245014016',
      collection_name: 'docs',
      state: 'RefreshInProgress',
      progress: '40',
      reason: '',
      external_source: 's3://lake/docs/',
      external_spec: '{"format":"parquet"}',
      start_time: '1700000000000',
      end_time: '0',
    },
  ],
};

describe('a service client whose codecs are built per method', () => {
  it('gives every method of the Milvus services the definitions proto-loader builds from the whole proto', () => {
    let methods = 0;
    for (const service of SERVICES) {
      const closures = typeClosures(libs, json, service);
      expect([...closures.keys()].sort()).toEqual(Object.keys(fullMethods(service)).sort());
      for (const [method, types] of closures) {
        const part = libs.protoLoader.fromJSON(methodProto(json, service, method, types), LOADER_OPTIONS);
        const mine = (part[service] as Record<string, MethodDefinition>)[method]!;
        const theirs = fullMethods(service)[method]!;
        // A message definition's descriptor: its fields' names, numbers, labels and (fully qualified) types.
        expect((mine.requestType as MessageDefinition).type).toEqual((theirs.requestType as MessageDefinition).type);
        expect((mine.responseType as MessageDefinition).type).toEqual((theirs.responseType as MessageDefinition).type);
        for (const [name, definition] of Object.entries(part as Definitions)) {
          if (name === service) continue;
          expect((definition as MessageDefinition).type, `${method}: ${name}`).toEqual(
            (full[name] as MessageDefinition).type,
          );
        }
        methods++;
      }
    }
    expect(methods).toBe(148);
  });

  it('keeps what a kept type’s nested types need, and leaves out what no method reaches', () => {
    const proto: ProtoJson = {
      nested: {
        pkg: {
          nested: {
            S: { methods: { Get: { requestType: 'A', responseType: 'A' } } },
            // B is nested in A but no field of A uses it; B needs C.
            A: { fields: { x: { type: 'int32', id: 1 } }, nested: { B: { fields: { c: { type: 'C', id: 1 } } } } },
            C: { fields: { y: { type: 'string', id: 1 } } },
            Unused: { fields: { z: { type: 'int64', id: 1 } } },
          },
        },
      },
    };
    const types = typeClosures(libs, proto, 'pkg.S').get('Get')!;
    expect([...types].sort()).toEqual(['.pkg.A', '.pkg.A.B', '.pkg.C']);
    const part = libs.protoLoader.fromJSON(methodProto(proto, 'pkg.S', 'Get', types), {});
    expect(Object.keys(part).sort()).toEqual(['pkg.A', 'pkg.C', 'pkg.S']); // proto-loader lists top-level messages
    expect((part['pkg.A'] as { type: { nestedType: { name: string }[] } }).type.nestedType.map((t) => t.name)).toEqual([
      'B',
    ]);
  });

  it('encodes and decodes as the whole proto does, with the same method names, paths and streaming', () => {
    const Client = lazyServiceClient(libs, () => json, MILVUS, LOADER_OPTIONS) as ClientClass;
    for (const [name, theirs] of Object.entries(fullMethods(MILVUS))) {
      const mine = Client.service[name]!;
      expect([mine.path, mine.originalName, mine.requestStream, mine.responseStream]).toEqual([
        theirs.path,
        theirs.originalName,
        theirs.requestStream,
        theirs.responseStream,
      ]);
      expect(typeof Client.prototype[theirs.originalName!]).toBe('function');
    }
    const refresh = Client.service.RefreshExternalCollection!;
    const sent = refresh.requestSerialize(refreshRequest);
    expect(sent.equals(fullMethods(MILVUS).RefreshExternalCollection!.requestSerialize(refreshRequest))).toBe(true);
    expect(refresh.requestDeserialize(sent)).toEqual(
      fullMethods(MILVUS).RefreshExternalCollection!.requestDeserialize(sent),
    );
    const list = Client.service.ListRefreshExternalCollectionJobs!;
    const answer = fullMethods(MILVUS).ListRefreshExternalCollectionJobs!.responseSerialize(listResponse);
    expect(list.responseSerialize(listResponse).equals(answer)).toBe(true);
    const decoded = fullMethods(MILVUS).ListRefreshExternalCollectionJobs!.responseDeserialize(answer);
    expect(decoded).toMatchObject(listResponse);
    expect(list.responseDeserialize(answer)).toEqual(decoded);
  });

  it('builds nothing of a method until it is used, then only that method, once', () => {
    const fromJSON = vi.spyOn(libs.protoLoader, 'fromJSON');
    const rootFromJSON = vi.spyOn(libs.protobuf.Root, 'fromJSON');
    const built: string[] = [];
    try {
      const Client = lazyServiceClient(
        libs,
        () => json,
        MILVUS,
        LOADER_OPTIONS,
        (m) => built.push(m),
      ) as ClientClass;
      expect(fromJSON).toHaveBeenCalledTimes(1); // the skeleton: every method, one empty message
      const skeleton = JSON.stringify(fromJSON.mock.calls[0]![0]);
      expect(skeleton.length).toBeLessThan(JSON.stringify(json).length / 5);
      expect(rootFromJSON).toHaveBeenCalledTimes(1); // proto-loader's, of the skeleton

      const progress = Client.service.GetRefreshExternalCollectionProgress!;
      progress.requestSerialize({ db_name: 'd', collection_name: 'c', job_id: '1' });
      progress.responseDeserialize(Buffer.alloc(0));
      progress.requestSerialize({ db_name: 'd', collection_name: 'c', job_id: '2' });
      expect(built).toEqual(['GetRefreshExternalCollectionProgress']);
      expect(fromJSON).toHaveBeenCalledTimes(2);
      const part = fromJSON.mock.calls[1]![0] as ProtoJson;
      const service = part.nested!.milvus!.nested!.proto!.nested!.milvus!.nested!.MilvusService!;
      expect(Object.keys(service.methods!)).toEqual(['GetRefreshExternalCollectionProgress']);
      expect(JSON.stringify(part).length).toBeLessThan(JSON.stringify(json).length / 20);

      Client.service.RefreshExternalCollection!.requestSerialize(refreshRequest);
      expect(built).toEqual(['GetRefreshExternalCollectionProgress', 'RefreshExternalCollection']);
      expect(fromJSON).toHaveBeenCalledTimes(3);
      // The whole proto was read once, for the types each method reaches; both methods' types came from it.
      expect(rootFromJSON.mock.calls.filter(([j]) => j === json)).toHaveLength(1);
    } finally {
      fromJSON.mockRestore();
      rootFromJSON.mockRestore();
    }
  });

  it('lets the owner replace a codec once the method is built', () => {
    const Client = lazyServiceClient(
      libs,
      () => json,
      MILVUS,
      LOADER_OPTIONS,
      (method, definition) => {
        if (method !== 'ListRefreshExternalCollectionJobs') return;
        const decode = definition.responseDeserialize;
        definition.responseDeserialize = (buf) => ({ wrapped: decode(buf) });
      },
    ) as ClientClass;
    const answer = fullMethods(MILVUS).ListRefreshExternalCollectionJobs!.responseSerialize(listResponse);
    expect(Client.service.ListRefreshExternalCollectionJobs!.responseDeserialize(answer)).toEqual({
      wrapped: fullMethods(MILVUS).ListRefreshExternalCollectionJobs!.responseDeserialize(answer),
    });
  });

  it('names the service it cannot find', () => {
    expect(() => lazyServiceClient(libs, () => json, 'milvus.proto.milvus.NoSuchService', LOADER_OPTIONS)).toThrow(
      'The proto has no service milvus.proto.milvus.NoSuchService',
    );
  });
});
