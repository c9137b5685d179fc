/**
 * Crash points for tests of crash safety: `ECR_FAILPOINTS=after-intent,after-refresh` makes the process
 * kill itself with SIGKILL when it reaches one of them, exactly as a node failure would. Unset in production.
 */
const enabled = new Set(
  (process.env.ECR_FAILPOINTS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);

/** Named points of the submission sequence. */
export type Failpoint = 'after-intent' | 'after-refresh' | 'after-record';

/** Dies here if the failpoint is enabled. */
export function failpoint(name: Failpoint): void {
  if (enabled.has(name)) {
    process.stderr.write(`failpoint ${name}: killing the process\n`);
    process.kill(process.pid, 'SIGKILL');
  }
}
