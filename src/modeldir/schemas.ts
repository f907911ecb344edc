/**
 * A model directory's files against their JSON Schemas (schema/model-manifest.schema.json, model-meta and
 * model-json), then against each other and the weights (check.ts), once the files are read: the problem in
 * words, as `damaged model directory DIR: attnc.json: ir.nodes[3].name "x/../E" is not an identifier`. No Node
 * built-ins: the CLI and the library in Node read a folder (validate.ts), the browser entry reads a URL.
 */
import type { IrValidator, SchemaError } from "../ir/validate.js";
import { damagedDir, MANIFEST, type DirFiles } from "../runtime/modeldir-format.js";
import { checkModelDirContents } from "./check.js";

export interface DirValidators {
  manifest: IrValidator;
  meta: IrValidator;
  model: IrValidator;
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

/** Checks a directory's files (read, not yet built into a model) against the schemas and each other; throws ModelDirError. */
export function checkDirFiles(v: DirValidators, f: DirFiles): void {
  const check = (file: string, validator: IrValidator, doc: unknown): void => {
    const problem = schemaProblem(validator, doc);
    if (problem !== null) throw damagedDir(f.dir, `${file}: ${problem}`);
  };
  check(MANIFEST, v.manifest, f.manifest);
  check("model.json", v.model, f.modelJson);
  check("attnc.json", v.meta, f.meta);
  checkModelDirContents(f.dir, f.manifest, f.modelJson, f.meta, f.weightBytes);
}
