/** Per-test-file world: a namespace, an emulator, the operator, and kubectl helpers scoped to them. */
import { inject } from 'vitest';
import { type ExternalCollectionRefresh } from '../../src/api/v1alpha1.js';
import { type EmulatorOptions, type MilvusEmulator, startEmulator } from 'milvus-refresh-emulator';
import { kubectl, kubectlOk, uniqueNamespace } from './kubectl.js';
import { OperatorProcess, type OperatorOptions } from './operator.js';

export const SPEC = { format: 'parquet', extfs: { cloud_provider: 'aws', region: 'us-west-2', anonymous: 'true' } };

export class TestEnv {
  readonly namespace: string;
  readonly kubeconfig = inject('kubeconfig');
  readonly operatorKubeconfig = inject('operatorKubeconfig');
  emulator!: MilvusEmulator;
  private readonly operators: OperatorProcess[] = [];

  constructor(prefix: string) {
    this.namespace = uniqueNamespace(prefix);
  }

  /** Creates the namespace and starts an emulator with quick jobs. */
  async setUp(emulator: EmulatorOptions = {}): Promise<void> {
    await kubectlOk(this.kubeconfig, ['create', 'namespace', this.namespace]);
    this.emulator = await startEmulator({
      timings: { persistDelayMs: 100, job: { durationMs: 2_000, pendingMs: 300 }, ...emulator.timings },
      ...emulator,
    });
  }

  /** Stops every operator this file started (so one test's operator never acts in the next test). */
  async stopOperators(): Promise<void> {
    await Promise.all(this.operators.splice(0).map((o) => o.stop()));
  }

  async tearDown(): Promise<void> {
    await this.stopOperators();
    await this.emulator?.close();
    await kubectl(this.kubeconfig, ['delete', 'namespace', this.namespace, '--wait=false']);
  }

  /** Starts an operator (with the ServiceAccount's least-privilege token) watching this namespace. */
  startOperator(options: Partial<OperatorOptions> = {}): OperatorProcess {
    const op = new OperatorProcess({ kubeconfig: this.operatorKubeconfig, namespace: this.namespace, ...options });
    this.operators.push(op);
    return op;
  }

  /** kubectl as the admin user, in this namespace. */
  k(...args: string[]): Promise<string> {
    return kubectlOk(this.kubeconfig, ['-n', this.namespace, ...args]);
  }

  /** kubectl that may fail. */
  kTry(...args: string[]): ReturnType<typeof kubectl> {
    return kubectl(this.kubeconfig, ['-n', this.namespace, ...args]);
  }

  /** kubectl apply of an ExternalCollectionRefresh for `collection` on the emulator. */
  async applyRefresh(
    name: string,
    spec: Record<string, unknown> = {},
    metadata: Record<string, unknown> = {},
  ): Promise<void> {
    const body = {
      apiVersion: 'milvus.io/v1alpha1',
      kind: 'ExternalCollectionRefresh',
      metadata: { name, namespace: this.namespace, ...metadata },
      spec: { milvus: { address: this.emulator.address }, collectionName: name, ...spec },
    };
    await kubectlOk(this.kubeconfig, ['apply', '-f', '-'], JSON.stringify(body));
  }

  async get(name: string): Promise<ExternalCollectionRefresh> {
    return JSON.parse(
      await this.k('get', 'externalcollectionrefresh', name, '-o', 'json'),
    ) as ExternalCollectionRefresh;
  }

  /** Polls the resource until `predicate` holds. */
  async waitFor(
    name: string,
    predicate: (r: ExternalCollectionRefresh) => boolean,
    timeoutMs = 30_000,
    what = 'condition',
  ): Promise<ExternalCollectionRefresh> {
    const deadline = Date.now() + timeoutMs;
    let last: ExternalCollectionRefresh | undefined;
    while (Date.now() < deadline) {
      last = await this.get(name);
      if (predicate(last)) return last;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(
      `${name}: ${what} not reached in ${timeoutMs} ms; status:\n${JSON.stringify(last?.status, null, 2)}`,
    );
  }

  /** Waits until the Ready condition has `reason`. */
  waitForReason(name: string, reason: string, timeoutMs = 30_000): Promise<ExternalCollectionRefresh> {
    return this.waitFor(
      name,
      (r) => r.status?.conditions?.find((c) => c.type === 'Ready')?.reason === reason,
      timeoutMs,
      `Ready reason ${reason}`,
    );
  }

  /** Events about `name` as kubectl shows them. */
  async events(name: string): Promise<{ type: string; reason: string; note: string }[]> {
    const out = JSON.parse(
      await this.k('get', 'events.events.k8s.io', '-o', 'json', '--field-selector', `regarding.name=${name}`),
    ) as {
      items: { type: string; reason: string; note: string }[];
    };
    return out.items.map(({ type, reason, note }) => ({ type, reason, note }));
  }
}

/** Condition of `type`. */
export function condition(
  r: ExternalCollectionRefresh,
  type: string,
): { status: string; reason: string; message: string } | undefined {
  return r.status?.conditions?.find((c) => c.type === type);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
