// npm run package:vscode: bundles the extension with its language client and packages editors/vscode as a .vsix
// (with @vscode/vsce from the project's devDependencies). Writes editors/vscode/dist/ and attn-<version>.vsix only.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const dir = fileURLToPath(new URL(".", import.meta.url));
const require = createRequire(import.meta.url);
let vsce;
try {
  vsce = require.resolve("@vscode/vsce/vsce");
} catch {
  process.stderr.write("package:vscode: @vscode/vsce is not installed (npm install, with devDependencies)\n");
  process.exit(2);
}
await build({
  entryPoints: [new URL("./extension.js", import.meta.url).pathname],
  outfile: new URL("./dist/extension.js", import.meta.url).pathname,
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  external: ["vscode"],
  minify: true,
  logLevel: "warning",
});
const { version } = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8"));
const out = `attn-${version}.vsix`;
const r = spawnSync(process.execPath, [vsce, "package", "--no-dependencies", "--skip-license", "--allow-missing-repository", "--out", out], {
  cwd: dir,
  stdio: "inherit",
});
if (r.status !== 0) process.exit(r.status ?? 1);
process.stdout.write(`wrote editors/vscode/${out}\n`);
