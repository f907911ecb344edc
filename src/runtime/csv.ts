/**
 * Streaming readers for the data formats a spec can name: CSV (RFC 4180: quoted fields, doubled quotes,
 * CRLF or LF, line breaks inside quotes) and JSONL. Only Node built-ins, so that generated programs carry the
 * same reader; test/runtime/csv.test.ts checks it against the csv-parse package on the same files.
 */
import { constants, statSync } from "node:fs";
import { open, stat, type FileHandle } from "node:fs/promises";
import { fsReason } from "./paths.js";

/** A problem with a data file, located by line (1-based) and, where known, column or field. */
export class DataError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | null,
    readonly where: string | null,
    readonly detail: string,
  ) {
    super(`${file}${line !== null ? `:${line}` : ""}${where ? ` (${where})` : ""}: ${detail}`);
  }
}

/** A cell as the file gives it: always a string from CSV; any JSON value from JSONL. */
export type CellValue = string | number | boolean | null | object;

export interface Row {
  /** Values by column name (a Map, so that a column named like an Object property is only ever itself). */
  readonly values: ReadonlyMap<string, CellValue>;
  /** 1-based line where the row starts. */
  readonly line: number;
  /** The line of the header a CSV row's columns come from (JSONL rows have none). */
  readonly header?: number;
}

/** The longest record (a CSV row, quoted line breaks included, or a JSONL line) attnc reads: 1 MiB. */
export const MAX_RECORD_CHARS = 1 << 20;
/** The largest data file attnc reads: 4 GiB. */
export const MAX_DATA_BYTES = 4 * 1024 * 1024 * 1024;

/** What a file system entry that is not a regular file is, for messages. */
export function entryKind(st: {
  isDirectory(): boolean;
  isFIFO(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isSocket(): boolean;
}): string {
  return st.isDirectory()
    ? "a directory"
    : st.isFIFO()
      ? "a pipe (FIFO)"
      : st.isCharacterDevice() || st.isBlockDevice()
        ? "a device"
        : st.isSocket()
          ? "a socket"
          : "not a regular file";
}

function notRegular(st: Parameters<typeof entryKind>[0]): string {
  return st.isDirectory() ? "is a directory, not a data file" : `is ${entryKind(st)}; a data file is read more than once, so it must be a regular file`;
}

/**
 * Why PATH cannot be read as a data file, or undefined: the checks the reader makes when it opens the file,
 * made early (before a backend loads) by the command line and the generated programs. A missing file is left to
 * the reader's own message.
 */
export function dataFileProblem(path: string): string | undefined {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ENOENT" ? undefined : `cannot read: ${fsReason(e)}`;
  }
  if (!st.isFile()) return notRegular(st);
  if (st.size > MAX_DATA_BYTES) return `is ${st.size} bytes, more than the ${MAX_DATA_BYTES / 1024 ** 3} GiB a data file may have`;
  return undefined;
}

/**
 * Opens a data file for one pass. Training reads the file more than once, so only a regular file (a symbolic
 * link is followed) of at most MAX_DATA_BYTES is accepted: a pipe, device or directory is refused before
 * any read. O_NONBLOCK keeps the open itself from waiting for a writer on a pipe.
 */
async function openData(file: string, display: string): Promise<FileHandle> {
  let h: FileHandle;
  try {
    h = await open(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    // A socket (such as /dev/stdin from some parents) cannot be opened at all: say what it is.
    const st = await stat(file).catch(() => null);
    if (st && !st.isFile()) throw new DataError(display, null, null, notRegular(st));
    throw new DataError(display, null, null, `cannot read: ${fsReason(e)}`);
  }
  try {
    const st = await h.stat();
    if (!st.isFile()) throw new DataError(display, null, null, notRegular(st));
    if (st.size > MAX_DATA_BYTES)
      throw new DataError(display, null, null, `is ${st.size} bytes, more than the ${MAX_DATA_BYTES / 1024 ** 3} GiB a data file may have`);
  } catch (e) {
    await h.close();
    throw e;
  }
  return h;
}

/** Index of the first byte that does not start or continue a valid UTF-8 sequence (approximate at chunk edges). */
function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    const n = c < 0x80 ? 0 : c >= 0xc2 && c < 0xe0 ? 1 : c >= 0xe0 && c < 0xf0 ? 2 : c >= 0xf0 && c < 0xf5 ? 3 : -1;
    if (n < 0) return i;
    for (let k = 1; k <= n; k++) if (i + k < b.length && (b[i + k]! & 0xc0) !== 0x80) return i;
    i += n + 1;
  }
  return Math.max(0, b.length - 1);
}

/** Decodes UTF-8 strictly: invalid bytes are an error at their line, not replacement characters. */
async function* lines(file: string, display: string): AsyncGenerator<string> {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let line = 1;
  let first = true;
  let bytes = 0;
  const handle = await openData(file, display);
  const stream: AsyncIterable<Buffer> = handle.createReadStream({ highWaterMark: 1 << 16 });
  try {
    for await (const chunk of stream) {
      bytes += chunk.length;
      if (bytes > MAX_DATA_BYTES) throw new DataError(display, line, null, `the file grew past the ${MAX_DATA_BYTES / 1024 ** 3} GiB a data file may have`);
      let text: string;
      try {
        text = decoder.decode(chunk, { stream: true });
      } catch {
        const at = firstInvalidUtf8(chunk);
        let l = line;
        for (let i = 0; i < at; i++) if (chunk[i] === 10) l++;
        throw new DataError(display, l, null, `invalid UTF-8 (byte 0x${(chunk[at] ?? 0).toString(16).padStart(2, "0")})`);
      }
      if (first && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      first = false;
      for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
      yield text;
    }
    const rest = decoder.decode();
    if (rest) yield rest;
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(display, null, null, `cannot read: ${fsReason(e)}`);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

const tooLong = `longer than ${MAX_RECORD_CHARS} characters (1 MiB), the most a record may have`;

/** Parses CSV records: arrays of fields with the line each starts on. */
export async function* csvRecords(file: string, display: string, delimiter = ","): AsyncGenerator<{ fields: string[]; line: number }> {
  let field = "";
  let fields: string[] = [];
  let quoted = false;
  let afterQuote = false;
  let line = 1;
  let startLine = 1;
  let pendingCR = false;
  let any = false;
  // Characters of the current record in fields already pushed: with `field`, checked once per chunk.
  let done = 0;
  const d = delimiter;
  for await (const chunk of lines(file, display)) {
    if (done + field.length > MAX_RECORD_CHARS) throw new DataError(display, startLine, null, `this record is ${tooLong}`);
    for (let i = 0; i < chunk.length; i++) {
      const ch = chunk[i]!;
      if (pendingCR) {
        pendingCR = false;
        if (ch === "\n") continue;
      }
      if (quoted) {
        if (ch === '"') {
          if (chunk[i + 1] === '"') {
            field += '"';
            i++;
          } else {
            // Closing, unless the next chunk starts with a second quote (handled below).
            quoted = false;
            afterQuote = true;
          }
        } else {
          if (ch === "\n") line++;
          field += ch;
        }
        continue;
      }
      if (afterQuote && ch === '"') {
        // The boundary case above: a doubled quote split across chunks.
        field += '"';
        quoted = true;
        afterQuote = false;
        continue;
      }
      if (ch === d) {
        fields.push(field);
        done += field.length + 1;
        field = "";
        afterQuote = false;
        any = true;
      } else if (ch === "\n" || ch === "\r") {
        fields.push(field);
        if (!(fields.length === 1 && fields[0] === "" && !afterQuote)) yield { fields, line: startLine };
        fields = [];
        field = "";
        done = 0;
        afterQuote = false;
        any = false;
        line++;
        startLine = line;
        pendingCR = ch === "\r";
      } else if (ch === '"' && field === "" && !afterQuote) {
        quoted = true;
        any = true;
      } else {
        if (afterQuote) throw new DataError(display, line, `field ${fields.length + 1}`, "unexpected character after a closing quote");
        field += ch;
        any = true;
      }
    }
  }
  if (done + field.length > MAX_RECORD_CHARS) throw new DataError(display, startLine, null, `this record is ${tooLong}`);
  if (quoted) throw new DataError(display, startLine, `field ${fields.length + 1}`, "a quoted field is never closed");
  if (any || field !== "" || fields.length > 0) {
    fields.push(field);
    yield { fields, line: startLine };
  }
}

/** Rows of a CSV file with a header line; every row must have the header's number of fields. */
export async function* csvRows(file: string, display: string, delimiter = ","): AsyncGenerator<Row> {
  let header: string[] | null = null;
  let headerLine = 1;
  for await (const rec of csvRecords(file, display, delimiter)) {
    if (!header) {
      header = rec.fields.map((f) => f.trim());
      headerLine = rec.line;
      const seen = new Set<string>();
      for (const h of header) {
        if (seen.has(h)) throw new DataError(display, rec.line, `column ${JSON.stringify(h)}`, "the header names this column twice");
        seen.add(h);
      }
      continue;
    }
    if (rec.fields.length !== header.length) {
      throw new DataError(
        display,
        rec.line,
        null,
        `this row has ${rec.fields.length} field${rec.fields.length === 1 ? "" : "s"}, the header has ${header.length}`,
      );
    }
    const values = new Map<string, CellValue>();
    header.forEach((h, i) => values.set(h, rec.fields[i]!));
    yield { values, line: rec.line, header: headerLine };
  }
  if (!header) throw new DataError(display, null, null, "the file is empty: a header line is needed");
}

/** Rows of a JSONL file: one JSON object per line; blank lines are skipped. */
export async function* jsonlRows(file: string, display: string): AsyncGenerator<Row> {
  let buf = "";
  let line = 1;
  const parse = (text: string, at: number): Row | null => {
    if (text.trim() === "") return null;
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      throw new DataError(display, at, null, `not valid JSON: ${(e as Error).message}`);
    }
    if (v === null || typeof v !== "object" || Array.isArray(v)) throw new DataError(display, at, null, "each line must be a JSON object");
    // JSON.parse makes "__proto__" an own key like any other; Object.entries keeps exactly the own keys.
    return { values: new Map<string, CellValue>(Object.entries(v as Record<string, CellValue>)), line: at };
  };
  for await (const chunk of lines(file, display)) {
    buf += chunk;
    let from = 0;
    let nl: number;
    while ((nl = buf.indexOf("\n", from)) >= 0) {
      if (nl - from > MAX_RECORD_CHARS) throw new DataError(display, line, null, `this line is ${tooLong}`);
      const row = parse(buf.slice(from, nl).replace(/\r$/, ""), line);
      from = nl + 1;
      line++;
      if (row) yield row;
    }
    buf = buf.slice(from);
    if (buf.length > MAX_RECORD_CHARS) throw new DataError(display, line, null, `this line is ${tooLong}`);
  }
  const row = parse(buf, line);
  if (row) yield row;
}

export interface SourceConfig {
  kind: "csv" | "jsonl";
  path: string;
  delimiter?: string;
}

/** The rows of a data source; `file` is the resolved path, `display` how messages name it. */
export function readRows(source: SourceConfig, file: string, display: string): AsyncGenerator<Row> {
  return source.kind === "csv" ? csvRows(file, display, source.delimiter ?? ",") : jsonlRows(file, display);
}
