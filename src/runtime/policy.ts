/**
 * The error policy: the one place where a reconcile's outcome becomes what the work queue does with its
 * key (kube-rs' `error_policy`, controller-runtime's `reconcileHandler`). Pure: no clock, no IO.
 */
import type { Requeue } from '../reconcile/model.js';
import { ConflictError, EndpointBusyError } from '../reconcile/ports.js';

/** How a reconcile ended: with the decision's requeue, or with an error it threw. */
export type Outcome = { requeue: Requeue } | { error: unknown };

/** controller-runtime's result labels of `controller_runtime_reconcile_total`. */
export type ReconcileResult = 'success' | 'error' | 'requeue' | 'requeue_after';

export type QueueStep =
  /** Done until something changes: the key's backoff is reset. */
  | { kind: 'forget'; result: ReconcileResult }
  /** Look again after `ms`; `forget` resets the key's backoff first. */
  | { kind: 'after'; ms: number; forget: boolean; result: ReconcileResult }
  /** Look again after the key's next exponential backoff delay. */
  | { kind: 'backoff'; result: ReconcileResult };

export function queueStep(outcome: Outcome): QueueStep {
  if ('error' in outcome) {
    // Someone wrote meanwhile: the reconciler re-reads the object from the API server next time. A conflict
    // is a retry like any other, with the key's backoff, so a stale cache cannot make a hot loop.
    if (outcome.error instanceof ConflictError) return { kind: 'backoff', result: 'requeue' };
    // The Milvus endpoint has its share of calls in flight (runtime/endpoint-gate.ts): try again later.
    if (outcome.error instanceof EndpointBusyError) return { kind: 'backoff', result: 'requeue' };
    return { kind: 'backoff', result: 'error' };
  }
  const requeue = outcome.requeue;
  if (requeue === undefined) return { kind: 'forget', result: 'success' };
  if ('backoff' in requeue) return { kind: 'backoff', result: 'requeue' };
  return { kind: 'after', ms: requeue.afterMs, forget: true, result: 'requeue_after' };
}
