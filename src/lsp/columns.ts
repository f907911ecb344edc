import { closeSync, constants, fstatSync, openSync, readSync, realpathSync, statSync } from "node:fs";
import { dirname, isAbsolute, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** At most this much of a data file is read for its header. */
export const HEADER_BYTES = 64 * 1024;
const CACHE_ENTRIES = 64;

export interface SourceRef {
  readonly kind: "csv" | "jsonl";
  /** The path as the spec writes it, relative to the spec's folder. */
  readonly path: string;
  readonly delimiter?: string;
}

/** A file:// URI's path, or undefined for any other scheme or a malformed URI. */
export function filePathOf(uri: string): string | undefined {
  try {
    return uri.startsWith("file:") ? fileURLToPath(uri) : undefined;
  } catch {
    return undefined;
  }
}

const inside = (root: string, path: string): boolean => {
  const rel = relative(root, path);
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
};

/**
 * Reads the column names of data files for completion. A data file is untrusted: only a regular file inside one of the
 * workspace folders (after resolving symlinks) is read, at most its first 64 KiB up to the first line break, opened
 * without blocking, so that a FIFO, a device or a huge file never holds up the server. Headers are cached by path and
 * modification time.
 */
export class ColumnReader {
  private readonly cache = new Map<string, { mtimeMs: number; size: number; kind: string; delimiter: string; columns: string[] }>();

  /** `roots`: the workspace folders; without any, only files under the document's own folder are read. */
  constructor(private readonly roots: readonly string[]) {}

  columns(documentUri: string, source: SourceRef): string[] {
    const docPath = filePathOf(documentUri);
    if (!docPath || source.path === "" || source.path.includes("\0")) return [];
    const roots = (this.roots.length > 0 ? this.roots : [dirname(docPath)]).flatMap((r) => {
      try {
        return [realpathSync(r)];
      } catch {
        return [];
      }
    });
    let real: string;
    try {
      real = realpathSync(resolve(dirname(docPath), source.path));
    } catch {
      return [];
    }
    if (!roots.some((r) => inside(r, real))) return [];
    let st;
    try {
      st = statSync(real);
    } catch {
      return [];
    }
    if (!st.isFile()) return [];
    const delimiter = source.delimiter ?? ",";
    const hit = this.cache.get(real);
    if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size && hit.kind === source.kind && hit.delimiter === delimiter) return hit.columns;
    const line = readFirstLine(real, st.ino);
    const columns = line === undefined ? [] : source.kind === "csv" ? csvHeader(line, delimiter) : jsonlKeys(line);
    if (this.cache.size >= CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(real, { mtimeMs: st.mtimeMs, size: st.size, kind: source.kind, delimiter, columns });
    return columns;
  }
}

/**
 * The text before the first line break (the whole of what was read when it has none and the file ends there), or
 * undefined when the file is not the regular file that was checked or its first line is longer than HEADER_BYTES.
 */
function readFirstLine(path: string, ino: number): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.ino !== ino) return undefined;
    const buf = Buffer.alloc(HEADER_BYTES);
    let n = 0;
    while (n < buf.length) {
      const got = readSync(fd, buf, n, buf.length - n, n);
      if (got <= 0) break;
      const nl = buf.subarray(n, n + got).findIndex((b) => b === 0x0a || b === 0x0d);
      n += got;
      if (nl >= 0) break;
    }
    const bytes = buf.subarray(0, n);
    const end = bytes.findIndex((b) => b === 0x0a || b === 0x0d);
    if (end < 0 && n >= HEADER_BYTES) return undefined;
    const text = new TextDecoder("utf-8").decode(end < 0 ? bytes : bytes.subarray(0, end));
    return text.startsWith("\uFEFF") ? text.slice(1) : text;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** The fields of a CSV header line: quoted fields may hold the delimiter and doubled quotes. */
export function csvHeader(line: string, delimiter: string): string[] {
  if (delimiter.length !== 1 || delimiter === '"') return [];
  const out: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === delimiter) {
      out.push(field);
      field = "";
    } else field += c;
  }
  out.push(field);
  return [...new Set(out.filter((f) => f !== ""))];
}

/** The keys of the first JSON object of a JSON Lines file. */
export function jsonlKeys(line: string): string[] {
  try {
    const v: unknown = JSON.parse(line);
    return v !== null && typeof v === "object" && !Array.isArray(v) ? Object.keys(v) : [];
  } catch {
    return [];
  }
}
