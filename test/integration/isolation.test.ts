/**
 * One bad endpoint must not hold the shared workers (issue 11, defect 9): a Milvus that accepts TCP and never
 * answers, with many resources on it, beside a healthy emulator with a few.
 */
import { type Server, type Socket, createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubectlOk } from '../support/kubectl.js';
import { SPEC, TestEnv, condition } from '../support/env.js';

const env = new TestEnv('iso');
let silent: Server;
const sockets: Socket[] = [];

const BAD = 20;
const GOOD = 3;
const RPC_TIMEOUT_S = 5;
const WORKERS = 4;

describe('endpoint isolation', () => {
  beforeAll(async () => {
    await env.setUp();
    silent = createServer((s) => void sockets.push(s)); // accepts, never says a word
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  });

  afterAll(async () => {
    await env.tearDown();
    for (const s of sockets) s.destroy();
    await new Promise((r) => silent.close(r));
  });

  it('healthy endpoints finish far sooner than the bad endpoint could hold the workers; the bad ones show MilvusUnavailable', async () => {
    const port = (silent.address() as { port: number }).port;
    const item = (name: string, address: string): Record<string, unknown> => ({
      apiVersion: 'milvus.io/v1alpha1',
      kind: 'ExternalCollectionRefresh',
      metadata: { name, namespace: env.namespace },
      spec: { milvus: { address }, collectionName: name.replace('-', '_') },
    });
    const items = [];
    // The bad ones first: they are queued ahead of the healthy ones.
    for (let i = 0; i < BAD; i++) items.push(item(`bad-${i}`, `127.0.0.1:${port}`));
    for (let i = 0; i < GOOD; i++) {
      env.emulator.seedCollection({
        name: `good_${i}`,
        source: 's3://lake/good/',
        spec: { ...SPEC, extfs: { ...SPEC.extfs } },
      });
      items.push(item(`good-${i}`, env.emulator.address));
    }
    await kubectlOk(env.kubeconfig, ['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));

    const operator = env.startOperator({
      // --unavailable-stall well past the test's length: the bad ones stay Reconciling/MilvusUnavailable (with
      // the tests' 4 s they turned Stalled before they were checked when the machine was loaded).
      args: [`--rpc-timeout=${RPC_TIMEOUT_S}s`, '--submit-grace=10s', `--workers=${WORKERS}`, '--unavailable-stall=5m'],
    });
    await operator.waitForLog(/Controller started/);
    const started = Date.now();
    // Without isolation the bad resources keep every worker busy for BAD x deadline / workers = 25 s per round.
    const bound = (BAD * RPC_TIMEOUT_S * 1000) / WORKERS / 2;
    for (let i = 0; i < GOOD; i++) {
      const r = await env.waitFor(
        `good-${i}`,
        (x) => condition(x, 'Ready')?.status === 'True',
        Math.max(1, bound - (Date.now() - started)),
        'Ready=True',
      );
      expect(r.status?.state).toBe('RefreshCompleted');
    }
    const elapsed = Date.now() - started;
    expect(elapsed).toBeLessThan(bound);

    for (let i = 0; i < BAD; i++) {
      const r = await env.waitFor(
        `bad-${i}`,
        (x) => condition(x, 'Reconciling')?.reason === 'MilvusUnavailable',
        30_000,
        'Reconciling/MilvusUnavailable',
      );
      expect(condition(r, 'Reconciling')?.status).toBe('True');
      expect(condition(r, 'Ready')?.status).toBe('False');
      expect(condition(r, 'Ready')?.message).toContain(`127.0.0.1:${port}`);
    }
    // At least some were refused at once, with the time the endpoint was found unreachable.
    const messages = await Promise.all(
      Array.from({ length: BAD }, async (_, i) => condition(await env.get(`bad-${i}`), 'Ready')?.message ?? ''),
    );
    expect(messages.some((m) => /unreachable at \d{4}-\d\d-\d\dT/.test(m))).toBe(true);
    expect(operator.alive).toBe(true);
    // Calls not made because the endpoint was known unreachable or busy are counted.
    expect(await operator.metric('milvus_refresh_endpoint_refusals_total')).toBeGreaterThan(0);
    console.log(
      `healthy endpoint: ${GOOD} resources Ready in ${elapsed} ms beside ${BAD} on a silent endpoint (bound ${bound} ms)`,
    );
  });
});
