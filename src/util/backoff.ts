/** Exponential backoff: base * 2^failures, capped at max, with +-10% jitter unless `random` says otherwise. */
export function backoffMs(failures: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const raw = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(failures, 0), 30));
  return Math.round(raw * (0.9 + 0.2 * random()));
}

/** No jitter: `random` for deterministic schedules. */
export const NO_JITTER = (): number => 0.5;
