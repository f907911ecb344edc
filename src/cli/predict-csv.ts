/**
 * `attnc predict <model-dir> --csv FILE [--last N]`: forecasts from the end of a data file. The file is read as
 * the model's data block reads its data (CSV with its delimiter, or JSONL), under the data-file path rule, and
 * its last N windows become ordinary `{"window": [...]}` requests, so the usual request path scales them and
 * undoes the scaling (and the delta) for the answers. Each answer also carries `"after"`: the time cell of the
 * window's last row, or that row's 1-based number when the data has no time column.
 */
import { existsSync } from "node:fs";
import { DataError } from "../runtime/csv.js";
import type { DataConfig } from "../runtime/data.js";
import type { Prep } from "../runtime/prep.js";
import { TAIL_MAX_WINDOWS, tailWindows } from "../runtime/tail.js";
import { CliError, displayPath, type CliIo } from "./io.js";
import { dataFile } from "./paths.js";
import type { RequestLine } from "./requests.js";

/** A request line from the tail of a data file: its line is the file line of the window's last row. */
export type TailRequestLine = RequestLine & { after: string | number };

export interface TailOptions {
  input?: string | undefined;
  csv?: string | undefined;
  last?: string | undefined;
  allowOutside?: boolean | undefined;
}

/** The requests of `--csv`: read once the model is loaded, then handed out like the lines of `--input`. */
export class TailRequests {
  private lines: TailRequestLine[] = [];

  constructor(
    readonly name: string,
    private readonly path: string,
    private readonly count: number,
  ) {}

  /** Reads the file's last windows for this model; a text model, or data the model cannot read, is an error. */
  async read(meta: { model: string; data: DataConfig; prep: Prep }): Promise<void> {
    const prep = meta.prep;
    if (prep.kind !== "series")
      throw new CliError(`--csv reads the last window of a series, but model ${meta.model} is a text classifier; give its requests with --input`, 2);
    try {
      const windows = await tailWindows(meta.data, prep, { path: this.path, display: this.name }, this.count);
      this.lines = windows.map((w) => ({ line: w.line, value: { window: w.rows }, after: w.after }));
    } catch (e) {
      if (e instanceof DataError) throw new CliError(e.message, 1);
      throw e;
    }
  }

  /** The next requests, at most `max`; an empty list at the end. */
  next(max: number): Promise<TailRequestLine[]> {
    return Promise.resolve(this.lines.splice(0, max));
  }

  close(): void {
    this.lines = [];
  }
}

/**
 * Checks `--csv`, `--input` and `--last` (one of --input and --csv; --last only with --csv) and the data file's
 * path, before any model is loaded. Undefined without --csv.
 */
export function tailRequests(io: CliIo, opts: TailOptions): TailRequests | undefined {
  if (opts.csv === undefined) {
    if (opts.last !== undefined) throw new CliError("--last counts the windows of --csv; give --csv FILE");
    if (opts.input === undefined) throw new CliError("predict needs --input FILE (or - for standard input) or --csv FILE");
    return undefined;
  }
  if (opts.input !== undefined) throw new CliError("--csv and --input cannot be used together: the requests come from one of them");
  const raw = opts.last ?? "1";
  const count = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(count >= 1 && count <= TAIL_MAX_WINDOWS)) throw new CliError(`--last must be a whole number from 1 to ${TAIL_MAX_WINDOWS}, not ${JSON.stringify(raw)}`);
  const path = dataFile(io, opts.csv, opts.allowOutside);
  const name = displayPath(io, opts.csv);
  if (!existsSync(path)) throw new CliError(`cannot read ${name}: no such file`, 1);
  return new TailRequests(name, path, count);
}

/** An answer record with the `"after"` of its request, when the request came from --csv. */
export function withAfter(record: object, request: RequestLine): object {
  return "after" in request ? { ...record, after: request.after } : record;
}
