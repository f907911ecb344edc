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
  // JSON.parse reads 1e400 as Infinity, which JSON.stringify would show as null.
  if (typeof v === "number" && !Number.isFinite(v)) return "a number beyond the float64 range";
  const t = JSON.stringify(v);
  return t.length > 60 ? `${t.slice(0, 57)}..."` : t;
}

/** A JSON Schema type in words: "integer" as "a whole number". */
const TYPE_WORDS: Record<string, string> = {
  integer: "a whole number",
  number: "a finite number",
  string: "a string",
  boolean: "true or false",
  array: "a list",
  object: "an object",
  null: "null",
};

function typeWords(types: readonly string[]): string {
  const words = [...new Set(types.map((t) => TYPE_WORDS[t] ?? t))];
  return words.length <= 1 ? (words[0] ?? "") : `${words.slice(0, -1).join(", ")} or ${words[words.length - 1]!}`;
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
      return `${at} must be ${typeWords(String(p["type"]).split(","))}, not ${show(v)}`;
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
      return p["limit"] === 1 ? `${at} must not be empty` : `${at} must have at least ${String(p["limit"])} items`;
    case "maxItems":
      return `${at} must have at most ${String(p["limit"])} item${p["limit"] === 1 ? "" : "s"}`;
    case "maxLength":
      return `${at} is longer than ${String(p["limit"])} characters`;
    case "uniqueItems":
      return `${at} repeats an entry: items ${String(Math.min(Number(p["i"]), Number(p["j"])))} and ${String(Math.max(Number(p["i"]), Number(p["j"])))} are equal`;
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

/**
 * The first problem the validator found, in words; null when the document is valid. A value that fits none of
 * anyOf's forms (a number or a list) is described by the form of its own type, or, when no form has its type, by
 * the forms' types: `prep.targetScale must be a finite number or a list, not "2"`.
 */
export function schemaProblem(v: IrValidator, doc: unknown): string | null {
  if (v(doc)) return null;
  const all = v.errors ?? [];
  let anyOf = all.length - 1;
  while (anyOf >= 0 && all[anyOf]!.keyword !== "anyOf") anyOf--;
  if (anyOf >= 0) {
    const at = all[anyOf]!.instancePath;
    const branches = all.slice(0, anyOf).filter((e) => e.instancePath === at || e.instancePath.startsWith(`${at}/`));
    const ofItsType = branches.filter((e) => !(e.keyword === "type" && e.instancePath === at));
    const chosen = ofItsType[ofItsType.length - 1];
    if (chosen) return describeSchemaError(doc, chosen);
    const types = branches.flatMap((e) => String(e.params["type"]).split(","));
    if (types.length > 0) return `${fieldOf(at) || "the document"} must be ${typeWords(types)}, not ${show(valueAt(doc, at))}`;
  }
  const errors = all.filter((e) => !["anyOf", "oneOf", "if"].includes(e.keyword));
  const e = errors[errors.length - 1] ?? all[0];
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
