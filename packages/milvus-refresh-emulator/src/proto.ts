/**
 * Milvus' protocol, loaded from the descriptors that ship inside the official Node SDK
 * (`@zilliz/milvus2-sdk-node/dist/milvus/proto-json`): the emulator keeps no proto copies of its own.
 */
import { createRequire } from 'node:module';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import type { DecodedSchema } from './schema-rules.js';

const require = createRequire(import.meta.url);
const milvusJson = (
  require('@zilliz/milvus2-sdk-node/dist/milvus/proto-json/milvus.js') as { default: protobuf.INamespace }
).default;

/** The options the SDK itself loads with: int64 as strings, enums as names, defaults filled in. */
const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

const root = protobuf.Root.fromJSON(milvusJson);
const collectionSchemaType = root.lookupType('milvus.proto.schema.CollectionSchema');

interface ServiceHolder {
  service: grpc.ServiceDefinition;
}

function lookupService(pkg: grpc.GrpcObject, path: string): grpc.ServiceDefinition {
  let node: unknown = pkg;
  for (const part of path.split('.')) node = (node as Record<string, unknown>)[part];
  const holder = node as ServiceHolder | undefined;
  if (!holder?.service) throw new Error(`service ${path} not found in the SDK's descriptors`);
  return holder.service;
}

const grpcObject = grpc.loadPackageDefinition(protoLoader.fromJSON(milvusJson, LOADER_OPTIONS));

/** milvus.proto.milvus.MilvusService */
export const milvusService: grpc.ServiceDefinition = lookupService(grpcObject, 'milvus.proto.milvus.MilvusService');
/** milvus.proto.milvus.ClientTelemetryService (the SDK sends heartbeats to it after Connect). */
export const telemetryService: grpc.ServiceDefinition = lookupService(
  grpcObject,
  'milvus.proto.milvus.ClientTelemetryService',
);

/** Decodes CreateCollectionRequest.schema (a serialized CollectionSchema). */
export function decodeCollectionSchema(bytes: Uint8Array): DecodedSchema {
  const message = collectionSchemaType.decode(bytes);
  return collectionSchemaType.toObject(message, {
    longs: String,
    enums: String,
    defaults: true,
    arrays: true,
  }) as DecodedSchema;
}

/** Encodes a CollectionSchema to bytes (test seeding and tooling use the same wire form as clients). */
export function encodeCollectionSchema(schema: Record<string, unknown>): Uint8Array {
  return collectionSchemaType.encode(collectionSchemaType.fromObject(schema)).finish();
}
