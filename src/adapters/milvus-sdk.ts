/**
 * What the operator changes in how the Milvus SDK (3.0.6) loads and decodes, without patching its files:
 *
 * 1. **Proto definitions built once per process, and only the parts that are used.** Every `MilvusClient`
 *    builds its protocol definitions again: two `getGRPCService` calls (each a proto-loader `fromJSON` over
 *    the whole Milvus proto plus a `loadPackageDefinition`) and two protobufjs `Root.fromJSON`, about 9 MiB
 *    of heap and 12 MiB of RSS per client. Here the services are memoised module-wide, and each is a client
 *    class whose methods build their codecs on first use from only the types they need (lazy-proto.ts):
 *    about 0.1 MiB per method called instead of 5 MiB per service. The two protobufjs roots, which the SDK
 *    reads only to build collection schemas and search requests, are built once, on their first use. The
 *    SDK's three proto JSON modules (2.6 MiB of objects, loaded at import) are stand-ins read from their files
 *    when used ({@link PROTO_JSON}); the services' proto is kept as 150 KB of JSON text in between.
 * 2. **A job list decoded only where it is read.** `ListRefreshExternalCollectionJobs` with no collection
 *    returns every job Milvus keeps (24 h of them: 24,000 for 1,000 hourly refreshes, 4 MB). The SDK
 *    decodes all of them into objects (6 us each) on every poll, while the operator follows a few. Clients
 *    created with {@link LEAN_JOB_LIST} get a list whose jobs are only delimited (a scan of the wire format's
 *    lengths); a job's id is read when a lookup reaches it (newest first, stopping once every wanted id is
 *    found), a job is decoded, by the SDK's own decoder, when it is asked for, and its raw bytes tell
 *    whether it changed since the last poll without decoding it.
 *
 * 3. **No log line formatted below the SDK's level.** The SDK logs every request and answer at debug level
 *    through winston, which formats a line (colours, timestamp, printf) before its transport drops it for
 *    its level; the SDK logger's level methods return at once when their level is off.
 *
 * 4. **No Parquet library until something writes Parquet.** The SDK's index loads its bulk writer, whose
 *    Parquet library (`@shanghaikid/parquetjs`) is 101 of the SDK's 481 modules: about 9 MiB of RSS and
 *    6 MiB of heap in every operator that talks to Milvus, for a feature the operator never uses. The SDK is
 *    given a stand-in that loads the library on its first use ({@link loadSdk}).
 *
 * 5. **A gRPC message assembled as it arrives** (grpc-assembly.ts): the SDK's grpc-js kept a large answer's
 *    HTTP/2 read buffers until its last byte, long enough for them to reach the old generation, where only a
 *    full collection frees them.
 *
 * 1-3 and 5 are installed once, by the Milvus adapter, after the SDK is loaded; 4 and the proto modules'
 * stand-ins before. Other users of the SDK in
 * the same process get the same (memoised) definitions, the SDK's usual list and a working bulk writer.
 */
import { readFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { assembleMessagesAsTheyArrive } from './grpc-assembly.js';
import { type MethodDefinition, type ProtoJson, type ProtoLibraries, lazyServiceClient } from './lazy-proto.js';

const require = createRequire(import.meta.url);

/** The SDK's `loaderOptions` marker that asks for the lean job list (proto-loader ignores unknown options). */
export const LEAN_JOB_LIST = { ecrLeanJobList: true } as const;

type Deserialize = (buf: Buffer) => unknown;

interface SdkModules extends ProtoLibraries {
  grpcUtils: { getGRPCService: (proto: { serviceName: string }, options: Record<string, unknown>) => unknown };
  /** The Milvus proto (its services), read anew from a compact copy each time it is asked for. */
  milvusProto: () => ProtoJson;
  /** The JSON of the protobufjs roots the SDK's client builds (schema.base, milvus.base): stand-ins. */
  rootJson: unknown[];
  logger: SdkLogger;
}

type SdkLogger = Record<string, unknown> & { isLevelEnabled(level: string): boolean };

let installed = false;

const SDK = '@zilliz/milvus2-sdk-node';

/**
 * Libraries the SDK requires at import only for features the operator does not use, by the SDK file that
 * requires them (relative to the SDK's main file).
 */
const DEFERRED: readonly { requiredBy: string; id: string }[] = [
  { requiredBy: 'bulkwriter/ParquetFormatter.js', id: '@shanghaikid/parquetjs' },
];

/**
 * The SDK, loaded with each {@link DEFERRED} library replaced by a stand-in (in the module cache, which Node
 * documents as writable) that loads the real library on the first property read. Once the SDK is loaded,
 * this returns it as it is.
 */
export function loadSdk<T>(): T {
  const main = require.resolve(SDK);
  if (!require.cache[main]) {
    for (const d of DEFERRED) deferModule(join(dirname(main), d.requiredBy), d.id);
    for (const file of Object.values(PROTO_JSON)) deferProtoJson(join(dirname(main), file));
  }
  return require(SDK) as T;
}

/**
 * The SDK's proto JSON modules (relative to its main file), which it loads at import: 2.6 MiB of heap as
 * objects. It reads `milvus` only in the `getGRPCService` that {@link shareSdkDefinitions} replaces, and the two
 * others only to build collection schemas and search requests.
 */
const PROTO_JSON = {
  milvus: 'proto-json/milvus.js',
  schemaBase: 'proto-json/schema.base.js',
  milvusBase: 'proto-json/milvus.base.js',
};

/**
 * A stand-in for a proto JSON module: an ES module's exports (as TypeScript compiles them, so the SDK's
 * `__importDefault` takes them as they are) whose default export is read from the file on first use.
 */
function deferProtoJson(path: string): void {
  cacheStandIn(path, { __esModule: true, default: lazily(() => readProtoJson(path)) });
}

/**
 * The object a proto JSON module exports, read from its file each time, as JSON: the module is
 * `exports.default = <a JSON literal>;` (generated by protobufjs's pbjs). Read as data, not run as code: a
 * compiled 616 KB script stays in V8's compilation cache for several collections.
 */
function readProtoJson(path: string): ProtoJson {
  const source = readFileSync(path, 'utf8');
  const start = source.indexOf(PROTO_JSON_START);
  const end = source.lastIndexOf('};');
  if (start < 0 || end < start) throw new Error(`${path} is not an exports.default = {...} module`);
  return JSON.parse(source.slice(start + PROTO_JSON_START.length - 1, end + 1)) as ProtoJson;
}

const PROTO_JSON_START = 'exports.default = {';

function deferModule(requiredBy: string, id: string): void {
  const load = createRequire(requiredBy);
  let path: string;
  try {
    path = load.resolve(id);
  } catch {
    return; // not installed: the SDK's own require reports it, as it would without this
  }
  cacheStandIn(
    path,
    lazily(() => {
      delete require.cache[path];
      return load(id) as object;
    }),
  );
}

/** Puts `exports` in Node's module cache (which Node documents as writable) as the module at `path`, unless loaded. */
function cacheStandIn(path: string, exports: object): void {
  if (require.cache[path]) return;
  const standIn = new Module(path);
  standIn.filename = path;
  standIn.loaded = true;
  standIn.exports = exports;
  require.cache[path] = standIn;
}

/**
 * An object that stands for `make()`'s, made on the first operation on it; every operation is forwarded. Its
 * properties are reported configurable: a proxy may not report a property the (empty) target lacks as
 * non-configurable, and TypeScript's module exports have one (`__esModule`).
 */
function lazily<T extends object>(make: () => T): T {
  let real: T | undefined;
  const target = (): T => (real ??= make());
  return new Proxy({} as T, {
    get: (_, key) => Reflect.get(target(), key),
    set: (_, key, value) => Reflect.set(target(), key, value),
    has: (_, key) => Reflect.has(target(), key),
    ownKeys: () => Reflect.ownKeys(target()),
    getOwnPropertyDescriptor: (_, key) => {
      const descriptor = Reflect.getOwnPropertyDescriptor(target(), key);
      return descriptor && { ...descriptor, configurable: true };
    },
    defineProperty: (_, key, descriptor) => Reflect.defineProperty(target(), key, descriptor),
    deleteProperty: (_, key) => Reflect.deleteProperty(target(), key),
    getPrototypeOf: () => Reflect.getPrototypeOf(target()),
  });
}

function sdkModules(): SdkModules {
  // Resolve every module from the SDK's own location: the same instances the SDK uses.
  const sdkMain = require.resolve(SDK);
  const fromSdk = createRequire(sdkMain);
  const json = (file: string): unknown => {
    const exports = fromSdk(`./${file}`) as { default?: unknown };
    return exports.default ?? exports;
  };
  // The Milvus proto as JSON text (150 KB) rather than objects (1.2 MiB): read when a service or a method is
  // first built, a few times in a process's life.
  let milvusText: string | undefined;
  const milvusProto = (): ProtoJson => {
    milvusText ??= JSON.stringify(readProtoJson(join(dirname(sdkMain), PROTO_JSON.milvus)));
    return JSON.parse(milvusText) as ProtoJson;
  };
  return {
    grpcUtils: fromSdk('./utils/Grpc') as SdkModules['grpcUtils'],
    protoLoader: fromSdk('@grpc/proto-loader') as SdkModules['protoLoader'],
    grpc: fromSdk('@grpc/grpc-js') as SdkModules['grpc'],
    protobuf: fromSdk('protobufjs') as SdkModules['protobuf'],
    milvusProto,
    rootJson: [json(PROTO_JSON.schemaBase), json(PROTO_JSON.milvusBase)],
    logger: (fromSdk('./utils/logger') as { logger: SdkLogger }).logger,
  };
}

/** Installs the memoised loaders and the lean job list (idempotent). */
export function shareSdkDefinitions(): void {
  if (installed) return;
  installed = true;
  loadSdk(); // the SDK's module graph must be complete before it is wrapped
  const m = sdkModules();
  assembleMessagesAsTheyArrive(createRequire(require.resolve(SDK)).resolve('@grpc/grpc-js'));

  // winston's isLevelEnabled walks the transports (allocating) on every call, and the SDK logs on every RPC:
  // the answer is kept per level until the logger's level changes (the SDK sets it; its transports are fixed).
  let answeredFor: unknown;
  const enabled = new Map<string, boolean>();
  const isEnabled = (level: string): boolean => {
    if (m.logger.level !== answeredFor) {
      answeredFor = m.logger.level;
      enabled.clear();
    }
    let on = enabled.get(level);
    if (on === undefined) {
      on = m.logger.isLevelEnabled(level);
      enabled.set(level, on);
    }
    return on;
  };
  for (const level of ['error', 'warn', 'info', 'debug']) {
    const log = m.logger[level];
    if (typeof log !== 'function') continue;
    const write = log.bind(m.logger) as (...args: unknown[]) => unknown;
    m.logger[level] = (...args: unknown[]): unknown => (isEnabled(level) ? write(...args) : m.logger);
  }

  // The SDK's client roots: one each per process, built when the SDK first reads one.
  type FromJson = (json: unknown, root?: unknown) => unknown;
  const fromJSON = m.protobuf.Root.fromJSON.bind(m.protobuf.Root) as FromJson;
  const roots = new Map(m.rootJson.map((json) => [json, lazily(() => fromJSON(json) as object)]));
  (m.protobuf.Root as { fromJSON: FromJson }).fromJSON = (json, root) =>
    (root === undefined ? roots.get(json) : undefined) ?? fromJSON(json, root);

  const services = new Map<string, unknown>();
  m.grpcUtils.getGRPCService = (proto, options) => {
    const key = `${proto.serviceName}\u0000${JSON.stringify(options)}`;
    let service = services.get(key);
    if (service === undefined) {
      const { ecrLeanJobList, ...loaderOptions } = options;
      service = lazyServiceClient(
        m,
        m.milvusProto,
        proto.serviceName,
        loaderOptions,
        ecrLeanJobList ? leanList : undefined,
      );
      services.set(key, service);
    }
    return service;
  };
}

/** ListRefreshExternalCollectionJobs answered by a {@link RawJobList}. */
function leanList(method: string, definition: MethodDefinition): void {
  if (method !== 'ListRefreshExternalCollectionJobs') return;
  const decode = definition.responseDeserialize;
  definition.responseDeserialize = (buf: Buffer) => decodeLeanList(buf, decode);
}

/** A buffer this large is never a slice of Node's shared pool (slices under half of Buffer.poolSize). */
const OWN_BUFFER_MIN_BYTES = Math.max(64 * 1024, Buffer.poolSize);
/** gRPC's length-prefixed message framing: a compression flag and a 4-byte length before each message. */
const GRPC_FRAME_HEADER_BYTES = 5;

// Field numbers of milvus.proto (ListRefreshExternalCollectionJobsResponse, RefreshExternalCollectionJobInfo).
const RESPONSE_JOBS = 2;
const JOB_ID = 1;
const JOB_COLLECTION = 2;
const JOB_STATE = 3;
/** RefreshCompleted and RefreshFailed: a job in any other state (or one added later) counts as active. */
const TERMINAL_STATES: ReadonlySet<number> = new Set([2, 3]);

/**
 * A job list as the wire has it: each job's bytes, its id read only when a lookup needs it, decoded on demand
 * by the SDK's decoder. Milvus lists newest first, so the running jobs the operator looks for come before the
 * thousands of retained ended ones: a lookup stops once it found every id it was given (an id not listed
 * still costs a pass over all of them).
 */
export class RawJobList {
  /** Per job, its job_id varint [start, end), known for the first `indexed` jobs. */
  private readonly idRanges: Uint32Array;
  private indexedJobs = 0;
  private released = false;

  constructor(
    private readonly buf: Buffer,
    /** Per job, two offsets: its encoded message [start, end). */
    private readonly ranges: Uint32Array,
    private readonly decode: Deserialize,
  ) {
    this.idRanges = new Uint32Array(ranges.length);
  }

  get length(): number {
    return this.ranges.length / 2;
  }

  /** How many jobs' ids have been read so far (lookups read only as far as they must). */
  get indexed(): number {
    return this.indexedJobs;
  }

  /**
   * What JSON.stringify sees. The SDK's retry interceptor stringifies every answer for a debug line, even
   * with debug logging off; without this it would turn the whole 4 MB buffer into an array of numbers.
   */
  toJSON(): string {
    return `[${this.length} jobs]`;
  }

  /**
   * Frees the answer's bytes now, when they are a buffer of their own, instead of at some later full garbage
   * collection; the list must not be read after (reading it throws). gRPC assembles each large message into a
   * buffer of its own (after a 5-byte frame header). An all-jobs answer of 24,000 jobs is 4 MB, one per
   * endpoint per poll; dropped, it is external memory that V8 frees only with the JavaScript object holding
   * it, and that object, kept over a poll, is often already in the old generation: dead answers piled up to
   * 65 MiB at 10,000 resources. A small answer may share its memory with other buffers: it is left alone.
   */
  release(): void {
    this.released = true;
    const { buf } = this;
    if (
      buf.byteLength >= OWN_BUFFER_MIN_BYTES &&
      buf.byteOffset <= GRPC_FRAME_HEADER_BYTES &&
      buf.byteOffset + buf.byteLength === buf.buffer.byteLength
    )
      (buf.buffer as ArrayBuffer & { transfer(length: number): ArrayBuffer }).transfer(0);
  }

  private readable(): void {
    if (this.released) throw new Error('RawJobList read after release()');
  }

  /** The jobs' ids (decimal strings), in list order. */
  get ids(): string[] {
    this.readable();
    this.indexTo(this.length);
    const out: string[] = [];
    for (let i = 0; i < this.length; i++)
      out.push(idOfBytes(this.buf, this.idRanges[2 * i]!, this.idRanges[2 * i + 1]!));
    return out;
  }

  /**
   * Where each of `jobIds` is in the list (ids not listed are left out): a pass over the jobs, newest first,
   * comparing a number made of each id's first seven varint bytes, then the bytes themselves; no string per
   * job; it ends when every id was found.
   */
  positions(jobIds: Iterable<string>): Map<string, number> {
    this.readable();
    const wanted = new Map<number, { id: string; bytes: readonly number[] }[]>();
    let distinct = 0;
    for (const id of jobIds) {
      const bytes = varintOfId(id);
      if (!bytes) continue;
      const k = shortKey(bytes, 0, bytes.length);
      const list = wanted.get(k);
      if (list?.some((c) => c.id === id)) continue;
      if (list) list.push({ id, bytes });
      else wanted.set(k, [{ id, bytes }]);
      distinct += 1;
    }
    const found = new Map<string, number>();
    const { buf, idRanges } = this;
    for (let i = 0; i < this.length && found.size < distinct; i++) {
      if (i >= this.indexedJobs) this.indexTo(i + 1);
      const start = idRanges[2 * i]!;
      const end = idRanges[2 * i + 1]!;
      const candidates = wanted.get(shortKey(buf, start, end));
      if (!candidates) continue;
      for (const c of candidates) if (!found.has(c.id) && sameBytes(buf, start, end, c.bytes)) found.set(c.id, i);
    }
    return found;
  }

  has(jobId: string): boolean {
    return this.positions([jobId]).size > 0;
  }

  /** Each listed job's encoded bytes as a string: equal strings mean an unchanged job. */
  fingerprints(jobIds: Iterable<string>): Map<string, string> {
    const out = new Map<string, string>();
    for (const [id, i] of this.positions(jobIds))
      out.set(id, this.buf.toString('latin1', this.ranges[2 * i], this.ranges[2 * i + 1]));
    return out;
  }

  /** The job's encoded bytes as a string, if listed. */
  fingerprint(jobId: string): string | undefined {
    return this.fingerprints([jobId]).get(jobId);
  }

  /** The job decoded as the SDK decodes it (snake_case, longs as strings, enums as names). */
  job(jobId: string): Record<string, unknown> | undefined {
    return this.jobs([jobId]).get(jobId);
  }

  /** Several jobs decoded at once (one decoder call), by id; ids not listed are left out. */
  jobs(jobIds: Iterable<string>): Map<string, Record<string, unknown>> {
    const wanted = [...this.positions(jobIds)];
    const decoded = this.decodeAt(wanted.map(([, i]) => i));
    return new Map(wanted.map(([id], n) => [id, decoded[n]!]));
  }

  /** Every job, decoded (for a per-collection list, which is short). */
  all(): Record<string, unknown>[] {
    return this.decodeAt(Array.from({ length: this.length }, (_, i) => i));
  }

  /**
   * One pass over every job, reading three fields of each and decoding none: the highest job id and the
   * collections with an active job. Also indexes every id (later lookups read none again).
   */
  summary(): { highestJobId: string; activeCollections: Set<string> } {
    this.readable();
    const { buf, ranges, idRanges } = this;
    const active = new Set<string>();
    let top = -1;
    for (let i = 0; i < this.length; i++) {
      const start = ranges[2 * i]!;
      const end = ranges[2 * i + 1]!;
      let pos = start;
      let nameStart = -1;
      let nameEnd = -1;
      let state = 0; // proto3 default: RefreshPending is not sent
      let idStart = end;
      let idEnd = end; // an id of 0 is not sent
      // Encoders write fields in number order, so the three come first: once all are read, the rest is skipped.
      let read = 0;
      while (pos < end && read !== 7) {
        const tag = readUint(buf, pos);
        const valueStart = cursor;
        const field = tag >>> 3;
        const wire = tag & 7;
        if (field === JOB_ID && wire === 0) {
          readUint10(buf, valueStart);
          idStart = valueStart;
          idEnd = cursor;
          pos = cursor;
          read |= 1;
        } else if (field === JOB_STATE && wire === 0) {
          readUint10(buf, valueStart);
          state = cursor - valueStart === 1 ? buf[valueStart]! : -1; // the known states are one byte
          pos = cursor;
          read |= 2;
        } else if (field === JOB_COLLECTION && wire === 2) {
          const length = readUint(buf, valueStart);
          nameStart = cursor;
          nameEnd = cursor + length;
          pos = nameEnd;
          read |= 4;
        } else pos = skip(buf, valueStart, wire);
      }
      idRanges[2 * i] = idStart;
      idRanges[2 * i + 1] = idEnd;
      if (top < 0 || compareVarints(buf, idStart, idEnd, idRanges[2 * top]!, idRanges[2 * top + 1]!) > 0) top = i;
      if (!TERMINAL_STATES.has(state)) active.add(nameStart < 0 ? '' : buf.toString('utf8', nameStart, nameEnd));
    }
    this.indexedJobs = this.length;
    const highestJobId = top < 0 ? '0' : idOfBytes(buf, idRanges[2 * top]!, idRanges[2 * top + 1]!);
    return { highestJobId, activeCollections: active };
  }

  /** Reads the ids of the jobs before `n`. */
  private indexTo(n: number): void {
    for (let i = this.indexedJobs; i < n; i++)
      jobIdRange(this.buf, this.ranges[2 * i]!, this.ranges[2 * i + 1]!, this.idRanges, 2 * i);
    this.indexedJobs = Math.max(this.indexedJobs, n);
  }

  private decodeAt(positions: number[]): Record<string, unknown>[] {
    this.readable();
    if (positions.length === 0) return [];
    // A response holding only these jobs, decoded by the SDK's own decoder.
    const parts: Buffer[] = [];
    for (const i of positions) {
      const start = this.ranges[2 * i]!;
      const end = this.ranges[2 * i + 1]!;
      parts.push(Buffer.from([(RESPONSE_JOBS << 3) | 2]), varint(end - start), this.buf.subarray(start, end));
    }
    const decoded = this.decode(Buffer.concat(parts)) as { jobs?: Record<string, unknown>[] };
    return decoded.jobs ?? [];
  }
}

/** A number from the first seven bytes of a varint (49 bits: exact in a double). */
function shortKey(buf: ArrayLike<number>, start: number, end: number): number {
  let k = 0;
  let scale = 1;
  for (let p = start; p < end && p < start + 7; p++) {
    k += buf[p]! * scale;
    scale *= 256;
  }
  return k;
}

/** Whether `buf` holds exactly `bytes` in [start, end). */
function sameBytes(buf: Buffer, start: number, end: number, bytes: readonly number[]): boolean {
  if (end - start !== bytes.length) return false;
  for (let i = 0; i < bytes.length; i++) if (buf[start + i] !== bytes[i]) return false;
  return true;
}

/**
 * Varint bytes of the ids looked up lately: the same watched ids are looked up on every poll. Plain arrays,
 * not Buffers: a small Buffer is a slice of a shared 64 KiB pool slab, and a cache of long-lived slices made
 * over a burst kept hundreds of slabs alive (25 MiB of external memory at 3,000 resources, heap snapshot).
 */
const varintCache = new Map<string, readonly number[] | undefined>();
/** Enough for every job watched at once at 10,000 resources, with room. */
const VARINT_CACHE_LIMIT = 20_000;

/** A job id's int64 varint bytes, or undefined for a non-number. */
function varintOfId(jobId: string): readonly number[] | undefined {
  if (varintCache.has(jobId)) return varintCache.get(jobId);
  if (varintCache.size >= VARINT_CACHE_LIMIT) varintCache.clear();
  const bytes = encodeId(jobId);
  varintCache.set(jobId, bytes);
  return bytes;
}

function encodeId(jobId: string): number[] | undefined {
  if (!/^-?\d+$/.test(jobId)) return undefined;
  let v = BigInt.asUintN(64, BigInt(jobId));
  const bytes: number[] = [];
  do {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    bytes.push(v > 0n ? b | 0x80 : b);
  } while (v > 0n);
  return bytes;
}

/**
 * Compares two job ids by their varint bytes (job ids are positive int64s: a longer varint is a larger number;
 * of two as long, the one whose most significant 7-bit group differs first is).
 */
function compareVarints(buf: Buffer, aStart: number, aEnd: number, bStart: number, bEnd: number): number {
  if (aEnd - aStart !== bEnd - bStart) return aEnd - aStart - (bEnd - bStart);
  for (let a = aEnd - 1, b = bEnd - 1; a >= aStart; a--, b--) {
    const d = (buf[a]! & 0x7f) - (buf[b]! & 0x7f);
    if (d !== 0) return d;
  }
  return 0;
}

function idOfBytes(buf: Buffer, start: number, end: number): string {
  let v = 0n;
  for (let p = end - 1; p >= start; p--) v = (v << 7n) | BigInt(buf[p]! & 0x7f);
  return BigInt.asIntN(64, v).toString();
}

/** Room for this many jobs' offsets at first (a per-collection list holds a few). */
const RANGES_INITIAL = 64;

/** Decodes a ListRefreshExternalCollectionJobsResponse: the status fully, the jobs into a RawJobList. */
export function decodeLeanList(buf: Buffer, decode: Deserialize): Record<string, unknown> {
  // Offsets go straight into a typed array, grown by doubling: a plain array of numbers would be garbage on
  // the JavaScript heap (an all-jobs answer of 27,000 jobs made about a MiB of it per poll, the largest share
  // of the operator's allocations in a burst: sampling heap profile).
  let ranges = new Uint32Array(RANGES_INITIAL);
  let used = 0;
  const rest: Buffer[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const fieldStart = pos;
    const tag = readUint(buf, pos);
    pos = cursor;
    const wire = tag & 7;
    const next = skip(buf, pos, wire);
    if (tag >>> 3 === RESPONSE_JOBS && wire === 2) {
      const length = readUint(buf, pos);
      const start = cursor;
      if (used + 2 > ranges.length) {
        const grown = new Uint32Array(ranges.length * 2);
        grown.set(ranges);
        ranges = grown;
      }
      ranges[used++] = start;
      ranges[used++] = start + length;
    } else {
      rest.push(buf.subarray(fieldStart, next)); // the status (and any field added later)
    }
    pos = next;
  }
  const head = decode(Buffer.concat(rest)) as Record<string, unknown>;
  return { ...head, jobs: new RawJobList(buf, ranges.slice(0, used), decode) };
}

/**
 * Writes where the job_id (int64, field 1) varint of the job encoded at [start, end) is into `out[at]` and
 * `out[at + 1]`: [start, end), empty when unset (0).
 */
function jobIdRange(buf: Buffer, start: number, end: number, out: Uint32Array, at: number): void {
  let pos = start;
  while (pos < end) {
    const tag = readUint(buf, pos);
    const valueStart = cursor;
    const wire = tag & 7;
    if (tag >>> 3 === JOB_ID && wire === 0) {
      readUint10(buf, valueStart);
      out[at] = valueStart;
      out[at + 1] = cursor;
      return;
    }
    pos = skip(buf, valueStart, wire);
  }
  out[at] = end; // proto3 default: an id of 0 is not sent
  out[at + 1] = end;
}

/** Where the last read ended (saves allocating a pair per read). */
let cursor = 0;

/** An unsigned varint up to 2^53 (tags, lengths); sets `cursor` after it. */
function readUint(buf: Buffer, pos: number): number {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 8; i++) {
    const b = buf[pos++];
    if (b === undefined) throw new Error('truncated varint');
    value += (b & 0x7f) * scale;
    if (b < 0x80) {
      cursor = pos;
      return value;
    }
    scale *= 128;
  }
  throw new Error('varint too long');
}

/** The position after a field's value of wire type `wire` starting at `pos`. */
function skip(buf: Buffer, pos: number, wire: number): number {
  switch (wire) {
    case 0:
      readUint10(buf, pos);
      return cursor;
    case 1:
      return pos + 8;
    case 2: {
      const length = readUint(buf, pos);
      return cursor + length;
    }
    case 5:
      return pos + 4;
    default:
      throw new Error(`unsupported wire type ${wire}`);
  }
}

/** Skips a varint of up to 10 bytes (any int64); sets `cursor` after it. */
function readUint10(buf: Buffer, pos: number): void {
  for (let i = 0; i < 10; i++) {
    const b = buf[pos++];
    if (b === undefined) throw new Error('truncated varint');
    if (b < 0x80) {
      cursor = pos;
      return;
    }
  }
  throw new Error('varint too long');
}

function varint(n: number): Buffer {
  const bytes: number[] = [];
  while (n >= 0x80) {
    bytes.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  bytes.push(n);
  return Buffer.from(bytes);
}
