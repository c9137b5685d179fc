#!/usr/bin/env node
/**
 * `milvus-refresh-emulator --port 19530 ...` (in the operator's repository: `npm run emulator -- ...`): the
 * Milvus refresh emulator for people (demos, GitOps pipeline tests on a laptop). Logs one line per RPC.
 * See `--help`.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseDurationMs } from './duration.js';
import { startEmulator } from './server.js';
import type { JobBehaviour } from './state.js';

const HELP = `Milvus external-collection refresh emulator (speaks Milvus 3.0 gRPC)

Usage: milvus-refresh-emulator [options]
       (in the milvus-refresh-operator repository: npm run emulator -- [options])

  --port <n>                  port to listen on (default 19530; 0 picks a free one)
  --host <addr>               address to bind (default 127.0.0.1)
  --collection <spec>         seed an external collection, repeatable:
                                NAME                    with source s3://lake/NAME/ and --spec
                                NAME=SOURCE             with that source and --spec
                                NAME=                   deferred (no source/spec yet)
                                DB/NAME...              in database DB (created if missing)
  --plain-collection <name>   seed an ordinary (non-external) collection, repeatable
  --spec <json>               spec for seeded collections
                              (default {"format":"parquet","extfs":{"cloud_provider":"aws","region":"us-east-1","anonymous":"true"}})
  --job-duration <d>          how long a refresh job takes (default 10s)
  --pending <d>               planning time in RefreshPending, part of the duration (default 1s)
  --persist-delay <d>         RPC return to job visible, like Milvus' async WAL ack (default 0)
  --job-timeout <d>           dataCoord.externalCollectionJobTimeout (default 1h)
  --retention <d>             dataCoord.externalCollectionJobRetention (default 24h)
  --fail <NAME@PCT[:REASON]>  jobs of NAME fail at PCT% with REASON, repeatable
  --stuck <NAME[:REASON]>     jobs of NAME stay RefreshPending (REASON as transient cause) until the timeout
  --latency <d>               delay every response
  --user <user:password>      require authentication; accept this user (repeatable)
  --api-key <key>             require authentication; accept this API key (repeatable)
  --tls-cert <file>           serve TLS with this certificate chain (PEM)
  --tls-key <file>            ... and this private key (PEM)
  --tls-client-ca <file>      require client certificates signed by this CA (mutual TLS)
  --quiet                     no per-RPC log lines
  --help
`;

const DEFAULT_SPEC = JSON.stringify({
  format: 'parquet',
  extfs: { cloud_provider: 'aws', region: 'us-east-1', anonymous: 'true' },
});

function fail(message: string): never {
  console.error(`emulator: ${message}\n\nRun with --help for usage.`);
  process.exit(2);
}

function splitDb(ref: string): { db: string | undefined; name: string } {
  const slash = ref.indexOf('/');
  return slash > 0 ? { db: ref.slice(0, slash), name: ref.slice(slash + 1) } : { db: undefined, name: ref };
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: 'string', default: '19530' },
        host: { type: 'string', default: '127.0.0.1' },
        collection: { type: 'string', multiple: true, default: [] },
        'plain-collection': { type: 'string', multiple: true, default: [] },
        spec: { type: 'string', default: DEFAULT_SPEC },
        'job-duration': { type: 'string', default: '10s' },
        pending: { type: 'string', default: '1s' },
        'persist-delay': { type: 'string', default: '0' },
        'job-timeout': { type: 'string', default: '1h' },
        retention: { type: 'string', default: '24h' },
        fail: { type: 'string', multiple: true, default: [] },
        stuck: { type: 'string', multiple: true, default: [] },
        latency: { type: 'string', default: '0' },
        user: { type: 'string', multiple: true, default: [] },
        'api-key': { type: 'string', multiple: true, default: [] },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        'tls-client-ca': { type: 'string' },
        quiet: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    }));
  } catch (err) {
    fail((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port: ${values.port} is not a port number`);
  const d = (flag: string, value: string): number => {
    try {
      return parseDurationMs(value, `--${flag}`);
    } catch (err) {
      return fail((err as Error).message);
    }
  };
  try {
    JSON.parse(values.spec);
  } catch {
    fail('--spec: not valid JSON');
  }
  const users: Record<string, string> = {};
  for (const u of values.user) {
    const i = u.indexOf(':');
    if (i <= 0) fail(`--user: expected user:password, got ${JSON.stringify(u.replace(/:.*/, ':***'))}`);
    users[u.slice(0, i)] = u.slice(i + 1);
  }
  const authRequired = values.user.length > 0 || values['api-key'].length > 0;
  if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined))
    fail('--tls-cert and --tls-key go together');
  const read = (flag: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      return fail(`--${flag}: ${(err as Error).message}`);
    }
  };

  const behaviours = new Map<string, Partial<JobBehaviour>>();
  const merge = (ref: string, b: Partial<JobBehaviour>): void => {
    behaviours.set(ref, { ...behaviours.get(ref), ...b });
  };
  for (const f of values.fail) {
    const m = /^([^@]+)@(\d{1,2})(?::(.*))?$/.exec(f);
    if (!m) fail(`--fail: expected NAME@PCT[:REASON], got ${JSON.stringify(f)}`);
    merge(m[1]!, { failAtPercent: Number(m[2]), failReason: m[3] ?? `emulated failure at ${m[2]}%` });
  }
  for (const s of values.stuck) {
    const [ref, ...reason] = s.split(':');
    merge(ref!, { stuck: true, ...(reason.length ? { transientReason: reason.join(':') } : {}) });
  }
  const emulator = await startEmulator({
    port,
    host: values.host,
    timings: {
      persistDelayMs: d('persist-delay', values['persist-delay']),
      jobTimeoutMs: d('job-timeout', values['job-timeout']),
      retentionMs: d('retention', values.retention),
      job: { durationMs: d('job-duration', values['job-duration']), pendingMs: d('pending', values.pending) },
    },
    ...(authRequired ? { auth: { users, apiKeys: values['api-key'] } } : {}),
    ...(values['tls-cert'] && values['tls-key']
      ? {
          tls: {
            cert: read('tls-cert', values['tls-cert']),
            key: read('tls-key', values['tls-key']),
            ...(values['tls-client-ca'] ? { clientCa: read('tls-client-ca', values['tls-client-ca']) } : {}),
          },
        }
      : {}),
    log: values.quiet ? () => undefined : (line) => console.log(line),
  }).catch((err: Error) => fail(`cannot listen on ${values.host}:${port}: ${err.message}`));
  emulator.setLatency(d('latency', values.latency));

  try {
    for (const ref of values.collection) {
      const eq = ref.indexOf('=');
      const { db, name } = splitDb(eq >= 0 ? ref.slice(0, eq) : ref);
      const source = eq >= 0 ? ref.slice(eq + 1) : `s3://lake/${name}/`;
      emulator.seedCollection({ name, ...(db ? { db } : {}), source, spec: source === '' ? '' : values.spec });
      console.log(`seeded external collection ${db ?? 'default'}/${name}${source ? ` from ${source}` : ' (deferred)'}`);
    }
    for (const ref of values['plain-collection']) {
      const { db, name } = splitDb(ref);
      emulator.seedCollection({ name, ...(db ? { db } : {}), external: false });
      console.log(`seeded ordinary collection ${db ?? 'default'}/${name}`);
    }
    for (const [ref, b] of behaviours) {
      const { db, name } = splitDb(ref);
      emulator.setJobBehaviour(name, b, db);
    }
  } catch (err) {
    await emulator.close();
    fail((err as Error).message);
  }

  console.log(
    `Milvus refresh emulator (Node ${process.version}) ready at ${emulator.address}${authRequired ? ' (authentication required)' : ''}; Ctrl-C stops it`,
  );
  const shutdown = (): void => {
    void emulator.close().then(() => process.exit(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

await main();
