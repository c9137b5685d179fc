/**
 * Crash points for tests of crash safety: `ECR_FAILPOINTS=after-intent,after-refresh` names the steps of a
 * submission at which the process must die exactly as a node failure would. main.ts wires them in only
 * when the variable is set; in production nothing is called.
 */
import type { SubmissionStep } from '../reconcile/reconciler.js';

const STEPS: readonly SubmissionStep[] = ['after-intent', 'after-refresh', 'after-record'];

/** The steps named in `spec` (comma-separated); undefined when none. Throws on an unknown name. */
export function parseFailpoints(spec: string | undefined): ReadonlySet<SubmissionStep> | undefined {
  const names = (spec ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 0) return undefined;
  for (const n of names) {
    if (!STEPS.includes(n as SubmissionStep))
      throw new Error(`ECR_FAILPOINTS: unknown failpoint ${JSON.stringify(n)} (known: ${STEPS.join(', ')})`);
  }
  return new Set(names as SubmissionStep[]);
}
