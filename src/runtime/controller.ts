/**
 * Runs reconciles: N workers take keys from the work queue; a key is never reconciled twice at once; the
 * error policy (policy.ts) turns each outcome into one queue step. Every log line of a reconcile carries
 * the key and a reconcile id.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger.js';
import type { Requeue } from '../reconcile/model.js';
import { ConflictError, EndpointBusyError } from '../reconcile/ports.js';
import { type ReconcileResult, queueStep } from './policy.js';
import type { Priority, WorkQueue } from './workqueue.js';

export interface ControllerHooks {
  reconciled?(result: ReconcileResult, seconds: number): void;
  activeWorkers?(n: number): void;
}

export interface ControllerOptions {
  queue: WorkQueue;
  reconcile: (key: string, log: Logger) => Promise<Requeue>;
  log: Logger;
  /** Describes an error for the log (the API server's message, not a stack). */
  describeError: (err: unknown) => string;
  hooks?: ControllerHooks;
}

export class Controller {
  private readonly workers: Promise<void>[] = [];
  private active = 0;

  constructor(private readonly options: ControllerOptions) {}

  /**
   * Starts `n` workers, and `reserved` more that take only `urgent` keys (a job Milvus reports ended), so a
   * finished job reaches its status within a poll even while every other worker is busy with a submission.
   */
  start(n: number, reserved = 0): void {
    for (let i = 0; i < n; i++) this.workers.push(this.work('normal'));
    for (let i = 0; i < reserved; i++) this.workers.push(this.work('urgent'));
  }

  /** Resolves when every worker has finished its current key after queue.shutdown(). */
  async drain(): Promise<void> {
    await Promise.all(this.workers);
  }

  private async work(min: Priority): Promise<void> {
    const { queue, hooks } = this.options;
    for (let key = await queue.get(min); key !== undefined; key = await queue.get(min)) {
      hooks?.activeWorkers?.(++this.active);
      try {
        await this.process(key);
      } finally {
        hooks?.activeWorkers?.(--this.active);
        queue.done(key);
      }
    }
  }

  /** One reconcile of `key`, then the queue step the error policy chooses. */
  private async process(key: string): Promise<void> {
    const { queue, hooks } = this.options;
    const log = this.options.log.child({ refresh: key, reconcileID: randomUUID() });
    const started = Date.now();
    let outcome: { requeue: Requeue } | { error: unknown };
    try {
      outcome = { requeue: await this.options.reconcile(key, log) };
    } catch (error) {
      outcome = { error };
    }
    const step = queueStep(outcome);
    switch (step.kind) {
      case 'forget':
        queue.forget(key);
        break;
      case 'after':
        if (step.forget) queue.forget(key);
        queue.addAfter(key, step.ms);
        break;
      case 'backoff': {
        const delay = queue.addRateLimited(key);
        if ('error' in outcome && outcome.error instanceof ConflictError) {
          log.debug('Reconcile hit a write conflict; re-reading from the API server', { retryInMs: delay });
        } else if ('error' in outcome && outcome.error instanceof EndpointBusyError) {
          log.debug('Reconcile deferred: its Milvus endpoint is busy', { retryInMs: delay });
        } else if ('error' in outcome) {
          log.error('Reconcile failed', { error: this.options.describeError(outcome.error), retryInMs: delay });
        }
        break;
      }
    }
    hooks?.reconciled?.(step.result, (Date.now() - started) / 1000);
  }
}
