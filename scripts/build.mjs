// Build step after tsc:
// 1. precompiles the IR validator (ajv standalone code) into dist/ir/validator.generated.js, so that the
//    CLI does not compile the schema at start-up; likewise the model directory validators (schema/model-*.json)
//    into dist/modeldir/validators.generated.js;
// 2. bundles the CLI into dist/attnc.mjs, so that start-up does not resolve hundreds of small modules.
//    Heavy libraries that only some commands need stay external and load on first use.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { Ajv2020 } from "ajv/dist/2020.js";
import standaloneCode from "ajv/dist/standalone/index.js";
import { build } from "esbuild";
import { irSchema } from "../dist/ir/schema.js";

const ajv = new Ajv2020({ allErrors: true, discriminator: true, strict: true, code: { source: true, esm: true } });
const validate = ajv.compile(irSchema());
writeFileSync(new URL("../dist/ir/validator.generated.js", import.meta.url), standaloneCode.default(ajv, validate));

const { DIR_SCHEMAS, SCHEMA_BASE } = await import("../dist/modeldir/validate.js");
const dirAjv = new Ajv2020({ allErrors: false, discriminator: true, strict: true, strictTuples: false, code: { source: true, esm: true } });
dirAjv.addSchema(irSchema());
for (const file of Object.values(DIR_SCHEMAS)) dirAjv.addSchema(JSON.parse(readFileSync(new URL(`../schema/${file}`, import.meta.url), "utf8")));
mkdirSync(new URL("../dist/modeldir/", import.meta.url), { recursive: true });
writeFileSync(
  new URL("../dist/modeldir/validators.generated.js", import.meta.url),
  standaloneCode.default(dirAjv, Object.fromEntries(Object.entries(DIR_SCHEMAS).map(([k, f]) => [k, SCHEMA_BASE + f]))),
);

await build({
  // The training worker is an entry of its own: DataParallel starts it as parallel-worker.mjs beside its chunk.
  entryPoints: { attnc: new URL("../dist/cli/main.js", import.meta.url).pathname, "parallel-worker": new URL("../dist/runtime/parallel-worker.js", import.meta.url).pathname },
  outdir: new URL("../dist/bundle", import.meta.url).pathname,
  outExtension: { ".js": ".mjs" },
  // Code splitting keeps dynamically imported command modules (training) out of the start-up path.
  splitting: true,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  logLevel: "warning",
  external: ["@tensorflow/*", "prettier", "prettier/*", "esbuild"],
  banner: { js: "import { createRequire as __attncCreateRequire } from 'node:module'; const require = __attncCreateRequire(import.meta.url);" },
});
