/**
 * gRPC service clients whose message codecs are built per method, when the method is first called, from only
 * the proto types that method needs.
 *
 * `@grpc/proto-loader`'s `fromJSON` turns a whole proto into protobufjs reflection objects and gives every
 * message a descriptor, an encoder and a decoder. For the Milvus proto (147 methods over three services,
 * about 1,000 messages) that is 5 MiB of heap for as long as the process lives, and a burst of allocation
 * when it is built, for an operator that calls four of the methods.
 *
 * {@link lazyServiceClient} makes the same grpc-js client class with every method of the service. Each method's
 * path, streaming flags, names and options come from proto-loader, which is given the service with every
 * request and response type replaced by an empty placeholder message. Its codecs are stand-ins. The first
 * time one is used, proto-loader builds the method from {@link methodProto}: the service with that one method,
 * and every type the method reaches. The codecs are then proto-loader's own, built from the same type
 * definitions, so the bytes on the wire are the same.
 *
 * Which types a method reaches is protobufjs's own resolution ({@link typeClosures}). It is computed for all
 * of a service's methods at once, on the first use of any: one full build of the proto, dropped afterwards.
 * The proto itself is asked for when it is read, so its owner can keep it in a smaller form in between.
 */

/** A protobufjs JSON namespace, type, enum or service (the shape `Root.toJSON` gives and `Root.fromJSON` reads). */
export interface ProtoJson {
  nested?: Record<string, ProtoJson>;
  methods?: Record<string, ProtoJson>;
  [key: string]: unknown;
}

/** proto-loader's method definition (the fields grpc-js reads). */
export interface MethodDefinition {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  originalName?: string;
  requestSerialize: (value: unknown) => Buffer;
  requestDeserialize: (buf: Buffer) => unknown;
  responseSerialize: (value: unknown) => Buffer;
  responseDeserialize: (buf: Buffer) => unknown;
  [key: string]: unknown;
}

interface Reflected {
  fullName: string;
}
interface ReflectedType extends Reflected {
  fieldsArray: { resolve(): unknown; resolvedType: Reflected | null }[];
  nestedArray: Reflected[];
}
interface ReflectedService {
  methodsArray: { name: string; resolve(): unknown; resolvedRequestType: Reflected; resolvedResponseType: Reflected }[];
}

/** The libraries, as the client's owner loads them (the instances its other code uses). */
export interface ProtoLibraries {
  protobuf: {
    Root: { fromJSON(json: unknown): { lookupService(name: string): ReflectedService } };
    Type: abstract new (...args: never[]) => unknown;
    Enum: abstract new (...args: never[]) => unknown;
  };
  protoLoader: { fromJSON(json: unknown, options: Record<string, unknown>): Record<string, unknown> };
  grpc: { makeClientConstructor(methods: Record<string, MethodDefinition>, serviceName: string): unknown };
}

/** The empty message every method of a skeleton takes and returns. */
const PLACEHOLDER = 'EcrLazyProtoPlaceholder';

/**
 * A grpc-js client constructor for `serviceName` of the proto, as `grpc.loadPackageDefinition(protoLoader.fromJSON(
 * proto(), options))` gives it, with each method's codecs built on its first use. `proto` is called whenever the
 * proto is read (so its caller need not keep it in between). `built` sees each method's definition once it is
 * built, before it is used (to replace a codec, say).
 */
export function lazyServiceClient(
  libs: ProtoLibraries,
  proto: () => ProtoJson,
  serviceName: string,
  options: Record<string, unknown>,
  built?: (method: string, definition: MethodDefinition) => void,
): unknown {
  const path = serviceName.split('.');
  const service = at(proto(), path);
  if (!service?.methods) throw new Error(`The proto has no service ${serviceName}`);
  const skeleton = libs.protoLoader.fromJSON(serviceSkeleton(path, service), options)[serviceName] as Record<
    string,
    MethodDefinition
  >;
  let closures: Map<string, string[]> | undefined;
  const methods: Record<string, MethodDefinition> = {};
  for (const [name, shape] of Object.entries(skeleton)) {
    let real: MethodDefinition | undefined;
    const load = (): MethodDefinition => {
      if (real === undefined) {
        const json = proto();
        closures ??= typeClosures(libs, json, serviceName);
        const definitions = libs.protoLoader.fromJSON(
          methodProto(json, serviceName, name, closures.get(name)!),
          options,
        );
        real = (definitions[serviceName] as Record<string, MethodDefinition>)[name]!;
        built?.(name, real);
      }
      return real;
    };
    // requestType and responseType describe the placeholder: left out (grpc-js reads neither).
    const { requestType: _request, responseType: _response, ...attributes } = shape;
    methods[name] = {
      ...attributes,
      requestSerialize: (value) => load().requestSerialize(value),
      requestDeserialize: (buf) => load().requestDeserialize(buf),
      responseSerialize: (value) => load().responseSerialize(value),
      responseDeserialize: (buf) => load().responseDeserialize(buf),
    };
  }
  return libs.grpc.makeClientConstructor(methods, path[path.length - 1]!);
}

/**
 * For each method of `serviceName`, the full names (".pkg.Type") of the types it reaches: its request and
 * response types, their fields' types, and the types nested in any of them, transitively.
 */
export function typeClosures(libs: ProtoLibraries, json: ProtoJson, serviceName: string): Map<string, string[]> {
  const { Type, Enum } = libs.protobuf;
  const service = libs.protobuf.Root.fromJSON(json).lookupService(serviceName);
  const closures = new Map<string, string[]>();
  for (const method of service.methodsArray) {
    method.resolve();
    const seen = new Set<Reflected>();
    const visit = (t: Reflected): void => {
      if (seen.has(t)) return;
      seen.add(t);
      if (!(t instanceof Type)) return;
      const type = t as ReflectedType;
      for (const field of type.fieldsArray) {
        field.resolve();
        if (field.resolvedType) visit(field.resolvedType);
      }
      for (const nested of type.nestedArray) if (nested instanceof Type || nested instanceof Enum) visit(nested);
    };
    visit(method.resolvedRequestType);
    visit(method.resolvedResponseType);
    closures.set(
      method.name,
      [...seen].map((t) => t.fullName),
    );
  }
  return closures;
}

/**
 * The part of `json` that one method needs: the service with that method only, and the types named in `types`
 * (full names, as {@link typeClosures} gives them). A type nested in a type that is kept comes with it; a
 * namespace, or a type that is not kept, on the way to a kept type becomes an empty namespace.
 */
export function methodProto(json: ProtoJson, serviceName: string, method: string, types: readonly string[]): ProtoJson {
  const out: ProtoJson = {};
  const kept = new Set(types);
  for (const name of types) {
    const path = name.replace(/^\./, '').split('.');
    const insideKept = path.some((_, i) => i > 0 && kept.has(`.${path.slice(0, i).join('.')}`));
    if (!insideKept) place(out, path, at(json, path)!);
  }
  const servicePath = serviceName.split('.');
  const service = at(json, servicePath)!;
  place(out, servicePath, { ...service, methods: { [method]: service.methods![method]! } });
  return out;
}

/** `service` with every method's request and response an empty placeholder message, beside it in its package. */
function serviceSkeleton(path: readonly string[], service: ProtoJson): ProtoJson {
  const methods: Record<string, ProtoJson> = {};
  for (const [name, m] of Object.entries(service.methods!))
    methods[name] = { ...m, requestType: PLACEHOLDER, responseType: PLACEHOLDER };
  const out: ProtoJson = {};
  place(out, path, { ...service, methods });
  place(out, [...path.slice(0, -1), PLACEHOLDER], { fields: {} });
  return out;
}

function at(json: ProtoJson, path: readonly string[]): ProtoJson | undefined {
  let node: ProtoJson | undefined = json;
  for (const part of path) node = node?.nested?.[part];
  return node;
}

/** Puts `value` at `path` in `out`, making empty namespaces on the way (the source JSON is never changed). */
function place(out: ProtoJson, path: readonly string[], value: ProtoJson): void {
  let node = out;
  for (const part of path.slice(0, -1)) node = (node.nested ??= {})[part] ??= {};
  (node.nested ??= {})[path[path.length - 1]!] = value;
}
