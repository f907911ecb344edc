import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeSource } from "../language/source.js";

/** Where the CLI writes, so that tests can run it in process. */
export interface CliIo {
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: { write(s: string): unknown; isTTY?: boolean };
  readonly stderr: { write(s: string): unknown; isTTY?: boolean };
}

export function processIo(): CliIo {
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

export function readText(io: CliIo, path: string): string {
  const abs = resolve(io.cwd, path);
  let buf: Buffer;
  try {
    buf = readFileSync(abs);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : code === "EACCES" ? "permission denied" : String((e as Error).message);
    throw new CliError(`cannot read ${displayPath(io, path)}: ${why}`);
  }
  const text = decodeSource(buf);
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Reads a file if it exists. */
export function readIfExists(io: CliIo, path: string): string | undefined {
  try {
    return readFileSync(resolve(io.cwd, path), "utf8");
  } catch {
    return undefined;
  }
}

/** Writes through a temporary file in the same directory and renames it into place, so readers never see half a file. */
export function writeAtomic(io: CliIo, path: string, contents: string | Uint8Array): void {
  const abs = resolve(io.cwd, path);
  const tmp = `${abs}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    mkdirSync(dirname(abs), { recursive: true });
    writeFileSync(tmp, contents);
    renameSync(tmp, abs);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new CliError(`cannot write ${displayPath(io, path)}: ${(e as Error).message}`);
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
