/** Durations for the CLI flags, written the way Kubernetes and Go write them: "500ms", "10s", "5m", "1h30m". */

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses "1h30m", "10s", "250ms" or a bare number of milliseconds; throws naming `field` on bad input. */
export function parseDurationMs(text: string, field = 'duration'): number {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(trimmed); m; m = re.exec(trimmed)) {
    total += Number(m[1]) * UNITS[m[2]!]!;
    consumed = re.lastIndex;
  }
  if (trimmed === '' || consumed !== trimmed.length) {
    throw new Error(`${field}: ${JSON.stringify(text)} is not a duration (use e.g. 500ms, 10s, 5m, 1h30m)`);
  }
  return total;
}
