import { randomBytes } from "node:crypto";
import { closeSync, fstatSync, lstatSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync, type Stats } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { decodeSource } from "../language/source.js";
import { fsReason } from "../runtime/paths.js";

/** Where the CLI writes, so that tests can run it in process. */
export interface CliIo {
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: { write(s: string): unknown; isTTY?: boolean };
  readonly stderr: { write(s: string): unknown; isTTY?: boolean };
  /** Where `--input -` reads from (default: the process's standard input). */
  readonly stdin?: Readable;
}

export function processIo(): CliIo {
  // A reader that goes away (`attnc predict ... | head -1`) is the end of the output, not an error: the process
  // ends quietly, as a Unix tool does on SIGPIPE, instead of dying on an unhandled EPIPE with a stack trace.
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.listenerCount("error") === 0)
      stream.on("error", (e: NodeJS.ErrnoException) => {
        if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
        throw e;
      });
  }
  return { cwd: process.cwd(), env: process.env, stdout: process.stdout, stderr: process.stderr };
}

/** A usage or I/O problem: reported in one line, exit code 2. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}

/** How a path is shown: relative to the working directory with forward slashes, as the user would type it. */
export function displayPath(io: CliIo, path: string): string {
  const abs = resolve(io.cwd, path);
  const rel = relative(io.cwd, abs);
  const shown = rel === "" ? "." : rel.startsWith("..") || isAbsolute(rel) ? abs : rel;
  return shown.split(sep).join("/");
}

/** Largest spec attnc reads (specs are a page or two; this only stops runaway input). */
export const SPEC_LIMIT = 10 * 1024 * 1024;

const mib = (n: number): string => `${Math.round((n / 1024 / 1024) * 10) / 10} MiB`;

/** What kind of file a stat describes, for a refusal. */
function kindOf(st: Stats): string {
  if (st.isDirectory()) return "is a directory";
  if (st.isCharacterDevice() || st.isBlockDevice()) return "is a device, not a regular file";
  if (st.isSocket()) return "is a socket, not a regular file";
  if (st.isFIFO()) return "is a pipe, not a regular file";
  return "is not a regular file";
}

/** Reads an open descriptor to its end, refusing more than `limit` bytes. */
function readAll(fd: number, limit: number, tooBig: () => never): Buffer {
  const chunks: Buffer[] = [];
  let total = 0;
  const chunk = Buffer.allocUnsafe(1 << 16);
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, chunk, 0, chunk.length, null);
    } catch (e) {
      // A non-blocking standard input with nothing in it yet: wait a little and try again.
      if ((e as NodeJS.ErrnoException).code === "EAGAIN") {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
        continue;
      }
      throw e;
    }
    if (n === 0) break;
    total += n;
    if (total > limit) tooBig();
    chunks.push(Buffer.from(chunk.subarray(0, n)));
  }
  return Buffer.concat(chunks, total);
}

export interface ReadOptions {
  /** Bytes at most. */
  readonly limit: number;
  /** What the file is, for the size message: "specs", "input files". */
  readonly what: string;
  /** Whether a named pipe may be read (a verb that reads its input once, as a stream). */
  readonly fifo?: boolean;
}

/**
 * Reads a file as bytes: only a regular file (or a named pipe where allowed), at most `limit` bytes; anything
 * else is "cannot read PATH: reason" (exit 2). The type is checked again on the open descriptor.
 */
export function readCapped(io: CliIo, path: string, opts: ReadOptions): string {
  const abs = resolve(io.cwd, path);
  const shown = displayPath(io, path);
  const refuse = (why: string): never => {
    throw new CliError(`cannot read ${shown}: ${why}`);
  };
  const tooBig = (): never => refuse(`larger than ${mib(opts.limit)}, the limit for ${opts.what}`);
  const allowed = (st: Stats) => st.isFile() || (opts.fifo === true && st.isFIFO());
  let st: Stats;
  try {
    st = statSync(abs);
  } catch (e) {
    return refuse(fsReason(e));
  }
  if (!allowed(st)) refuse(kindOf(st));
  if (st.isFile() && st.size > opts.limit) tooBig();
  let fd: number;
  try {
    fd = openSync(abs, "r");
  } catch (e) {
    return refuse(fsReason(e));
  }
  try {
    const now = fstatSync(fd);
    if (!allowed(now)) refuse(kindOf(now));
    return decode(readAll(fd, opts.limit, tooBig));
  } catch (e) {
    if (e instanceof CliError) throw e;
    return refuse(fsReason(e));
  } finally {
    closeSync(fd);
  }
}

/** Spec text: bytes that are not UTF-8 stay visible to the lexer, which reports them where they stand. */
function decode(buf: Buffer): string {
  const text = decodeSource(buf);
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Reads a spec: a regular file or a named pipe (`attnc check <(...)`), at most SPEC_LIMIT bytes. */
export function readText(io: CliIo, path: string): string {
  return readCapped(io, path, { limit: SPEC_LIMIT, what: "specs", fifo: true });
}

/** Reads standard input to its end, at most `limit` bytes. */
export function readStdin(limit: number, what: string): string {
  return decode(
    readAll(0, limit, () => {
      throw new CliError(`cannot read <stdin>: larger than ${mib(limit)}, the limit for ${what}`);
    }),
  );
}

/** Reads a file attnc may have written before, if it exists (a missing file is undefined; anything odd an error). */
export function readIfExists(io: CliIo, path: string): string | undefined {
  try {
    lstatSync(resolve(io.cwd, path));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
  }
  return readCapped(io, path, { limit: 64 * 1024 * 1024, what: "generated files" });
}

/** Writes through a temporary file in the same directory and renames it into place, so readers never see half a file. */
export function writeAtomic(io: CliIo, path: string, contents: string | Uint8Array): void {
  const abs = resolve(io.cwd, path);
  const tmp = `${abs}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    mkdirSync(dirname(abs), { recursive: true });
    writeFileSync(tmp, contents, { flag: "wx" });
    renameSync(tmp, abs);
  } catch (e) {
    try {
      rmSync(tmp, { force: true });
    } catch {
      // the temporary file was never made (its name may be the very problem)
    }
    throw new CliError(`cannot write ${displayPath(io, path)}: ${fsReason(e)}`);
  }
}

/** The directory of attnc's own package.json (from dist/ or from the bundle alike). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string };
      if (pkg.name === "attnc") return dir;
    } catch {
      // not here; look further up
    }
    const up = dirname(dir);
    if (up === dir) throw new Error("attnc's package.json was not found above its code");
    dir = up;
  }
}
