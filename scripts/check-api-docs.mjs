// Fails when docs/api (generated from the library's types by typedoc, `npm run docs:api`) is not what the
// sources give now: regenerates it into a temporary folder and compares every file.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

const files = (dir) =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)));
const tmp = mkdtempSync(join(tmpdir(), "attnc-api-docs-"));
try {
  execFileSync(process.execPath, ["node_modules/typedoc/bin/typedoc", "--out", tmp, "--logLevel", "Error"], { stdio: "inherit" });
  const want = new Set(files(tmp));
  const have = new Set(files("docs/api"));
  const stale = [...new Set([...want, ...have])].filter(
    (f) => !want.has(f) || !have.has(f) || readFileSync(join(tmp, f), "utf8") !== readFileSync(join("docs/api", f), "utf8"),
  );
  if (stale.length > 0) {
    console.error(`docs/api is stale (${stale.map((f) => `docs/api/${f}`).join(", ")}); run npm run docs:api`);
    process.exitCode = 1;
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
