/**
 * The tail of a data file as forecast windows: the file is read once, in order, keeping only the rows the last
 * windows need (the derived features keep their own few rows of history), and each row's model features are
 * computed by the reader training uses (data.ts), so a window here is exactly the one training would build from
 * the same rows. Only Node built-ins.
 */
import { DataError, readRows } from "./csv.js";
import { historyRows } from "./derive.js";
import { checkColumns, seriesReader, sourceFeatures, timeOrder, type DataConfig, type DataFile } from "./data.js";
import type { SeriesPrep } from "./prep.js";

/** The most windows one read of a file returns (the rows they need are held in memory). */
export const TAIL_MAX_WINDOWS = 100_000;

/** One window at the end of a data file: what a `{"window": [...]}` request holds, and where it ends. */
export interface TailWindow {
  /** The model's T input rows in the data's units, oldest first, each its F features in `prep.features` order. */
  rows: number[][];
  /** The window's last row: its time cell as the file gives it (a string, or a JSONL number), or its 1-based row number without a time column. */
  after: string | number;
  /** The file line the window's last row starts on. */
  line: number;
}

interface TailRow {
  values: number[];
  after: string | number;
  line: number;
}

/**
 * The last `count` windows of a data file, oldest first: the window ending at each of the file's last `count`
 * rows (so with count 1, the last T rows). The rows are the model's features in the data's units: the source's
 * features, then the calendar and derived features exactly as training computes them. A cell training would
 * refuse (not a number, not a date where the calendar needs one, a time out of order) is refused with the same
 * located message; a file too short for the windows and the derived features' history is an error naming the
 * rows it has and needs.
 */
export async function tailWindows(config: DataConfig, prep: SeriesPrep, file: DataFile, count = 1): Promise<TailWindow[]> {
  if (!Number.isInteger(count) || count < 1 || count > TAIL_MAX_WINDOWS)
    throw new RangeError(`tailWindows: count must be 1 to ${TAIL_MAX_WINDOWS}, not ${count}`);
  const sources = sourceFeatures(prep);
  const derive = prep.derive ?? [];
  const time = prep.time;
  const columns = [...sources, ...(time !== null ? [time] : []), ...derive.map((d) => d.column)];
  const read = seriesReader({ sources, time, calendar: prep.calendar ?? [], derive }, file);
  const T = prep.window;
  // A ring of the last T + count - 1 rows.
  const keep = T + count - 1;
  const ring: TailRow[] = [];
  let n = 0;
  let first = true;
  const inOrder = time !== null ? timeOrder(time, file) : undefined;
  for await (const row of readRows(config.source, file.path, file.display)) {
    if (first) {
      checkColumns(row, columns, file);
      first = false;
    }
    const values = read(row);
    let after: string | number = n + 1;
    if (time !== null) {
      const raw = inOrder!(row);
      const cell = row.values.get(time);
      after = typeof cell === "number" ? cell : raw;
    }
    ring[n % keep] = { values, after, line: row.line };
    n++;
  }
  if (first) checkColumns(undefined, columns, file);
  const history = historyRows(derive);
  const needed = history + keep;
  if (n < needed) {
    const parts = [
      ...(history > 0 ? [`the ${history} row${history === 1 ? "" : "s"} derived features need before it`] : []),
      `the window of ${T} row${T === 1 ? "" : "s"}`,
      ...(count > 1 ? [`${count - 1} more row${count === 2 ? "" : "s"} for the ${count} windows asked for`] : []),
    ];
    throw new DataError(file.display, null, null, `the series has ${n} row${n === 1 ? "" : "s"}, shorter than ${parts.join(" plus ")} (${needed})`);
  }
  const at = (r: number): TailRow => ring[r % keep]!;
  const out: TailWindow[] = [];
  for (let end = n - count; end < n; end++) {
    const rows: number[][] = [];
    for (let r = end - T + 1; r <= end; r++) rows.push(at(r).values);
    out.push({ rows, after: at(end).after, line: at(end).line });
  }
  return out;
}
