/**
 * What a data file's cells and rows mean, without TensorFlow.js, so that `attnc check` can read a data file
 * without loading it: data numbers, time keys and which split a row falls in. Only Node built-ins.
 */
import { calendarTime } from "./derive.js";
import { defaultSplit, type SplitSettings } from "./settings.js";

/** A uniform number in [0, 1) fixed by (seed, index): which split a row falls in, without holding the rows. */
function unitHash(seed: number, index: number): number {
  let h = Math.imul(index ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(seed + 0x7f4a7c15, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}

/** How a data block splits its rows (with the defaults filled in). */
export type SplitConfig = Required<SplitSettings>;

/** A data block's split setting with its defaults (settings.ts): the order by the data's kind, or the whole default split. */
export function splitWithDefaults(s: SplitSettings | undefined, series: boolean): SplitConfig {
  const d = defaultSplit(series);
  return s === undefined ? d : { ...s, order: s.order ?? d.order };
}

/** The split of row `index` of `rows` (docs/data.md, "Splits and seeds"). */
export function splitOf(s: SplitConfig, index: number, rows: number): "train" | "validation" | "test" {
  const u = s.order === "chronological" ? index / rows : unitHash(s.seed, index);
  return u < s.train ? "train" : u < s.train + s.validation ? "validation" : "test";
}

/** A value as messages show it: JSON, cut to 40 characters. */
export function shownValue(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 40 ? `${s.slice(0, 39)}…` : s;
}

/** What kind of JSON value this is, for messages. */
export function jsonKind(v: unknown): string {
  return v === null
    ? "null"
    : Array.isArray(v)
      ? "an array"
      : typeof v === "object"
        ? "an object"
        : typeof v === "number"
          ? "a number"
          : typeof v === "boolean"
            ? "a boolean"
            : typeof v === "string"
              ? "a string"
              : typeof v;
}

/**
 * Number syntax in data cells: decimal, with an optional sign, point and exponent (12, -0.5, .5, 1.5e-3, +3E8).
 * Hexadecimal, binary, `Infinity`, `NaN`, digit separators and an empty cell are not numbers.
 */
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * A data number: a JSON number, or a string in the decimal syntax (surrounding spaces allowed), that is finite
 * as a float32 (|x| below about 3.4e38; a smaller magnitude than float32 can hold becomes 0). Returns the
 * number, or the reason it is not one.
 */
export function dataNumber(raw: unknown): number | string {
  let v: unknown = raw;
  if (typeof raw === "string") {
    if (!DECIMAL.test(raw.trim())) return `${shownValue(raw)} is not a finite number (numbers are decimal, such as 12, -0.5 or 1.5e-3)`;
    v = Number(raw.trim());
  }
  if (typeof v !== "number") return `${shownValue(raw)} is ${jsonKind(raw)}, not a number`;
  if (!Number.isFinite(Math.fround(v)))
    return `${typeof raw === "string" ? shownValue(raw) : Number.isFinite(v) ? String(v) : "a number"} is beyond the float32 range (about ±3.4e38)`;
  return v;
}

/**
 * Why a cell cannot be read as a text or label (a string), or as a time (a string, or a JSONL number); null when
 * it can. JSONL numbers, booleans, objects, arrays and null are refused, not converted.
 */
export function cellTypeProblem(v: unknown, kind: "text" | "time"): string | null {
  if (v === null) return "is null";
  if (typeof v === "string" || (kind === "time" && typeof v === "number")) return null;
  return `must be a string${kind === "time" ? " or a number" : ""}, not ${jsonKind(v)} (${shownValue(v)})`;
}

/** Why a time value cannot follow the previous one (a repeat, or earlier in time), or null when it can. */
export function timeOrderProblem(t: number | string, raw: string, prev: number | string | null, prevRaw: string): string | null {
  if (prev === null) return null;
  if (t === prev) return `duplicate timestamp ${JSON.stringify(raw)}`;
  if (typeof t === typeof prev && t < prev) return `${JSON.stringify(raw)} comes before ${JSON.stringify(prevRaw)}: rows must be in time order`;
  return null;
}

/**
 * A time cell's sort key: a number if it is one, else a date if it parses (read as the calendar reads it: a time
 * without a zone is UTC wall-clock time, so the order does not depend on the machine's zone, and the hour a
 * daylight-saving change skips is no duplicate), else the text.
 */
export function timeKey(v: string): number | string {
  if (DECIMAL.test(v.trim())) return Number(v.trim());
  return calendarTime(v) ?? v;
}
