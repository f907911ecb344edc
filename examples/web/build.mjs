// Bundles the page's script (app.ts, with attnc's browser runtime and TensorFlow.js) into examples/web/dist/app.js,
// and copies TensorFlow.js's wasm binaries beside it.
// Run after `npm run build` (the runtime comes from dist/ through package.json's "attnc/runtime" export).
import { copyFileSync, mkdirSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = fileURLToPath(new URL(".", import.meta.url));

const r = await build({
  entryPoints: [`${here}app.ts`],
  outfile: `${here}dist/app.js`,
  bundle: true,
  platform: "browser",
  format: "esm",
  target: "es2022",
  minify: true,
  legalComments: "linked",
  metafile: true,
  logLevel: "warning",
});
// TensorFlow.js's wasm backend fetches its binary at run time, from beside the bundle.
const wasmDir = dirname(createRequire(import.meta.url).resolve("@tensorflow/tfjs-backend-wasm/package.json"));
mkdirSync(`${here}dist`, { recursive: true });
for (const f of readdirSync(join(wasmDir, "dist")).filter((n) => n.endsWith(".wasm"))) copyFileSync(join(wasmDir, "dist", f), `${here}dist/${f}`);
const bytes = Object.values(r.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
process.stdout.write(`examples/web/dist/app.js: ${(bytes / 1e6).toFixed(1)} MB\n`);
