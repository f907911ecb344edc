import type { DiagnosticBag } from "../diagnostics/diagnostic.js";
import { didYouMean } from "../diagnostics/suggest.js";
import type { CodeName } from "../diagnostics/catalogue.js";
import { irSchema } from "./schema.js";
import type { SpanMap } from "./spans.js";

/** The subset of an ajv error that validation reads. */
export interface SchemaError {
  readonly instancePath: string;
  readonly keyword: string;
  readonly params: Record<string, unknown>;
  readonly message?: string;
}
export type IrValidator = ((data: unknown) => boolean) & { errors?: SchemaError[] | null };

let cached: IrValidator | undefined;

/**
 * The IR validator. The build precompiles it (scripts/build.mjs writes dist/ir/validator.generated.js,
 * so the CLI starts fast); from sources it is compiled with ajv from the same schema.
 */
export async function loadValidator(): Promise<IrValidator> {
  if (cached) return cached;
  try {
    cached = (await import("./validator.generated.js")).default;
  } catch {
    cached = await compileValidator();
  }
  return cached;
}

export async function compileValidator(): Promise<IrValidator> {
  const { Ajv2020 } = await import("ajv/dist/2020.js");
  const ajv = new Ajv2020({ allErrors: true, discriminator: true, strict: true });
  return ajv.compile(irSchema()) as IrValidator;
}

function at(doc: unknown, pointer: string): unknown {
  let v: unknown = doc;
  for (const raw of pointer.split("/").slice(1)) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (v === null || typeof v !== "object") return undefined;
    v = Object.hasOwn(v, key) ? (v as Record<string, unknown>)[key] : undefined;
  }
  return v;
}

function show(v: unknown): string {
  if (typeof v === "string") return `'${v}'`;
  if (Array.isArray(v)) return "a list";
  if (v !== null && typeof v === "object") {
    const kind = (v as Record<string, unknown>)["kind"];
    return typeof kind === "string" ? `${kind}(...)` : "a call";
  }
  return String(v);
}

const TYPE_WORDS: Record<string, string> = {
  integer: "a whole number",
  number: "a number",
  string: "a string",
  boolean: "true or false",
  array: "a list",
  object: "a call such as name(...)",
};

/** Validates raw IR and turns each schema error into a diagnostic at its spec location. Returns the failing paths. */
export function validateIr(validator: IrValidator, ir: unknown, spans: SpanMap, bag: DiagnosticBag): string[] {
  if (validator(ir)) return [];
  const failed: string[] = [];
  const errors = validator.errors ?? [];
  // A misspelt argument that suggests a missing required one is one mistake, reported once (as the misspelling).
  const suggestedFor = new Set<string>();
  for (const e of errors) {
    if (e.keyword !== "additionalProperties") continue;
    const s = didYouMean(String(e.params["additionalProperty"]), spans.nearest(e.instancePath)?.keys ?? []);
    if (s !== undefined) suggestedFor.add(`${e.instancePath}/${s}`);
  }
  // A value that matches no alternative of an anyOf (a string or a list of strings) gets one message: the error
  // inside the alternative it came closest to (an item of a list), else the types it could have, joined.
  const anyOfPaths = new Set(errors.filter((e) => e.keyword === "anyOf").map((e) => e.instancePath));
  const typeReported = new Set<string>();
  for (const e of errors) {
    if (e.keyword === "type" && anyOfPaths.has(e.instancePath)) {
      const p = e.instancePath;
      if (typeReported.has(p) || errors.some((o) => o.instancePath.startsWith(`${p}/`) || (o.instancePath === p && !["type", "anyOf"].includes(o.keyword)))) {
        failed.push(p);
        continue;
      }
      typeReported.add(p);
    }
    if (spans.isReported(e.instancePath)) {
      failed.push(e.instancePath);
      continue;
    }
    if (e.keyword === "required" && suggestedFor.has(`${e.instancePath}/${String(e.params["missingProperty"])}`)) continue;
    const origin = spans.nearest(e.instancePath);
    if (!origin) throw new Error(`schema error at ${e.instancePath} has no source location: ${e.message ?? e.keyword}`);
    const value = at(ir, e.instancePath);
    const report = (code: CodeName, message: string, span = origin.span, suggestion?: string): void => {
      bag.report(code, span, message, suggestion !== undefined ? { suggestion } : {});
      failed.push(e.instancePath);
    };
    switch (e.keyword) {
      case "additionalProperties": {
        const prop = String(e.params["additionalProperty"]);
        const o = spans.get(`${e.instancePath}/${prop}`);
        const isBlock = origin.label.endsWith(" block");
        report(
          "UnknownArgument",
          isBlock ? `unknown setting '${prop}' in the ${origin.label}` : `${origin.label} has no argument '${prop}'`,
          o?.keySpan ?? o?.span ?? origin.span,
          didYouMean(prop, origin.keys ?? []),
        );
        break;
      }
      case "required": {
        const prop = String(e.params["missingProperty"]);
        const isBlock = origin.label.endsWith(" block");
        report("MissingArgument", isBlock ? `the ${origin.label} needs a '${prop}' setting` : `${origin.label} needs '${prop}'`);
        break;
      }
      case "type": {
        const types = anyOfPaths.has(e.instancePath)
          ? errors.filter((o) => o.keyword === "type" && o.instancePath === e.instancePath).map((o) => String(o.params["type"]))
          : [String(e.params["type"])];
        report("WrongType", `${origin.label} must be ${types.map((t) => TYPE_WORDS[t] ?? t).join(" or ")}, not ${show(value)}`);
        break;
      }
      case "enum": {
        const allowed = (e.params["allowedValues"] as unknown[]).map(String);
        report(
          "InvalidValue",
          `${origin.label} must be one of ${allowed.join(", ")}; got ${show(value)}`,
          origin.span,
          typeof value === "string" ? didYouMean(value, allowed) : undefined,
        );
        break;
      }
      case "minimum":
      case "maximum":
      case "exclusiveMinimum":
      case "exclusiveMaximum":
        report("OutOfRange", `${origin.label} must be ${String(e.params["comparison"])} ${String(e.params["limit"])}, not ${show(value)}`);
        break;
      case "pattern":
        report("InvalidName", `${origin.label}: ${show(value)} is not a name TensorFlow.js accepts (a letter, then letters, digits or '_')`);
        break;
      case "minItems":
        report("OutOfRange", `${origin.label} needs at least ${String(e.params["limit"])} item${e.params["limit"] === 1 ? "" : "s"}`);
        break;
      case "discriminator": {
        const tag = String(e.params["tag"]);
        const tagValue = e.params["tagValue"];
        const o = spans.get(`${e.instancePath}/${tag}`) ?? origin;
        if (tag === "op") report("UnknownLayer", `unknown layer '${String(tagValue)}'`, o.span, didYouMean(String(tagValue), o.keys ?? []));
        else
          report(
            "UnknownCall",
            `unknown ${o.label} '${String(tagValue)}'; expected ${(o.keys ?? []).join(", ")}`,
            o.span,
            didYouMean(String(tagValue), o.keys ?? []),
          );
        break;
      }
      case "oneOf":
      case "anyOf":
      case "if":
        break;
      default:
        throw new Error(`unmapped schema error ${e.keyword} at ${e.instancePath}: ${e.message ?? ""}`);
    }
  }
  return failed;
}
