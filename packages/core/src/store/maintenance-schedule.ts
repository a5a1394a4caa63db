/**
 * Maintenance windows that recur in an IANA time zone or on a cron schedule. Occurrences come
 * from croner, which follows Vixie cron across DST changes:
 *
 * - a start time skipped by the spring-forward gap starts at the end of the gap, the same day
 *   (Sunday 02:30 in Europe/Berlin on 2027-03-28 starts at 03:00 CEST, 01:00 UTC);
 * - a fixed start time that occurs twice at fall-back starts once, at its first occurrence;
 * - a cron schedule with a list, range, step or wildcard in minutes or hours skips times that do
 *   not exist and runs on both occurrences of repeated ones.
 *
 * A window opens at an occurrence and stays open for its duration in real time, so a 60-minute
 * window lasts 60 minutes on a day with 23 or 25 hours. Cron expressions have 5 fields (minute
 * granularity) or are a nickname (@daily, @weekly, …).
 */
import { Cron } from 'croner';

/** What decides when a zoned or cron window is open. */
export interface ZonedSchedule {
  /** A 5-field cron pattern or nickname, read in `timeZone`. */
  pattern: string;
  timeZone: string;
  durationMs: number;
}

/** Days 0–6 (0 = Sunday) at "HH:MM": the weekly form as a cron pattern. */
export function weeklyPattern(days: readonly number[], start: string): string {
  const [hh, mm] = start.split(':').map(Number) as [number, number];
  return `${mm} ${hh} * * ${[...days].sort((a, b) => a - b).join(',')}`;
}

/** An IANA zone name as written in the tz database (letters, digits, _ + - and /). */
export const TIME_ZONE_PATTERN = '^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$';
const ZONE = new RegExp(TIME_ZONE_PATTERN);
const CRON_FIELDS = /^\S+(\s+\S+){4}$/;

/** Why `tz` is not a time zone this runtime knows, or null. */
export function timeZoneProblem(tz: string): string | null {
  if (tz.length <= 64 && ZONE.test(tz)) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: tz });
      return null;
    } catch {
      // unknown to ICU: answered below
    }
  }
  return `unknown time zone ${JSON.stringify(tz.slice(0, 64))} (an IANA name such as Europe/Berlin or UTC)`;
}

/** Why `pattern` (read in the valid zone `timeZone`) cannot schedule a window from `now` on, or null. */
export function cronProblem(pattern: string, timeZone: string, now: number): string | null {
  const text = pattern.trim();
  if (!CRON_FIELDS.test(text) && !/^@[a-z]+$/.test(text)) return 'a cron expression has 5 fields (minute hour day-of-month month day-of-week) or is a nickname such as @daily';
  let next: Date | null;
  try {
    next = new Cron(text, { timezone: timeZone, mode: '5-part' }).nextRun(new Date(now));
  } catch (err) {
    return `not a valid cron expression: ${String((err as Error)?.message ?? err).replace(/^CronPattern:\s*/, '')}`.slice(0, 300);
  }
  return next ? null : 'the cron expression never fires';
}

interface Entry {
  cron: Cron | null;
  durationMs: number;
  /** The state over [from, until): open or not, unchanged in between. */
  span: { from: number; until: number; open: boolean } | null;
}

/** Parsed schedules by pattern, zone and duration; past this many, the least recently used goes. */
const MAX_ENTRIES = 4096;
const entries = new Map<string, Entry>();

function entryOf(s: ZonedSchedule): Entry {
  const key = `${s.timeZone}\u0000${s.durationMs}\u0000${s.pattern}`;
  let e = entries.get(key);
  if (e) {
    // Most recently used last: a sync pass over more schedules than fit keeps the ones it reuses.
    entries.delete(key);
    entries.set(key, e);
    return e;
  }
  while (entries.size >= MAX_ENTRIES) entries.delete(entries.keys().next().value!);
  let cron: Cron | null = null;
  try {
    cron = new Cron(s.pattern.trim(), { timezone: s.timeZone, mode: '5-part' });
  } catch {
    // Stored before the runtime stopped accepting it: such a window never opens.
  }
  e = { cron, durationMs: s.durationMs, span: null };
  entries.set(key, e);
  return e;
}

/** The first occurrence strictly after `at` (ms), or null: never (or the zone became unknown). */
function nextStart(cron: Cron, at: number): number | null {
  try {
    return cron.nextRun(new Date(at))?.getTime() ?? null;
  } catch {
    return null;
  }
}

/**
 * Open at `at` when an occurrence s has s ≤ at < s + duration, i.e. the first occurrence after
 * at − duration is not after `at`. The state holds until the next occurrence or the end of that
 * first one, whichever comes first; it is remembered until then, so hot paths asking again for
 * the same period cost a comparison.
 */
function spanAt(s: ZonedSchedule, at: number): { until: number; open: boolean } {
  const e = entryOf(s);
  if (e.span && at >= e.span.from && at < e.span.until) return e.span;
  if (!e.cron) return { until: Infinity, open: false };
  const first = nextStart(e.cron, at - e.durationMs);
  const open = first !== null && first <= at;
  const end = first === null ? Infinity : first + e.durationMs;
  const until = Math.min(nextStart(e.cron, at) ?? Infinity, end);
  e.span = { from: at, until, open };
  return e.span;
}

/** Whether a window on this schedule is open at `at`. */
export function scheduledOpen(s: ZonedSchedule, at: number): boolean {
  return spanAt(s, at).open;
}

/** The first time after `at` when a window on this schedule opens or closes (Infinity: never). */
export function scheduledBoundary(s: ZonedSchedule, at: number): number {
  return spanAt(s, at).until;
}
