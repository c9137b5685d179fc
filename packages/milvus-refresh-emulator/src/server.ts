/**
 * A gRPC server speaking `milvus.proto.milvus.MilvusService` for external-collection refresh jobs, close
 * enough to Milvus 3.0 that the official clients cannot tell the difference (see this package's README.md for
 * what is and is not reproduced). Every method it does not implement answers UNIMPLEMENTED, as grpc-js does for
 * a missing handler.
 */
import * as grpc from '@grpc/grpc-js';
import { MilvusError, cannotFindCollection, errorStatus, okStatus } from './errors.js';
import { redactExternalSpec } from './external-spec.js';
import { decodeCollectionSchema, milvusService, telemetryService } from './proto.js';
import { type DecodedField, type DecodedSchema, VIRTUAL_PK } from './schema-rules.js';
import { DEFAULT_TIMINGS, type JobBehaviour, type JobInfo, MilvusState, type Timings } from './state.js';

/** Who may call: `users` maps user to password (token "user:password"), `apiKeys` are bare tokens. */
export interface EmulatorAuth {
  users?: Record<string, string>;
  apiKeys?: string[];
}

/** PEM material for a TLS listener; `clientCa` turns on mutual TLS. */
export interface EmulatorTls {
  cert: string | Buffer;
  key: string | Buffer;
  clientCa?: string | Buffer;
}

/** A clock the emulator reads; tests can jump it forward to reach timeouts and retention. */
export interface EmulatorClock {
  now(): number;
}

/** A clock that follows real time plus an offset that only grows. */
export class OffsetClock implements EmulatorClock {
  private offsetMs = 0;
  now(): number {
    return Date.now() + this.offsetMs;
  }
  /** Moves time forward by `ms`. */
  advance(ms: number): void {
    this.offsetMs += Math.max(0, ms);
  }
}

/** Options of startEmulator. */
export interface EmulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Loopback by default. */
  host?: string;
  timings?: Partial<Omit<Timings, 'job'>> & { job?: Partial<JobBehaviour> };
  auth?: EmulatorAuth;
  tls?: EmulatorTls;
  clock?: EmulatorClock;
  /** Receives one line per RPC and per thing the emulator did on its own. */
  log?: (line: string) => void;
  /** Reported by GetVersion and Connect. */
  version?: string;
}

/** One RPC the emulator answered, for tests that count calls. */
export interface RpcRecord {
  method: string;
  at: number;
  db: string;
  collection?: string;
  outcome: string;
}

/** Fields of a seeded external collection. */
export interface SeedCollection {
  name: string;
  db?: string;
  /** Both or neither; neither makes a "deferred" external collection. */
  source?: string;
  spec?: string | Record<string, unknown>;
  /** An ordinary (non-external) collection, to test the "not an external collection" answer. */
  external?: boolean;
  fields?: Partial<DecodedField>[];
}

type Handler = (request: Record<string, unknown>, ctx: CallContext) => Record<string, unknown>;

interface CallContext {
  db: string;
  now: number;
}

const STATUS_ONLY = new Set(['CreateCollection', 'DropCollection', 'CreateDatabase']);

/** A running emulator and its controls. */
export class MilvusEmulator {
  readonly state: MilvusState;
  readonly clock: EmulatorClock;
  private server: grpc.Server | undefined;
  private boundPort = 0;
  private latencyMs = 0;
  private readonly calls: RpcRecord[] = [];
  private readonly log: (line: string) => void;
  private readonly version: string;

  private constructor(private readonly options: EmulatorOptions) {
    this.clock = options.clock ?? new OffsetClock();
    const timings: Timings = {
      ...DEFAULT_TIMINGS,
      ...options.timings,
      job: { ...DEFAULT_TIMINGS.job, ...options.timings?.job },
    };
    this.state = new MilvusState(timings, this.clock.now());
    this.log = options.log ?? (() => undefined);
    this.version = options.version ?? '3.0.0';
  }

  /** Starts an emulator and resolves once it listens. */
  static async start(options: EmulatorOptions = {}): Promise<MilvusEmulator> {
    const emulator = new MilvusEmulator(options);
    await emulator.listen(options.port ?? 0);
    return emulator;
  }

  /** host:port clients connect to. */
  get address(): string {
    return `${this.options.host ?? '127.0.0.1'}:${this.boundPort}`;
  }

  get port(): number {
    return this.boundPort;
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  // ---- controls --------------------------------------------------------------------------------------

  /** Creates a collection directly, as if a client had called CreateCollection. */
  seedCollection(seed: SeedCollection): void {
    const spec = typeof seed.spec === 'object' ? JSON.stringify(seed.spec) : (seed.spec ?? '');
    const external = seed.external ?? true;
    const fields: DecodedField[] = (seed.fields ?? defaultFields(external)).map((f) => ({
      name: f.name ?? 'field',
      is_primary_key: f.is_primary_key ?? false,
      data_type: f.data_type ?? 'Int64',
      autoID: f.autoID ?? false,
      is_partition_key: false,
      is_clustering_key: false,
      external_field: external ? (f.external_field ?? f.name ?? 'field') : '',
      type_params: f.type_params ?? [],
      ...f,
    }));
    if (seed.db && !this.state.listDatabases().some((d) => d.name === seed.db)) {
      this.state.createDatabase(seed.db, this.clock.now());
    }
    this.state.createCollection(
      {
        db: seed.db ?? 'default',
        name: seed.name,
        schema: {
          name: seed.name,
          description: '',
          autoID: false,
          fields,
          enable_dynamic_field: false,
          external_source: external ? (seed.source ?? '') : '',
          external_spec: external ? spec : '',
        },
        shardsNum: 1,
        consistencyLevel: 'Bounded',
        properties: [],
      },
      this.clock.now(),
    );
  }

  /** Sets how the collection's future jobs behave; `undefined` restores the server default. */
  setJobBehaviour(collection: string, behaviour: Partial<JobBehaviour> | undefined, db = 'default'): void {
    this.state.setCollectionBehaviour(db, collection, behaviour);
  }

  /** Changes server-wide timings for jobs accepted from now on. */
  setTimings(timings: Partial<Omit<Timings, 'job'>> & { job?: Partial<JobBehaviour> }): void {
    const current = this.state.timings;
    this.state.timings = { ...current, ...timings, job: { ...current.job, ...timings.job } };
  }

  /** Delays every response by `ms` (the request is still handled when it arrives). */
  setLatency(ms: number): void {
    this.latencyMs = Math.max(0, ms);
  }

  /**
   * Adds `count` jobs that already ended, spread over the last 24 h across the given collections (default:
   * every external collection of the default database): the history a real Milvus keeps and lists.
   */
  seedEndedJobs(count: number, collections?: string[], db = 'default'): void {
    const names =
      collections ?? this.state.listCollections(db, this.clock.now()).flatMap((c) => (c.external ? [c.name] : []));
    this.state.seedEndedJobs(
      count,
      names.map((n) => [db, n]),
      this.clock.now(),
    );
  }

  completeJob(jobId: string): void {
    this.state.completeJob(jobId, this.clock.now());
    this.flushEvents();
  }

  failJob(jobId: string, reason: string): void {
    this.state.failJob(jobId, reason, this.clock.now());
    this.flushEvents();
  }

  /** Jobs as ListRefreshExternalCollectionJobs would return them (all databases when no collection). */
  jobs(collection = '', db = 'default'): JobInfo[] {
    const jobs = this.state.list(db, collection, this.clock.now());
    this.flushEvents();
    return jobs;
  }

  /** RPCs answered so far, optionally only one method's. */
  rpcs(method?: string): RpcRecord[] {
    return method ? this.calls.filter((c) => c.method === method) : [...this.calls];
  }

  /** Makes the server unreachable: the port is closed until start(). */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.forceShutdown();
    this.log(`${new Date(this.clock.now()).toISOString()} emulator stopped (port ${this.boundPort} closed)`);
    await Promise.resolve();
  }

  /** Listens again on the same port. */
  async start(): Promise<void> {
    if (this.server) return;
    await this.listen(this.boundPort);
  }

  /** stop() then start(); `keepJobs: false` models a DataCoord that lost its job catalog. */
  async restart(opts: { keepJobs: boolean } = { keepJobs: true }): Promise<void> {
    await this.stop();
    if (!opts.keepJobs) this.state.forgetJobs();
    await this.start();
  }

  /** Stops for good. */
  async close(): Promise<void> {
    await this.stop();
  }

  // ---- gRPC ------------------------------------------------------------------------------------------

  private async listen(port: number): Promise<void> {
    const server = new grpc.Server();
    server.addService(withCachedJobEncoding(milvusService), this.handlers());
    server.addService(telemetryService, {
      ClientHeartbeat: (
        _call: grpc.ServerUnaryCall<unknown, unknown>,
        callback: grpc.sendUnaryData<Record<string, unknown>>,
      ) => callback(null, { status: okStatus(), server_timestamp: String(this.clock.now()) }),
    });
    const creds = this.options.tls
      ? grpc.ServerCredentials.createSsl(
          this.options.tls.clientCa ? Buffer.from(this.options.tls.clientCa) : null,
          [{ cert_chain: Buffer.from(this.options.tls.cert), private_key: Buffer.from(this.options.tls.key) }],
          this.options.tls.clientCa !== undefined,
        )
      : grpc.ServerCredentials.createInsecure();
    const host = this.options.host ?? '127.0.0.1';
    // A just-closed port can take a moment to be released; retry binding it briefly.
    for (let attempt = 0; ; attempt++) {
      try {
        this.boundPort = await new Promise<number>((resolve, reject) =>
          server.bindAsync(`${host}:${port}`, creds, (err, bound) => (err ? reject(err) : resolve(bound))),
        );
        break;
      } catch (err) {
        if (attempt >= 50 || port === 0) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    this.server = server;
    this.log(
      `${new Date(this.clock.now()).toISOString()} emulator listening on ${host}:${this.boundPort}${this.options.tls ? ' (TLS)' : ''}`,
    );
  }

  private handlers(): grpc.UntypedServiceImplementation {
    const h: Record<string, Handler> = {
      Connect: (_req, ctx) => ({
        status: okStatus(),
        server_info: {
          build_tags: this.version,
          build_time: 'emulated',
          git_commit: 'emulator',
          go_version: 'none (milvus-refresh-operator emulator)',
          deploy_mode: 'STANDALONE',
          reserved: {},
        },
        identifier: this.state.allocId(ctx.now).toString(),
      }),
      GetVersion: () => ({ status: okStatus(), version: this.version }),
      CheckHealth: () => ({ status: okStatus(), isHealthy: true, reasons: [], quota_states: [] }),
      CreateDatabase: (req, ctx) => {
        this.state.createDatabase(str(req.db_name), ctx.now);
        return okStatus() as unknown as Record<string, unknown>;
      },
      ListDatabases: () => {
        const dbs = this.state.listDatabases();
        return {
          status: okStatus(),
          db_names: dbs.map((d) => d.name),
          created_timestamp: dbs.map((d) => String(BigInt(d.createdAt) << 18n)),
          db_ids: dbs.map((d) => d.id.toString()),
        };
      },
      CreateCollection: (req, ctx) => {
        const schema = decodeCollectionSchema(req.schema as Uint8Array);
        this.state.createCollection(
          {
            db: ctx.db,
            name: str(req.collection_name),
            schema,
            shardsNum: Number(req.shards_num ?? 0),
            consistencyLevel: str(req.consistency_level) || 'Bounded',
            properties: (req.properties as { key: string; value: string }[] | undefined) ?? [],
          },
          ctx.now,
        );
        return okStatus() as unknown as Record<string, unknown>;
      },
      DescribeCollection: (req, ctx) => {
        const name = str(req.collection_name);
        if (!this.state.hasCollection(ctx.db, name, ctx.now)) throw cannotFindCollection(ctx.db, name);
        const c = this.state.getCollection(ctx.db, name, ctx.now);
        const created = String(BigInt(c.createdAt) << 18n);
        return {
          status: okStatus(),
          schema: describeSchema(c.schema, c.external, c.externalSource, c.externalSpec),
          collectionID: c.id.toString(),
          virtual_channel_names: [`by-dev-rootcoord-dml_0_${c.id}v0`],
          physical_channel_names: ['by-dev-rootcoord-dml_0'],
          created_timestamp: created,
          created_utc_timestamp: String(c.createdAt),
          shards_num: c.shardsNum,
          aliases: [],
          consistency_level: c.consistencyLevel,
          collection_name: c.name,
          properties: c.properties,
          db_name: c.db,
          num_partitions: '1',
          db_id:
            this.state
              .listDatabases()
              .find((d) => d.name === c.db)
              ?.id.toString() ?? '0',
          update_timestamp: created,
          update_timestamp_str: new Date(c.createdAt).toISOString(),
        };
      },
      HasCollection: (req, ctx) => ({
        status: okStatus(),
        value: this.state.hasCollection(ctx.db, str(req.collection_name), ctx.now),
      }),
      ShowCollections: (_req, ctx) => {
        const cs = this.state.listCollections(ctx.db, ctx.now);
        return {
          status: okStatus(),
          collection_names: cs.map((c) => c.name),
          collection_ids: cs.map((c) => c.id.toString()),
          created_timestamps: cs.map((c) => String(BigInt(c.createdAt) << 18n)),
          created_utc_timestamps: cs.map((c) => String(c.createdAt)),
          inMemory_percentages: cs.map(() => '0'),
          query_service_available: cs.map(() => false),
          shards_num: cs.map((c) => c.shardsNum),
        };
      },
      DropCollection: (req, ctx) => {
        this.state.dropCollection(ctx.db, str(req.collection_name), ctx.now);
        return okStatus() as unknown as Record<string, unknown>;
      },
      RefreshExternalCollection: (req, ctx) => {
        const jobId = this.state.refresh(
          {
            db: ctx.db,
            name: str(req.collection_name),
            source: str(req.external_source),
            spec: str(req.external_spec),
          },
          ctx.now,
        );
        return { status: okStatus(), job_id: jobId.toString() };
      },
      GetRefreshExternalCollectionProgress: (req, ctx) => ({
        status: okStatus(),
        job_info: this.state.progress(str(req.job_id), ctx.now),
      }),
      ListRefreshExternalCollectionJobs: (req, ctx) => ({
        status: okStatus(),
        jobs: this.state.list(ctx.db, str(req.collection_name), ctx.now),
      }),
    };
    const impl: grpc.UntypedServiceImplementation = {};
    for (const [method, handler] of Object.entries(h)) impl[method] = this.unary(method, handler);
    return impl;
  }

  private unary(
    method: string,
    handler: Handler,
  ): grpc.handleUnaryCall<Record<string, unknown>, Record<string, unknown>> {
    return (call, callback) => {
      const started = Date.now();
      const now = this.clock.now();
      const request = call.request;
      const db = str(request.db_name) || str(call.metadata.get('dbname')[0]) || 'default';
      const collection = str(request.collection_name) || undefined;
      const finish = (
        err: grpc.ServiceError | null,
        response: Record<string, unknown> | null,
        outcome: string,
      ): void => {
        this.calls.push({ method, at: now, db, ...(collection ? { collection } : {}), outcome });
        this.flushEvents();
        this.log(
          `${new Date(now).toISOString()} ${method}${describeRequest(method, request, db)} -> ${outcome} (${Date.now() - started}ms)`,
        );
        const reply = (): void => (err ? callback(err) : callback(null, response));
        if (this.latencyMs > 0) setTimeout(reply, this.latencyMs);
        else reply();
      };
      const denied = this.authenticate(call.metadata);
      if (denied) {
        finish(
          {
            name: 'Error',
            message: denied,
            code: grpc.status.UNAUTHENTICATED,
            details: denied,
            metadata: new grpc.Metadata(),
          },
          null,
          `UNAUTHENTICATED ${denied}`,
        );
        return;
      }
      try {
        const response = handler(request, { db, now });
        finish(null, response, describeResponse(response));
      } catch (err) {
        if (!(err instanceof MilvusError)) {
          const message = err instanceof Error ? err.message : String(err);
          finish(
            { name: 'Error', message, code: grpc.status.INTERNAL, details: message, metadata: new grpc.Metadata() },
            null,
            `INTERNAL ${message}`,
          );
          return;
        }
        const status = errorStatus(err);
        const response = STATUS_ONLY.has(method) ? (status as unknown as Record<string, unknown>) : { status };
        finish(null, response, `code=${err.code} ${err.message}`);
      }
    };
  }

  /** Milvus' authentication interceptor: a gRPC UNAUTHENTICATED error, not an in-band status. */
  private authenticate(metadata: grpc.Metadata): string | undefined {
    const auth = this.options.auth;
    if (!auth) return undefined;
    const header = metadata.get('authorization')[0];
    if (header === undefined || header === '') return 'missing authorization in header';
    const value = String(header);
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return 'invalid token format';
    const token = Buffer.from(value, 'base64').toString('utf8');
    const colon = token.indexOf(':');
    if (colon >= 0) {
      const user = token.slice(0, colon);
      const password = token.slice(colon + 1);
      if (auth.users && Object.hasOwn(auth.users, user) && auth.users[user] === password) return undefined;
      return 'auth check failure, please check username and password are correct';
    }
    if (auth.apiKeys?.includes(token)) return undefined;
    return 'auth check failure, please check api key is correct';
  }

  private flushEvents(): void {
    for (const e of this.state.drainEvents()) this.log(`${new Date(e.at).toISOString()} ${e.message}`);
  }
}

/**
 * The service with ListRefreshExternalCollectionJobs' answer encoded job by job, each ended job once: an
 * ended job's info object is kept by the state, so its bytes are kept beside it (24 h of jobs, 4 MB, would
 * otherwise be encoded again on every poll). Fields may come in any order on the wire.
 */
function withCachedJobEncoding(service: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const method = service.ListRefreshExternalCollectionJobs;
  if (!method) return service;
  const encode = method.responseSerialize as (value: Record<string, unknown>) => Buffer;
  const encoded = new WeakMap<object, Buffer>();
  const responseSerialize = (value: Record<string, unknown>): Buffer => {
    const { jobs, ...rest } = value;
    if (!Array.isArray(jobs) || jobs.length === 0) return encode(value);
    const parts = [encode(rest)];
    for (const job of jobs as object[]) {
      let bytes = encoded.get(job);
      if (!bytes) {
        bytes = encode({ jobs: [job] });
        encoded.set(job, bytes);
      }
      parts.push(bytes);
    }
    return Buffer.concat(parts);
  };
  return { ...service, ListRefreshExternalCollectionJobs: { ...method, responseSerialize } };
}

/** Convenience: `await startEmulator({...})`. */
export function startEmulator(options: EmulatorOptions = {}): Promise<MilvusEmulator> {
  return MilvusEmulator.start(options);
}

function str(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

function defaultFields(external: boolean): Partial<DecodedField>[] {
  const vector = { name: 'embedding', data_type: 'FloatVector', type_params: [{ key: 'dim', value: '4' }] };
  return external
    ? [{ name: 'id', data_type: 'Int64' }, vector]
    : [{ name: 'id', data_type: 'Int64', is_primary_key: true }, vector];
}

function describeSchema(
  schema: DecodedSchema,
  external: boolean,
  source: string,
  spec: string,
): Record<string, unknown> {
  const fields = schema.fields.map((f, i) => ({ ...f, fieldID: String(101 + i), state: 'FieldCreated' }));
  if (external) {
    fields.unshift({
      fieldID: '100',
      name: VIRTUAL_PK,
      is_primary_key: true,
      data_type: 'Int64',
      autoID: false,
      is_partition_key: false,
      is_clustering_key: false,
      external_field: '',
      state: 'FieldCreated',
    });
    // Source-backed fields are normalised to nullable.
    for (const f of fields) if (f.external_field !== '') f.nullable = true;
  }
  return { ...schema, fields, external_source: source, external_spec: redactExternalSpec(spec) };
}

function describeRequest(method: string, req: Record<string, unknown>, db: string): string {
  const parts = [`db=${db}`];
  if (req.collection_name) parts.push(`collection=${str(req.collection_name)}`);
  if (method === 'GetRefreshExternalCollectionProgress') parts.push(`job_id=${str(req.job_id)}`);
  // The spec may carry storage credentials: only its presence is logged, never its content.
  if (req.external_source)
    parts.push(`source=${str(req.external_source)}`, `spec=${req.external_spec ? '<set>' : '<empty>'}`);
  return ` ${parts.join(' ')}`;
}

function describeResponse(res: Record<string, unknown>): string {
  if (res.job_id) return `OK job_id=${str(res.job_id)}`;
  const info = res.job_info as JobInfo | undefined;
  if (info) return `OK ${info.state} ${info.progress}%${info.reason ? ` reason=${info.reason}` : ''}`;
  if (Array.isArray(res.jobs)) return `OK ${res.jobs.length} job(s)`;
  return 'OK';
}
