/**
 * Schema validation of a model directory's JSON files (schema/model-manifest.schema.json, model-meta and
 * model-json), run by the CLI before the runtime loader, which adds the checks a schema cannot express
 * (weights against shapes and bytes, the IR against the topology). Lives outside src/runtime, which may use
 * only tfjs and Node built-ins; the build precompiles the validators (scripts/build.mjs).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { IrValidator } from "../ir/validate.js";
import { schemaProblem, type DirValidators } from "./schemas.js";
import { irSchema } from "../ir/schema.js";
import { dirFile, readDirJson, readManifest } from "../runtime/modeldir.js";
import { damagedDir, MANIFEST, MODELDIR_LIMITS } from "../runtime/modeldir-format.js";
import { checkModelDirContents } from "./check.js";
import { packageRoot } from "../cli/io.js";

/** The schema files, by the name each validator is exported under. */
export const DIR_SCHEMAS = { manifest: "model-manifest.schema.json", meta: "model-meta.schema.json", model: "model-json.schema.json" } as const;
export const SCHEMA_BASE = "https://attnc.dev/schema/";

let cached: DirValidators | undefined;

export async function loadDirValidators(): Promise<DirValidators> {
  if (cached) return cached;
  try {
    cached = (await import("./validators.generated.js")) as DirValidators;
  } catch {
    cached = await compileDirValidators();
  }
  return cached;
}

/** Compiles the validators from schema/ (from sources; the build precompiles the same). */
export async function compileDirValidators(root = packageRoot()): Promise<DirValidators> {
  const { Ajv2020 } = await import("ajv/dist/2020.js");
  const ajv = new Ajv2020({ allErrors: false, discriminator: true, strict: true, strictTuples: false });
  ajv.addSchema(irSchema());
  const out: Partial<DirValidators> = {};
  for (const [key, file] of Object.entries(DIR_SCHEMAS)) {
    out[key as keyof DirValidators] = ajv.compile(JSON.parse(readFileSync(join(root, "schema", file), "utf8")) as object) as IrValidator;
  }
  return out as DirValidators;
}

/**
 * Checks manifest.json, model.json and attnc.json against their schemas, then against each other and the
 * weights file (src/modeldir/check.ts); throws the runtime's ModelDirError
 * (`damaged model directory DIR: attnc.json: ...`). A directory without a manifest is left to the loader,
 * which says it is not a model directory.
 */
export async function validateModelDir(dir: string): Promise<void> {
  const manifest = readManifest(dir);
  if (!manifest) return;
  const v = await loadDirValidators();
  const check = (file: string, validator: IrValidator, doc: unknown): void => {
    const problem = schemaProblem(validator, doc);
    if (problem !== null) throw damagedDir(dir, `${file}: ${problem}`);
  };
  check(MANIFEST, v.manifest, manifest);
  const modelJson = readDirJson(dir, manifest.model, `${MANIFEST}: model`);
  check("model.json", v.model, modelJson);
  const meta = readDirJson(dir, "attnc.json", "the directory's");
  check("attnc.json", v.meta, meta);
  checkModelDirContents(dir, manifest, modelJson, meta, dirFile(dir, manifest.weights, `${MANIFEST}: weights`, MODELDIR_LIMITS.binBytes).size);
}
