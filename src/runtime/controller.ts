/**
 * Runs reconciles: N workers take keys from the work queue; a key is never reconciled twice at once; the
 * result decides the requeue (delay, backoff, or nothing); a reconcile that throws backs off per key.
 */
import type { Logger } from '../logger.js';
import type { Action } from '../reconcile/reconciler.js';
import { ConflictError } from '../reconcile/ports.js';
import type { WorkQueue } from './workqueue.js';
import { apiErrorMessage } from '../adapters/kube.js';

export interface ControllerHooks {
  /** result: success | error | requeue | requeue_after (controller-runtime's labels). */
  reconciled?(result: 'success' | 'error' | 'requeue' | 'requeue_after', seconds: number): void;
  activeWorkers?(n: number): void;
}

export class Controller {
  private readonly workers: Promise<void>[] = [];
  private active = 0;

  constructor(
    private readonly queue: WorkQueue,
    private readonly reconcile: (key: string) => Promise<Action>,
    private readonly log: Logger,
    private readonly hooks: ControllerHooks = {},
  ) {}

  /** Starts `n` workers. */
  start(n: number): void {
    for (let i = 0; i < n; i++) this.workers.push(this.work());
  }

  /** Resolves when every worker has finished its current key after queue.shutdown(). */
  async drain(): Promise<void> {
    await Promise.all(this.workers);
  }

  private async work(): Promise<void> {
    for (let key = await this.queue.get(); key !== undefined; key = await this.queue.get()) {
      this.hooks.activeWorkers?.(++this.active);
      const started = Date.now();
      try {
        const action = await this.reconcile(key);
        const seconds = (Date.now() - started) / 1000;
        if (action.backoff) {
          this.queue.addRateLimited(key);
          this.hooks.reconciled?.('requeue', seconds);
        } else {
          this.queue.forget(key);
          if (action.requeueAfterMs !== undefined) {
            this.queue.addAfter(key, action.requeueAfterMs);
            this.hooks.reconciled?.('requeue_after', seconds);
          } else {
            this.hooks.reconciled?.('success', seconds);
          }
        }
      } catch (err) {
        const seconds = (Date.now() - started) / 1000;
        if (err instanceof ConflictError) {
          // Someone wrote meanwhile: the watch brings the new version; look again shortly.
          this.log.debug('Reconcile hit a conflict; retrying', { refresh: key });
          this.queue.addAfter(key, 250);
          this.hooks.reconciled?.('requeue_after', seconds);
        } else {
          const delay = this.queue.addRateLimited(key);
          this.log.error('Reconcile failed', { refresh: key, error: apiErrorMessage(err), retryInMs: delay });
          this.hooks.reconciled?.('error', seconds);
        }
      } finally {
        this.hooks.activeWorkers?.(--this.active);
        this.queue.done(key);
      }
    }
  }
}
