import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join, posix, relative, resolve, sep } from "node:path";
import { describe, expect, it } from "vitest";
import { attnc } from "./in-process.js";

/**
 * The repository stands alone: no tracked file points at a path outside it, and every relative link in the
 * documentation leads to a file (or folder) that the repository tracks.
 */
const root = resolve(import.meta.dirname, "..");
const tracked = execFileSync("git", ["ls-files", "-z"], { cwd: root, encoding: "utf8" })
  .split("\0")
  .filter((f) => f !== "");
const trackedSet = new Set(tracked);
const trackedDirs = new Set(
  tracked.flatMap((f) =>
    f
      .split("/")
      .slice(0, -1)
      .map((_, i, parts) => parts.slice(0, i + 1).join("/")),
  ),
);

/** Tracked text files (binary ones, with a NUL byte, are left out), by repository path. */
function textFiles(): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of tracked) {
    let text: string;
    try {
      text = readFileSync(join(root, f), "utf8");
    } catch {
      continue; // deleted in the working tree, not yet committed
    }
    if (!text.includes("\0")) out.set(f, text);
  }
  return out;
}
const files = textFiles();

function lineOf(text: string, index: number): number {
  return text.slice(0, index).split("\n").length;
}

/** Every match of `re` in every tracked text file, as "file:line: match". */
function occurrences(re: RegExp, include: (file: string) => boolean = () => true): string[] {
  const hits: string[] = [];
  for (const [f, text] of files) {
    if (!include(f)) continue;
    for (const m of text.matchAll(re)) hits.push(`${f}:${lineOf(text, m.index)}: ${m[0].trim()}`);
  }
  return hits;
}

describe("no tracked file refers to a path outside the repository", () => {
  it("finds the tracked files", () => {
    expect(files.has("README.md")).toBe(true);
    expect(files.has("src/runtime/layers.ts")).toBe(true);
  });

  it("no file cites the shared folder beside the repository", () => {
    // Assembled, so that this file does not match itself.
    const shared = new RegExp(["\\.\\.", "shared"].join("/"), "g");
    expect(occurrences(shared)).toEqual([]);
  });

  it("no file holds an absolute path into a machine's folders", () => {
    const unix = new RegExp(`(?<![\\w.~-])/(?:${["work", "home", "Users", "root", "mnt", "srv"].join("|")})/[\\w.-]`, "g");
    const windows = /\b[A-Za-z]:\\(?:Users|work|home)\\/g;
    expect([...occurrences(unix), ...occurrences(windows)]).toEqual([]);
  });

  it("in code, specs and data outside the tests, no relative path climbs above the repository root", () => {
    // test/ holds deliberately hostile paths (specs that name ../../etc/passwd and the like), and markdown may
    // quote them in example messages; the links of the documentation are checked below.
    const climbs: string[] = [];
    for (const [f, text] of files) {
      if (f.startsWith("test/") || f.endsWith(".md")) continue;
      for (const m of text.matchAll(/(?<![\w.])(?:\.\.\/)+[\w.-]+/g)) {
        const target = resolve(root, dirname(f), m[0]);
        if (relative(root, target).startsWith(`..${sep}`)) climbs.push(`${f}:${lineOf(text, m.index)}: ${m[0]}`);
      }
    }
    expect(climbs).toEqual([]);
  });
});

/** Markdown without fenced code blocks and inline code, where brackets are not links. */
function prose(md: string): string {
  return md.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, (block) => block.replace(/[^\n]/g, " ")).replace(/`[^`\n]*`/g, (code) => " ".repeat(code.length));
}

/** GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/`/g, "")
    .replace(/[^\p{L}\p{N} _-]/gu, "")
    .replace(/ /g, "-");
}

function anchors(md: string): Set<string> {
  const out = new Set<string>();
  for (const m of prose(md).matchAll(/^#{1,6}[ \t]+(.+?)[ \t#]*$/gm)) {
    // The heading's text as written (inline code included), from the original at the same place.
    const original = md
      .slice(m.index, m.index + m[0].length)
      .replace(/^#{1,6}[ \t]+/, "")
      .replace(/[ \t#]*$/, "");
    // A heading whose slug came before gets -1, -2, ... as on GitHub.
    const base = slug(original);
    let id = base;
    for (let n = 1; out.has(id); n++) id = `${base}-${n}`;
    out.add(id);
  }
  return out;
}

/** The link targets of a markdown file: inline links and images, and reference definitions. */
function links(md: string): { target: string; line: number }[] {
  const text = prose(md);
  const out: { target: string; line: number }[] = [];
  for (const m of text.matchAll(/!?\[(?:[^[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g))
    out.push({ target: m[1]!, line: lineOf(text, m.index) });
  for (const m of text.matchAll(/^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)) out.push({ target: m[1]!, line: lineOf(text, m.index) });
  return out;
}

describe("every relative link in README.md and docs/ resolves inside the repository", () => {
  const pages = tracked.filter((f) => f === "README.md" || (f.startsWith("docs/") && f.endsWith(".md")));

  it("checks README.md and the pages of docs/", () => {
    expect(pages).toEqual(expect.arrayContaining(["README.md", "docs/README.md", "docs/language.md", "docs/data.md", "docs/requests.md"]));
  });

  for (const page of pages) {
    it(page, () => {
      const md = files.get(page)!;
      const found = links(md);
      expect(found.length).toBeGreaterThan(0);
      const broken: string[] = [];
      for (const { target, line } of found) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:, ...
        const [pathPart, fragment] = target.split("#", 2) as [string, string | undefined];
        const path = decodeURIComponent(pathPart.split("?")[0]!);
        const where = `${page}:${line}: ${target}`;
        if (path.startsWith("/")) {
          broken.push(`${where} (absolute)`);
          continue;
        }
        const file = path === "" ? page : posix.normalize(posix.join(posix.dirname(page), path)).replace(/\/$/, "");
        if (file.startsWith("../") || file === "..") {
          broken.push(`${where} (outside the repository)`);
          continue;
        }
        if (!trackedSet.has(file) && !trackedDirs.has(file) && file !== ".") {
          broken.push(`${where} (no such tracked file)`);
          continue;
        }
        if (fragment !== undefined && file.endsWith(".md") && !anchors(files.get(file) ?? "").has(fragment)) broken.push(`${where} (no heading #${fragment})`);
      }
      expect(broken).toEqual([]);
    });
  }
});

describe("exit code 70 is documented", () => {
  it("in README.md's exit codes", () => {
    expect(files.get("README.md")).toMatch(/Exit codes: [^\n]*\n?[^\n]*70 internal error: a bug in attnc; please report/);
  });

  it("in attnc --help", async () => {
    const r = await attnc("--help");
    expect(r.code).toBe(0);
    expect(r.out).toContain("70 internal error: a bug in attnc; please report");
    expect(r.out).toContain("130 interrupted");
  });
});
