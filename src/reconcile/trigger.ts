/**
 * Triggers: what makes a run. A resource asks for a run when it is created, when a field that shapes the
 * Milvus job changes (JOB_FIELDS: the Milvus target, collectionName, externalSource, externalSpec,
 * externalSpecSecretRef), when `milvus.io/refresh-requested-at` gets a new value, and when spec.schedule
 * fires. A change of any other field (schedule, timeZone, suspend, limits, deadlines) is acknowledged in
 * observedGeneration but starts no run. `status.run` records which trigger the current run serves; the
 * schedule's fires are consumed through `status.scheduleCursor`, so however many fires passed, one run
 * catches up.
 */
import { hash } from 'node:crypto';
import { type ExternalCollectionRefresh, REFRESH_REQUESTED_AT, type RunStatus } from '../api/v1alpha1.js';
import { latestFire, parseSchedule } from './schedule.js';

/** The trigger the resource asks for now. */
export interface Trigger {
  generation: number;
  specHash: string;
  requestedAt: string;
  /** A fire of spec.schedule that is due and not consumed yet (epoch ms). */
  dueFireMs?: number;
}

/** Digest of the spec fields that shape the Milvus job. */
export function specHashOf(r: ExternalCollectionRefresh): string {
  const s = r.spec;
  const job = [
    s.milvus.address.toLowerCase(),
    s.milvus.database ?? 'default',
    s.collectionName,
    s.externalSource ?? null,
    s.externalSpec === undefined ? null : canonical(s.externalSpec),
    s.externalSpecSecretRef?.name ?? null,
  ];
  return hash('sha256', JSON.stringify(job), 'hex').slice(0, 16);
}

function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, value: unknown) =>
    value && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([x], [y]) => x.localeCompare(y)))
      : value,
  );
}

/** The due, unconsumed fire of spec.schedule at `now`, if any. */
export function dueFire(r: ExternalCollectionRefresh, now: number): number | undefined {
  const { schedule, timeZone = 'UTC' } = r.spec;
  const cursor = r.status?.scheduleCursor;
  // Fires count only from when the operator started counting under this very schedule: a new or changed
  // schedule starts no run by itself.
  if (!schedule || !cursor || cursor.schedule !== schedule || cursor.timeZone !== timeZone) return undefined;
  const parsed = parseSchedule(schedule, timeZone);
  return parsed.ok ? latestFire(parsed.cron, Date.parse(cursor.consumedUntil), now) : undefined;
}

export function desiredTrigger(r: ExternalCollectionRefresh, now: number): Trigger {
  const due = dueFire(r, now);
  return {
    generation: r.metadata.generation ?? 1,
    specHash: specHashOf(r),
    requestedAt: r.metadata.annotations?.[REFRESH_REQUESTED_AT] ?? '',
    ...(due !== undefined ? { dueFireMs: due } : {}),
  };
}

/** Whether `run` was started for the job the spec asks for now (older statuses recorded the generation). */
export function runMatchesSpec(run: RunStatus, r: ExternalCollectionRefresh, specHash = specHashOf(r)): boolean {
  return run.specHash !== undefined ? run.specHash === specHash : run.generation === (r.metadata.generation ?? 1);
}

/** Whether `run` serves the trigger the resource asks for at `now`. */
export function runServes(run: RunStatus | undefined, r: ExternalCollectionRefresh, now: number): boolean {
  const d = desiredTrigger(r, now);
  return (
    run !== undefined &&
    runMatchesSpec(run, r, d.specHash) &&
    run.requestedAt === d.requestedAt &&
    d.dueFireMs === undefined
  );
}

/** What the current trigger is, in words, for `run.trigger` and messages. */
export function triggerWords(r: ExternalCollectionRefresh, now: number): string {
  const run = r.status?.run;
  const d = desiredTrigger(r, now);
  if (!run) return 'created';
  if (!runMatchesSpec(run, r)) return `spec changed (generation ${d.generation})`;
  if (run.requestedAt !== d.requestedAt) return `refresh requested (${REFRESH_REQUESTED_AT}=${d.requestedAt})`;
  if (d.dueFireMs !== undefined) return `scheduled (${new Date(d.dueFireMs).toISOString()})`;
  return run.trigger;
}
