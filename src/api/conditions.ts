/** metav1.Condition bookkeeping for Ready / Reconciling / Stalled (kstatus, Argo CD, kubectl wait). */
import { type Reason, SUCCEEDED } from './reasons.js';
import type { Condition } from './v1alpha1.js';

export const READY = 'Ready';
export const RECONCILING = 'Reconciling';
export const STALLED = 'Stalled';

/** The resource's situation, which fixes all three conditions at once. */
export interface Situation {
  /**
   * ready: the current trigger's job completed; progressing: work under way; stalled: needs a change or time;
   * suspended: a run is due but spec.suspend holds it (all three conditions False).
   */
  kind: 'ready' | 'progressing' | 'stalled' | 'suspended';
  /** The reason shared by the True condition and Ready. */
  reason: Reason;
  message: string;
}

/**
 * Sets `next` in `conditions`, keeping lastTransitionTime when the status did not change (the
 * meta.SetStatusCondition contract). Returns a new array ordered Ready, Reconciling, Stalled.
 */
export function setCondition(
  conditions: readonly Condition[],
  next: Omit<Condition, 'lastTransitionTime'>,
  now: string,
): Condition[] {
  const existing = conditions.find((c) => c.type === next.type);
  const lastTransitionTime = existing && existing.status === next.status ? existing.lastTransitionTime : now;
  const updated = conditions.filter((c) => c.type !== next.type).concat({ ...next, lastTransitionTime });
  const order = [READY, RECONCILING, STALLED];
  return updated.sort((a, b) => rank(order, a.type) - rank(order, b.type));
}

function rank(order: string[], type: string): number {
  const i = order.indexOf(type);
  return i < 0 ? order.length : i;
}

/** Longest condition message written (the CRD allows 32768; texts Milvus or users supply can be longer). */
export const MAX_MESSAGE = 8_192;

/** `text` cut to `max` characters, saying how much was cut. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const note = `... [${text.length - max} more characters]`;
  return text.slice(0, Math.max(0, max - note.length)) + note;
}

/** The three conditions for a situation, at `generation`. */
export function conditionsFor(
  conditions: readonly Condition[],
  s: Situation,
  generation: number,
  now: string,
): Condition[] {
  s = { ...s, message: truncate(s.message, MAX_MESSAGE) };
  const ready = s.kind === 'ready';
  let out = setCondition(
    conditions,
    {
      type: READY,
      status: ready ? 'True' : 'False',
      observedGeneration: generation,
      reason: s.reason,
      message: s.message,
    },
    now,
  );
  out = setCondition(
    out,
    s.kind === 'progressing'
      ? { type: RECONCILING, status: 'True', observedGeneration: generation, reason: s.reason, message: s.message }
      : {
          type: RECONCILING,
          status: 'False',
          observedGeneration: generation,
          reason: ready ? SUCCEEDED : s.reason,
          message: ready ? 'Nothing to do' : s.message,
        },
    now,
  );
  out = setCondition(
    out,
    s.kind === 'stalled'
      ? { type: STALLED, status: 'True', observedGeneration: generation, reason: s.reason, message: s.message }
      : {
          type: STALLED,
          status: 'False',
          observedGeneration: generation,
          reason: ready ? SUCCEEDED : s.reason,
          message: ready ? 'Nothing to do' : 'Not stalled',
        },
    now,
  );
  return out;
}

/** The condition of `type`, if present. */
export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}
