/**
 * spec.schedule and spec.timeZone, evaluated with croner (5-field cron and the @-macros, IANA zones).
 * Daylight saving follows Vixie cron, as croner does: a fixed time that is skipped (spring forward) runs
 * once, at the first valid time after the gap; a fixed time that occurs twice (fall back) runs once, at
 * its first occurrence. Pure: every function takes the time it works on.
 */
import { Cron } from 'croner';

export type ParsedSchedule =
  { ok: true; cron: Cron } | { ok: false; field: 'spec.schedule' | 'spec.timeZone'; message: string };

const cache = new Map<string, ParsedSchedule>();

/** Parses a schedule in a time zone (default UTC); the failure names the field to fix. */
export function parseSchedule(schedule: string, timeZone = 'UTC'): ParsedSchedule {
  const key = `${schedule}\n${timeZone}`;
  const hit = cache.get(key);
  if (hit) return hit;
  let parsed: ParsedSchedule;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    try {
      // domAndDow false: a day-of-month and a day-of-week both set match either, as in Vixie cron and CronJob.
      const cron = new Cron(schedule, {
        timezone: timeZone,
        mode: '5-part',
        paused: true,
        domAndDow: false,
        fixedTimeRule: 'no-wildcard',
      });
      parsed = { ok: true, cron };
    } catch (err) {
      parsed = {
        ok: false,
        field: 'spec.schedule',
        message: `spec.schedule ${JSON.stringify(schedule)} is not valid: ${(err as Error).message.replace(/^CronPattern: /, '')}`,
      };
    }
  } catch {
    parsed = {
      ok: false,
      field: 'spec.timeZone',
      message: `spec.timeZone ${JSON.stringify(timeZone)} is not a known IANA time zone`,
    };
  }
  if (cache.size > 10_000) cache.clear();
  cache.set(key, parsed);
  return parsed;
}

/** The latest fire time in (afterMs, nowMs], if any. */
export function latestFire(cron: Cron, afterMs: number, nowMs: number): number | undefined {
  const candidates = cron.previousRuns(2, new Date(nowMs + 1_000)).map((d) => d.getTime());
  const latest = candidates.find((t) => t <= nowMs);
  return latest !== undefined && latest > afterMs ? latest : undefined;
}

/** The first fire time after nowMs. */
export function nextFire(cron: Cron, nowMs: number): number | undefined {
  return cron.nextRun(new Date(nowMs))?.getTime();
}

/** The time between the two fires before `nowMs` (what "on time" means for an alert on this schedule). */
export function fireIntervalMs(cron: Cron, nowMs: number): number | undefined {
  const [a, b] = cron.previousRuns(2, new Date(nowMs)).map((d) => d.getTime());
  return a !== undefined && b !== undefined ? a - b : undefined;
}
