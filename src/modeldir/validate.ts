/**
 * Schema validation of a model directory's JSON files (schema/model-manifest.schema.json, model-meta and
 * model-json), run by the CLI before the runtime loader, which adds the checks a schema cannot express
 * (weights against shapes and bytes, the IR against the topology). Lives outside src/runtime, which may use
 * only tfjs and Node built-ins; the build precompiles the validators (scripts/build.mjs).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { IrValidator, SchemaError } from "../ir/validate.js";
import { irSchema } from "../ir/schema.js";
import { damagedDir, dirFile, MANIFEST, MODELDIR_LIMITS, readDirJson, readManifest } from "../runtime/modeldir.js";
import { checkModelDirContents } from "./check.js";
import { packageRoot } from "../cli/io.js";

export interface DirValidators {
  manifest: IrValidator;
  meta: IrValidator;
  model: IrValidator;
}

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

/** "/ir/nodes/3/name" as ir.nodes[3].name. */
function fieldOf(pointer: string): string {
  let out = "";
  for (const raw of pointer.split("/").slice(1)) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    out += /^\d+$/.test(key) ? `[${key}]` : /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${out ? "." : ""}${key}` : `[${JSON.stringify(key)}]`;
  }
  return out;
}

function valueAt(doc: unknown, pointer: string): unknown {
  let v: unknown = doc;
  for (const raw of pointer.split("/").slice(1)) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string, unknown>)[raw.replace(/~1/g, "/").replace(/~0/g, "~")];
  }
  return v;
}

function show(v: unknown): string {
  if (v === undefined) return "nothing";
  if (Array.isArray(v)) return "a list";
  if (v !== null && typeof v === "object") return "an object";
  const t = JSON.stringify(v);
  return t.length > 60 ? `${t.slice(0, 57)}..."` : t;
}

const IDENTIFIER_PATTERNS = ["^[A-Za-z_][A-Za-z0-9_]{0,127}$", "^[A-Za-z_][A-Za-z0-9_]*$"];

/** One schema error in words: `ir.nodes[3].name "x/../E" is not an identifier`. */
export function describeSchemaError(doc: unknown, e: SchemaError): string {
  const field = fieldOf(e.instancePath);
  const v = valueAt(doc, e.instancePath);
  const at = field === "" ? "the document" : field;
  const p = e.params;
  switch (e.keyword) {
    case "required":
      return `${field === "" ? "" : `${field} `}lacks ${JSON.stringify(p["missingProperty"])}`.trim();
    case "additionalProperties":
      return `${at} has an unknown field ${JSON.stringify(p["additionalProperty"])}`;
    case "type":
      return `${at} must be ${String(p["type"]).replace(",", " or ")}, not ${show(v)}`;
    case "pattern": {
      const pattern = String(p["pattern"]);
      if (IDENTIFIER_PATTERNS.includes(pattern)) return `${at} ${show(v)} is not an identifier`;
      if (pattern.includes("\\.g[0-9]+") || pattern.includes("json")) return `${at} ${show(v)} is not a file attnc writes in a model directory`;
      return `${at} ${show(v)} does not have the form ${pattern}`;
    }
    case "const":
      return `${at} must be ${JSON.stringify(p["allowedValue"])}, not ${show(v)}`;
    case "enum":
      return `${at} must be one of ${(p["allowedValues"] as unknown[]).map((x) => JSON.stringify(x)).join(", ")}, not ${show(v)}`;
    case "minimum":
    case "maximum":
    case "exclusiveMinimum":
    case "exclusiveMaximum":
      return `${at} must be ${String(p["comparison"])} ${String(p["limit"])}, not ${show(v)}`;
    case "minItems":
      return `${at} must have at least ${String(p["limit"])} items`;
    case "maxItems":
      return `${at} must have at most ${String(p["limit"])} items`;
    case "maxLength":
      return `${at} is longer than ${String(p["limit"])} characters`;
    case "uniqueItems":
      return `${at} has items ${String(p["j"])} and ${String(p["i"])} equal`;
    case "not":
      return `${at} must not be ${show(v)}`;
    case "discriminator": {
      const tag = String(p["tag"]);
      const tagValue = valueAt(doc, `${e.instancePath}/${tag}`);
      return p["error"] === "mapping"
        ? `${field ? `${field}.` : ""}${tag} ${show(tagValue)} is not one attnc knows`
        : `${at} needs a string ${JSON.stringify(tag)}`;
    }
    default:
      return `${at} is not valid (${e.message ?? e.keyword})`;
  }
}

/** The first problem the validator found, in words; null when the document is valid. */
export function schemaProblem(v: IrValidator, doc: unknown): string | null {
  if (v(doc)) return null;
  const errors = (v.errors ?? []).filter((e) => !["anyOf", "oneOf", "if"].includes(e.keyword));
  const e = errors[errors.length - 1] ?? v.errors?.[0];
  return e ? describeSchemaError(doc, e) : "is not valid";
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
