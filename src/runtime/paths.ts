/**
 * The path rule that `attnc` and the generated programs share: a path is judged by where it really is (symlinks
 * resolved; for a path that does not exist yet, the real path of its nearest existing ancestor), and data and
 * outputs must stay inside the working directory unless the user passes --allow-outside. Also: file-system
 * errors in words, and safe file names. Only Node built-ins.
 */
import { createHash } from "node:crypto";
import { lstatSync, readlinkSync, realpathSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";

/** Symbolic links followed while resolving one path before it counts as a loop (Linux's own limit). */
const LINK_LIMIT = 40;

/** A missing path (or one that cannot exist): resolve what exists above it. */
function missingCode(code: string | undefined): boolean {
  return code === "ENOENT" || code === "ENOTDIR" || code === "ENAMETOOLONG";
}

/**
 * Where an absolute path really is: realpath if it exists; otherwise the realpath of its nearest existing
 * ancestor with the rest appended. A dangling symlink on the way counts as the place it points to, since
 * writing through it would create its target.
 */
export function realPathOf(abs: string): string {
  let cur = resolve(abs);
  const rest: string[] = [];
  let links = 0;
  for (;;) {
    try {
      const real = realpathSync.native(cur);
      return rest.length === 0 ? real : join(real, ...[...rest].reverse());
    } catch (e) {
      if (!missingCode((e as NodeJS.ErrnoException).code)) throw e;
    }
    let link: string | undefined;
    try {
      link = lstatSync(cur).isSymbolicLink() ? readlinkSync(cur) : undefined;
    } catch {
      link = undefined;
    }
    if (link !== undefined) {
      if (++links > LINK_LIMIT) throw Object.assign(new Error(`too many symbolic links: ${abs}`), { code: "ELOOP" });
      cur = resolve(dirname(cur), link);
      continue;
    }
    const up = dirname(cur);
    if (up === cur) return join(cur, ...[...rest].reverse());
    rest.push(basename(cur));
    cur = up;
  }
}

/** Whether `path` is `root` or below it (both absolute and resolved). */
export function isWithin(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (!isAbsolute(rel) && rel !== ".." && !rel.startsWith(`..${sep}`));
}

export interface PlacedPath {
  /** The path resolved against the working directory, symlinks kept (what is opened, and shown). */
  readonly abs: string;
  /** Where it really is. */
  readonly real: string;
  /** Whether the real path is inside the working directory's real path. */
  readonly inside: boolean;
}

/** Resolves `path` against `cwd` and says whether it really stays inside `cwd`. */
export function placePath(cwd: string, path: string): PlacedPath {
  const abs = resolve(cwd, path);
  const real = realPathOf(abs);
  return { abs, real, inside: isWithin(realPathOf(resolve(cwd)), real) };
}

/** The one message for a path that leaves the working directory. */
export function outsideMessage(what: string, shown: string, real: string): string {
  return `${what} ${shown} is outside the working directory (it resolves to ${real}); pass --allow-outside to use it`;
}

/** A file-system error in a few words, for "cannot read/write PATH: reason". */
export function fsReason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case "ENOENT":
      return "no such file or directory";
    case "ENAMETOOLONG":
      return "file name too long";
    case "EISDIR":
      return "is a directory";
    case "ENOTDIR":
      return "a part of the path is not a directory";
    case "EEXIST":
      return "a file of that name is in the way";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EROFS":
      return "read-only file system";
    case "ENOSPC":
      return "no space left on device";
    case "EDQUOT":
      return "disk quota exceeded";
    case "ELOOP":
      return "too many symbolic links";
    case "EMFILE":
    case "ENFILE":
      return "too many open files";
    case "EIO":
      return "input/output error";
    default:
      return code ?? (e instanceof Error ? e.message : String(e));
  }
}

export interface FsFailure {
  readonly write: boolean;
  /** The file the error names (a temporary file's name is mapped back to the file it was for). */
  readonly path: string | undefined;
  readonly reason: string;
}

const WRITE_CALLS = new Set(["mkdir", "rename", "write", "unlink", "rmdir", "rm", "copyfile", "symlink", "link", "ftruncate", "fsync", "utime", "chmod"]);

/**
 * Describes a Node file-system error (one with an errno code), or returns undefined for anything else. Writes
 * go through temporary files (`<file>.<hex>.tmp`), so opening one of those is a write too.
 */
export function fsFailure(e: unknown): FsFailure | undefined {
  if (!(e instanceof Error)) return undefined;
  const err = e as NodeJS.ErrnoException;
  if (typeof err.code !== "string" || !/^E[A-Z]+$/.test(err.code) || typeof err.syscall !== "string") return undefined;
  const raw = typeof err.path === "string" ? err.path : undefined;
  const tmp = raw !== undefined && /\.[0-9a-f]{12}\.tmp$/.test(raw);
  const write = WRITE_CALLS.has(err.syscall) || tmp || err.code === "EROFS" || err.code === "ENOSPC" || err.code === "EDQUOT";
  return { write, path: tmp ? raw!.replace(/\.[0-9a-f]{12}\.tmp$/, "") : raw, reason: fsReason(err) };
}

/**
 * A file name made from arbitrary text (a node name, say): letters, digits, "-", "_" and "." only, never
 * starting with ".", at most 80 characters; when anything had to change, a short hash of the original keeps
 * different names apart.
 */
export function safeFileName(name: string): string {
  const cleaned = name
    .replace(/[^A-Za-z0-9_.-]/g, "_")
    .replace(/^\.+/, "_")
    .slice(0, 64);
  if (cleaned === name && name.length > 0) return name;
  return `${cleaned}-${createHash("sha256").update(name).digest("hex").slice(0, 8)}`;
}
