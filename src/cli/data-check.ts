/**
 * `attnc check` against the data file: the checks are pure functions of a data block, a train block and the file's
 * rows (in file order), so they can be tested on hand-made rows; src/cli/commands.ts reads the file and reports
 * the findings at the data setting they concern. The rules are those of training (src/runtime/data.ts), found
 * before a model is built: columns in the header, numbers that parse, time order, and the windows each split gets.
 */
import type { CodeName } from "../diagnostics/catalogue.js";
import { didYouMean } from "../diagnostics/suggest.js";
import type { Attrs } from "../ir/types.js";
import { cellTypeProblem, dataNumber, shownValue, splitOf, splitWithDefaults, timeKey, timeOrderProblem, type SplitConfig } from "../runtime/cells.js";
import type { SplitSettings } from "../runtime/settings.js";
import type { CellValue, Row } from "../runtime/csv.js";
import { calendarTime, historyRows, isWindowRow, type DeriveSpec } from "../runtime/derive.js";

/** One problem of the data file, at the data setting it concerns. */
export interface DataFinding {
  readonly code: CodeName;
  /** The IR path of the setting (`/data/source/features/0`); diagnostics are placed at its span in the spec. */
  readonly path: string;
  /** The data file's line, or null for the file as a whole. */
  readonly line: number | null;
  readonly message: string;
  readonly suggestion?: string;
}

/** Below this many test windows (or examples), test metrics are mostly noise: a warning. */
export const FEW_TEST_WINDOWS = 30;
/** Errors reported per file before the rest of the file is only counted. */
const MAX_ERRORS = 10;
/** Distinct steps between consecutive times beyond which the series counts as irregular (no gap warning). */
const MAX_STEP_KINDS = 1000;
/** A step longer than this many regular steps is a gap. */
const GAP_FACTOR = 1.5;

/** Where a step between consecutive times first occurs, and how often. */
interface StepSeen {
  count: number;
  line: number;
  raw: string;
  prevRaw: string;
}

/** A step between times in words: 1 hour, 7 days, a month, 0.5 (a number without a unit for numeric times). */
function stepWords(d: number, date: boolean): string {
  if (!date) return String(d);
  const days = d / 86_400_000;
  if (days >= 28 && days <= 31) return "a month";
  if (days >= 89 && days <= 92) return "a quarter";
  if (days >= 365 && days <= 366) return "a year";
  for (const [ms, unit] of [
    [86_400_000, "day"],
    [3_600_000, "hour"],
    [60_000, "minute"],
    [1000, "second"],
  ] as const)
    if (d % ms === 0) return `${d / ms} ${unit}${d === ms ? "" : "s"}`;
  return `${d} ms`;
}

interface Column {
  readonly name: string;
  readonly path: string;
  /** Feature, target and derived columns hold numbers. */
  readonly numeric: boolean;
}

/** Checks rows of one data file, fed in file order; `finish` gives the findings. */
export class DataFileCheck {
  private readonly columns: Column[] = [];
  private readonly series: boolean;
  private readonly split: SplitConfig;
  private readonly window: { window: number; horizon: number; stride: number; derive: readonly DeriveSpec[] } | undefined;
  private readonly time: string | undefined;
  private readonly calendar: boolean;
  private readonly needValidation: boolean;
  private readonly findings: DataFinding[] = [];
  /** Columns (by name) already reported, so that a bad column is reported once, at its first bad line and first setting. */
  private readonly reported = new Set<string>();
  private rows = 0;
  private prevTime: number | string | null = null;
  private prevRaw = "";
  private timeReported = false;
  private dateReported = false;
  /** The steps between consecutive times (rounded to 12 digits), for the gap warning; null once there are too many kinds. */
  private steps: Map<number, StepSeen> | null = new Map();
  /** Whether the times are dates (steps in milliseconds) rather than plain numbers. */
  private timeIsDate = false;

  constructor(
    data: Attrs,
    train: Attrs | undefined,
    private readonly file: string,
  ) {
    const source = (data["source"] ?? {}) as Attrs;
    const win = data["window"] as Attrs | undefined;
    this.series = win !== undefined;
    this.split = splitWithDefaults(data["split"] as SplitSettings | undefined, this.series);
    const derive = ((data["derive"] as unknown as DeriveSpec[] | undefined) ?? []).filter((d) => typeof d.column === "string");
    const add = (name: unknown, path: string, numeric: boolean): void => {
      if (typeof name === "string") this.columns.push({ name, path, numeric });
    };
    if (win) {
      ((source["features"] as unknown[] | undefined) ?? []).forEach((f, i) => add(f, `/data/source/features/${i}`, true));
      const target = source["target"];
      if (Array.isArray(target)) target.forEach((t, i) => add(t, `/data/source/target/${i}`, true));
      else add(target, "/data/source/target", true);
      add(source["time"], "/data/source/time", false);
      derive.forEach((d, i) => add(d.column, `/data/derive/${i}/column`, true));
      this.window = { window: Number(win["size"]), horizon: Number(win["horizon"] ?? 1), stride: Number(win["stride"] ?? 1), derive };
    } else {
      add(source["text"], "/data/source/text", false);
      add(source["label"], "/data/source/label", false);
    }
    this.time = this.series && typeof source["time"] === "string" ? source["time"] : undefined;
    this.calendar = Array.isArray(data["calendar"]) && data["calendar"].length > 0;
    const monitor = ((train?.["early_stop"] as Attrs | undefined)?.["monitor"] ?? "") as string;
    this.needValidation = typeof monitor === "string" && monitor.startsWith("val_");
  }

  private get errors(): number {
    return this.findings.filter((f) => f.code !== "FewTestWindows" && f.code !== "DataFileNotRead" && f.code !== "DataTimeGaps").length;
  }

  private add(f: DataFinding): void {
    this.findings.push(f);
  }

  /** Checks one row; returns false once enough errors are found that the rest need only be counted. */
  row(row: Row): boolean {
    const index = this.rows++;
    if (this.errors >= MAX_ERRORS) return false;
    if (index === 0) this.header(row);
    for (const c of this.columns) {
      if (this.reported.has(c.name)) continue;
      const v = row.values.get(c.name);
      if (v === undefined) {
        this.reported.add(c.name);
        this.add({
          code: "DataColumnMissing",
          path: c.path,
          line: row.line,
          message: `${this.file}:${row.line}: this row has no column ${JSON.stringify(c.name)}`,
        });
        continue;
      }
      if (c.numeric) {
        const n = dataNumber(v);
        if (typeof n === "string") {
          this.reported.add(c.name);
          this.add({ code: "DataNotNumber", path: c.path, line: row.line, message: `${this.file}:${row.line} (column ${JSON.stringify(c.name)}): ${n}` });
        }
      } else {
        // Text, label and time cells: what training accepts (a string; a time may be a JSONL number).
        const problem = cellTypeProblem(v, c.name === this.time ? "time" : "text");
        if (problem !== null) {
          this.reported.add(c.name);
          this.add({ code: "DataNotText", path: c.path, line: row.line, message: `${this.file}:${row.line} (column ${JSON.stringify(c.name)}): ${problem}` });
        }
      }
    }
    if (this.time !== undefined) this.timeCell(row, row.values.get(this.time));
    return this.errors < MAX_ERRORS;
  }

  /** The first row's columns are the header's (a CSV file's first line; a JSONL file's first object). */
  private header(row: Row): void {
    const have = [...row.values.keys()];
    const line = row.header ?? row.line;
    for (const c of this.columns) {
      if (row.values.has(c.name) || this.reported.has(c.name)) continue;
      this.reported.add(c.name);
      const s = didYouMean(c.name, have);
      this.add({
        code: "DataColumnMissing",
        path: c.path,
        line,
        message: `${this.file}:${line}: no column ${JSON.stringify(c.name)} in the ${row.header !== undefined ? "header" : "first row"} (the file has ${have.map((h) => JSON.stringify(h)).join(", ")})`,
        ...(s !== undefined ? { suggestion: s } : {}),
      });
    }
  }

  private timeCell(row: Row, v: CellValue | undefined): void {
    if (v === undefined || (typeof v !== "string" && typeof v !== "number")) {
      // A time that is no time (an error of its own): the steps around it are unknown, so no gap warning.
      this.steps = null;
      return;
    }
    const raw = typeof v === "number" ? String(v) : v;
    if (this.calendar && !this.dateReported && calendarTime(raw) === undefined) {
      this.dateReported = true;
      this.add({
        code: "DataNotDate",
        path: "/data/calendar",
        line: row.line,
        message: `${this.file}:${row.line} (column ${JSON.stringify(this.time)}): ${shownValue(raw)} is not a date; calendar features need dates in the time column (such as 2024-03-01 or 2024-03-01T13:00)`,
      });
    }
    const t = timeKey(raw);
    const problem = this.timeReported ? null : timeOrderProblem(t, raw, this.prevTime, this.prevRaw);
    if (problem !== null) {
      this.timeReported = true;
      const where = `${this.file}:${row.line} (column ${JSON.stringify(this.time)})`;
      this.add({ code: "DataTimeOrder", path: "/data/source/time", line: row.line, message: `${where}: ${problem}` });
    }
    if (problem === null && this.steps && typeof t === "number" && typeof this.prevTime === "number" && t > this.prevTime) {
      const d = Number((t - this.prevTime).toPrecision(12));
      const seen = this.steps.get(d);
      if (seen) seen.count++;
      else if (this.steps.size >= MAX_STEP_KINDS) this.steps = null;
      else this.steps.set(d, { count: 1, line: row.line, raw, prevRaw: this.prevRaw });
      this.timeIsDate = typeof dataNumber(raw) !== "number";
    }
    this.prevTime = t;
    this.prevRaw = raw;
  }

  /**
   * Gaps in a regular series: steps longer than 1.5 times the most common one (a missing day of hourly data, a
   * missing month). A series out of order (an error), with times that are not numbers or dates, or with too many
   * kinds of step gets none.
   */
  private gaps(): DataFinding | undefined {
    if (!this.steps || this.steps.size < 2 || this.timeReported || this.time === undefined) return undefined;
    let regular = 0;
    let most = 0;
    for (const [d, s] of this.steps) if (s.count > most || (s.count === most && d < regular)) [regular, most] = [d, s.count];
    const gaps = [...this.steps].filter(([d]) => d > GAP_FACTOR * regular);
    if (gaps.length === 0) return undefined;
    const [d, first] = gaps.reduce((a, b) => (b[1].line < a[1].line ? b : a));
    const count = gaps.reduce((n, [, s]) => n + s.count, 0);
    const missing = gaps.reduce((n, [g, s]) => n + s.count * Math.max(1, Math.round(g / regular) - 1), 0);
    const here = Math.max(1, Math.round(d / regular) - 1);
    return {
      code: "DataTimeGaps",
      path: "/data/source/time",
      line: first.line,
      message:
        `${this.file}:${first.line} (column ${JSON.stringify(this.time)}): about ${here} step${here === 1 ? "" : "s"} missing between ${JSON.stringify(first.prevRaw)} and ${JSON.stringify(first.raw)} ` +
        `(the series steps by ${stepWords(regular, this.timeIsDate)}); ${count} gap${count === 1 ? "" : "s"} in all, about ${missing} missing step${missing === 1 ? "" : "s"}: ` +
        `a window across a gap spans more time than its length says`,
    };
  }

  /** Counts a row without checking it (after too many errors). */
  count(): void {
    this.rows++;
  }

  /** Windows (or examples) per split, from the row count alone. */
  counts(): Record<"train" | "validation" | "test", number> {
    const counts = { train: 0, validation: 0, test: 0 };
    const w = this.window;
    for (let r = w ? w.window + w.horizon - 1 : 0; r < this.rows; r++) if (!w || isWindowRow(w, r)) counts[splitOf(this.split, r, this.rows)]++;
    return counts;
  }

  finish(): DataFinding[] {
    if (this.rows === 0) {
      this.add({ code: "DataFileInvalid", path: "/data/source", line: null, message: `${this.file}: the file has no data rows` });
      return this.findings;
    }
    const gaps = this.gaps();
    if (gaps) this.add(gaps);
    const counts = this.counts();
    const unit = this.series ? "window" : "example";
    const splitPath = "/data/split";
    const all = `${counts.train + counts.validation + counts.test} ${unit}s in all from ${this.rows} row${this.rows === 1 ? "" : "s"}: train ${counts.train}, validation ${counts.validation}, test ${counts.test}`;
    const need = (() => {
      const w = this.window;
      if (!w) return "";
      const skipped = historyRows(w.derive);
      const first = skipped + w.window + w.horizon;
      return `; a window needs ${first} rows up to its target (${skipped > 0 ? `${skipped} before it for derived features, ` : ""}${w.window} in the window, horizon ${w.horizon})`;
    })();
    if (counts.train === 0)
      this.add({ code: "EmptySplit", path: splitPath, line: null, message: `${this.file}: the training split has no ${unit}s (${all}${need})` });
    if (this.needValidation && counts.validation === 0)
      this.add({
        code: "EmptySplit",
        path: splitPath,
        line: null,
        message: `${this.file}: early stopping watches a validation metric, but the validation split has no ${unit}s (${all}${need})`,
      });
    if (this.split.test > 0 && counts.test < FEW_TEST_WINDOWS)
      this.add({
        code: "FewTestWindows",
        path: splitPath,
        line: null,
        message: `${this.file}: test split has ${counts.test} ${unit}${counts.test === 1 ? "" : "s"}; metrics on it mean little (${all})`,
      });
    return this.findings;
  }
}

/** All of the checks over rows in memory (tests, small files). */
export function checkDataRows(data: Attrs, train: Attrs | undefined, file: string, rows: Iterable<Row>): DataFinding[] {
  const check = new DataFileCheck(data, train, file);
  let checking = true;
  for (const r of rows) {
    if (checking) checking = check.row(r);
    else check.count();
  }
  return check.finish();
}
