/** Drives pymilvus from a test through test/conformance/pymilvus_driver.py (one process, JSON lines). */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** An answer of the driver. */
export type PyAnswer<T = unknown> =
  { ok: true; result: T } | { ok: false; kind: string; code: number | null; message: string };

/** A pymilvus client living in a Python process. */
export class PyMilvus {
  private readonly proc: ChildProcessWithoutNullStreams;
  private readonly waiting: ((line: string) => void)[] = [];
  private stderr = '';

  constructor(python: string) {
    this.proc = spawn(python, [join(import.meta.dirname, '..', 'conformance', 'pymilvus_driver.py')], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.proc.stderr.on('data', (d: Buffer) => {
      this.stderr += d.toString();
    });
    createInterface({ input: this.proc.stdout }).on('line', (line) => this.waiting.shift()?.(line));
  }

  /** Sends one command and resolves with its answer. */
  call<T = unknown>(cmd: Record<string, unknown>, timeoutMs = 30_000): Promise<PyAnswer<T>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`pymilvus driver timed out on ${JSON.stringify(cmd)}; stderr:\n${this.stderr}`)),
        timeoutMs,
      );
      this.waiting.push((line) => {
        clearTimeout(timer);
        resolve(JSON.parse(line) as PyAnswer<T>);
      });
      this.proc.stdin.write(`${JSON.stringify(cmd)}\n`);
    });
  }

  /** Like call() but throws unless the answer is ok. */
  async ok<T = unknown>(cmd: Record<string, unknown>): Promise<T> {
    const answer = await this.call<T>(cmd);
    if (!answer.ok)
      throw new Error(`pymilvus ${String(cmd.op)} failed: ${answer.kind} ${answer.code} ${answer.message}`);
    return answer.result;
  }

  close(): void {
    this.proc.stdin.end();
    this.proc.kill();
  }
}
