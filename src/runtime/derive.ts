/**
 * Features a data block derives from the file's columns (docs/data.md, "Derived features"): calendar cycles of
 * the time column, read in UTC, and differences and lags of columns. Their names, the rows of history they need,
 * and their values. The compiler names them with the same functions, so the input's F and the fitted `prep`
 * cannot disagree. Only Node built-ins.
 */

/** A cycle of the calendar, and the period its phase is divided by. */
export type CalendarCycle = "hour" | "weekday" | "yearday" | "month";
export const CALENDAR_PERIODS: { readonly [c in CalendarCycle]: number } = { hour: 24, weekday: 7, yearday: 365.25, month: 12 };

/** `diff(column)` or `lag(column, steps)`, as the IR holds it. */
export interface DeriveSpec {
  kind: "diff" | "lag";
  column: string;
  steps?: number;
}

/** The names of the derived features, in the order they follow the source's features: calendar, then derive. */
export function derivedNames(calendar: readonly string[] | undefined, derive: readonly DeriveSpec[] | undefined): string[] {
  const out: string[] = [];
  for (const c of calendar ?? []) out.push(`${c}_sin`, `${c}_cos`);
  for (const d of derive ?? []) out.push(deriveName(d));
  return out;
}

export function deriveName(d: DeriveSpec): string {
  return d.kind === "diff" ? `${d.column}_diff` : `${d.column}_lag${d.steps ?? 1}`;
}

/** Rows of history one derived feature needs: diff 1, lag k k. */
export function deriveHistory(d: DeriveSpec): number {
  return d.kind === "diff" ? 1 : (d.steps ?? 1);
}

/** Rows at the start of the file that lack the history of some derived feature: no window's input starts there. */
export function historyRows(derive: readonly DeriveSpec[] | undefined): number {
  let n = 0;
  for (const d of derive ?? []) n = Math.max(n, deriveHistory(d));
  return n;
}

/**
 * Whether row r (0-based) is the target row of a window: its first input row, r - h - T + 1, is on the stride
 * (0, s, 2s, ...) and not among the first rows that lack the history of a derived feature.
 */
export function isWindowRow(prep: { window: number; horizon: number; stride: number; derive?: readonly DeriveSpec[] | undefined }, r: number): boolean {
  const start = r - prep.horizon - prep.window + 1;
  return start >= historyRows(prep.derive) && start % prep.stride === 0;
}

const ISO_LOCAL = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?$/;
const ISO_DATE = /^[+-]?\d{4,6}(?:-\d{2}(?:-\d{2})?)?$/;
const HAS_ZONE = /(?:\d[Zz]|[+-]\d{2}:?\d{2}|\b(?:UTC|GMT|UT|[ECMP][SD]T)(?:[+-]\d{1,4})?)\s*(?:\([^)]*\))?\s*$/;

/**
 * A time cell as an instant for the calendar (milliseconds since 1970 UTC), or undefined when it is not a date.
 * A value with a zone (`Z`, `+02:00`, `GMT`) is that instant; one without is read as UTC wall-clock time, so the
 * features do not depend on the machine's time zone or its daylight saving changes. Numbers are not dates.
 */
export function calendarTime(raw: string): number | undefined {
  const s = raw.trim();
  if (s === "" || /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/.test(s)) return undefined;
  // Date.parse rolls a day the month lacks over into the next month (2020-02-30 is 1 March): not a date.
  const ymd = /^([+-]?\d{4,6})-(\d{2})-(\d{2})/.exec(s);
  if (ymd) {
    const [y, m, d] = [Number(ymd[1]), Number(ymd[2]), Number(ymd[3])];
    if (m < 1 || m > 12 || d < 1 || d > new Date(Date.UTC(y, m, 0)).getUTCDate()) return undefined;
  }
  if (ISO_LOCAL.test(s)) return utcOrUndefined(Date.parse(`${s.replace(" ", "T")}Z`));
  if (ISO_DATE.test(s) || HAS_ZONE.test(s)) return utcOrUndefined(Date.parse(s));
  const asUtc = Date.parse(`${s} UTC`);
  if (Number.isFinite(asUtc)) return asUtc;
  const local = Date.parse(s);
  if (!Number.isFinite(local)) return undefined;
  // Read in the machine's zone by Date.parse: the same wall-clock fields, taken as UTC.
  const d = new Date(local);
  return Date.UTC(d.getFullYear(), d.getMonth(), d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds(), d.getMilliseconds());
}

function utcOrUndefined(t: number): number | undefined {
  return Number.isFinite(t) ? t : undefined;
}

export const DAY_MS = 86_400_000;

/** Where an instant is in a cycle, in [0, 1): hour (h + min/60)/24, weekday (0 Sunday)/7, day of year (from 0, with the day's fraction)/365.25, (month - 1)/12. */
export function calendarPhase(cycle: CalendarCycle, t: number): number {
  const d = new Date(t);
  switch (cycle) {
    case "hour":
      return (d.getUTCHours() + d.getUTCMinutes() / 60) / 24;
    case "weekday":
      return d.getUTCDay() / 7;
    case "yearday":
      return (t - Date.UTC(d.getUTCFullYear(), 0, 1)) / DAY_MS / 365.25;
    case "month":
      return d.getUTCMonth() / 12;
  }
}

/** The calendar features of an instant: sin and cos of 2 pi phase, for each cycle in order. */
export function calendarValues(calendar: readonly string[], t: number, into: number[]): void {
  for (const c of calendar) {
    const a = 2 * Math.PI * calendarPhase(c as CalendarCycle, t);
    into.push(Math.sin(a), Math.cos(a));
  }
}

/**
 * Derived values row by row: push each row's values of the derive columns; `values` gives diff and lag features
 * for the row just pushed, NaN where the history is still too short.
 */
export class DeriveHistory {
  private readonly past: number[][] = [];
  private readonly keep: number;
  constructor(private readonly derive: readonly DeriveSpec[]) {
    this.keep = historyRows(derive) + 1;
  }
  /** `row[i]` is the value of `derive[i].column` at this row. */
  push(row: number[], into: number[]): void {
    this.past.push(row);
    if (this.past.length > this.keep) this.past.shift();
    const last = this.past.length - 1;
    this.derive.forEach((d, i) => {
      const back = deriveHistory(d);
      const then = last - back >= 0 ? this.past[last - back]![i]! : NaN;
      into.push(d.kind === "diff" ? row[i]! - then : then);
    });
  }
}
