/** The operator as a separate process (node dist/main.js), so tests can kill -9 it like a node failure. */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from '../../tools/paths.js';

export interface OperatorOptions {
  kubeconfig: string;
  namespace: string;
  /** Extra flags (they override the fast test defaults below). */
  args?: string[];
  /** ECR_FAILPOINTS: the process SIGKILLs itself at these points. */
  failpoints?: string[];
  /** Node's own flags, before dist/main.js (e.g. the image's, from tools/production-start.ts). */
  nodeFlags?: string[];
}

/** Fast settings for tests: sub-second polling, short grace, quick backoff. */
export const TEST_FLAGS = [
  '--poll-interval=500ms',
  '--submit-grace=3s',
  '--rpc-timeout=2s',
  '--backoff-base=200ms',
  '--backoff-max=3s',
  '--unavailable-stall=4s',
  '--metrics-bind-address=127.0.0.1:0',
  '--health-probe-bind-address=127.0.0.1:0',
  '--log-level=debug',
];

export class OperatorProcess {
  readonly proc: ChildProcess;
  readonly lines: string[] = [];
  readonly exited: Promise<number | null>;

  constructor(options: OperatorOptions) {
    this.proc = spawn(
      process.execPath,
      [
        ...(options.nodeFlags ?? []),
        join(REPO_ROOT, 'dist', 'main.js'),
        `--kubeconfig=${options.kubeconfig}`,
        `--namespace=${options.namespace}`,
        ...TEST_FLAGS,
        ...(options.args ?? []),
      ],
      {
        env: { ...process.env, ECR_FAILPOINTS: (options.failpoints ?? []).join(',') },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    for (const stream of [this.proc.stdout!, this.proc.stderr!])
      createInterface({ input: stream }).on('line', (l) => this.lines.push(l));
    this.exited = new Promise((resolve) => this.proc.once('exit', (code, signal) => resolve(signal ? null : code)));
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** All log output so far. */
  text(): string {
    return this.lines.join('\n');
  }

  /** Resolves when a log line matches. */
  async waitForLog(re: RegExp, timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const hit = this.lines.find((l) => re.test(l));
      if (hit) return hit;
      if (!this.alive) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`operator log never matched ${re}; last lines:\n${this.lines.slice(-20).join('\n')}`);
  }

  /** The value of a Prometheus metric from the operator's /metrics (summed over its label sets). */
  async metric(name: string): Promise<number> {
    const line = await this.waitForLog(/"message":"Serving metrics"/);
    const port = (JSON.parse(line) as { port: number }).port;
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    return text
      .split('\n')
      .filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
      .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
  }

  /** kill -9. */
  async kill9(): Promise<void> {
    if (this.alive) this.proc.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM and wait. */
  async stop(): Promise<void> {
    if (this.alive) this.proc.kill('SIGTERM');
    await this.exited;
  }
}
