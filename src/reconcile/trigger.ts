/**
 * Triggers: what makes a run. A resource asks for a run when it is created, when its generation changes, and
 * when `milvus.io/refresh-requested-at` gets a new value; the pair (generation, annotation value) names the
 * trigger, and `status.run` records which trigger the current run serves.
 */
import { type ExternalCollectionRefresh, REFRESH_REQUESTED_AT, type RunStatus } from '../api/v1alpha1.js';

/** The trigger the resource asks for now. */
export interface Trigger {
  generation: number;
  requestedAt: string;
}

export function desiredTrigger(r: ExternalCollectionRefresh): Trigger {
  return { generation: r.metadata.generation ?? 1, requestedAt: r.metadata.annotations?.[REFRESH_REQUESTED_AT] ?? '' };
}

/** Whether `run` serves the trigger the resource asks for now. */
export function runServes(run: RunStatus | undefined, r: ExternalCollectionRefresh): boolean {
  const d = desiredTrigger(r);
  return run !== undefined && run.generation === d.generation && run.requestedAt === d.requestedAt;
}

/** What the current trigger is, in words, for `run.trigger` and messages. */
export function triggerWords(r: ExternalCollectionRefresh): string {
  const run = r.status?.run;
  const d = desiredTrigger(r);
  if (!run) return 'created';
  if (run.generation !== d.generation) return `spec changed (generation ${d.generation})`;
  return `refresh requested (${REFRESH_REQUESTED_AT}=${d.requestedAt})`;
}
