import { DiagnosticBag, sortDiagnostics, type Diagnostic } from "./diagnostics/diagnostic.js";
import type { Source } from "./diagnostics/span.js";
import type { SpecFile } from "./language/ast.js";
import { parse } from "./language/parse.js";
import { analyze } from "./ir/analyze.js";
import { lower } from "./ir/lower.js";
import type { IrModel } from "./ir/types.js";
import type { SpanMap } from "./ir/spans.js";
import { loadValidator, validateIr } from "./ir/validate.js";

export interface CompileResult {
  readonly ast: SpecFile;
  /** Every model that lowered; complete only when `ok`. */
  readonly models: readonly IrModel[];
  /** Sorted and de-duplicated. */
  readonly diagnostics: readonly Diagnostic[];
  readonly ok: boolean;
  /** Where each model's IR values came from in the spec, by model name (for checks made after compiling). */
  readonly spans: ReadonlyMap<string, SpanMap>;
}

/**
 * Source text to validated, shape-checked IR: parse (with recovery), lower, validate against the schema,
 * infer shapes and check data and training against the model. All diagnostics are collected.
 */
export async function compile(source: Source): Promise<CompileResult> {
  const parsed = parse(source);
  const bag = new DiagnosticBag(source.name);
  bag.items.push(...parsed.diagnostics.items);
  const validator = await loadValidator();
  const models: IrModel[] = [];
  const spans = new Map<string, SpanMap>();
  const syntaxErrors = parsed.diagnostics.items.map((d) => d.span.start);
  for (const lowered of lower(parsed.ast, bag)) {
    // A declaration that recovery had to patch is not checked further: its other errors would be guesses.
    const decls = [lowered.decl, lowered.dataDecl, lowered.trainDecl];
    if (syntaxErrors.some((at) => decls.some((d) => d !== undefined && at >= d.loc.start && at <= d.loc.end))) continue;
    bag.items.push(...lowered.bag.items);
    const failed = validateIr(validator, lowered.ir, lowered.spans, bag);
    models.push(analyze(lowered, failed, bag));
    spans.set(lowered.ir.model, lowered.spans);
  }
  const diagnostics = sortDiagnostics(bag.items);
  return { ast: parsed.ast, models, diagnostics, ok: !diagnostics.some((d) => d.severity === "error"), spans };
}

/** The IR file's bytes: stable key order, two-space indent, final newline. */
export function serializeIr(model: IrModel): string {
  return `${stableJson(model, "")}\n`;
}

/** JSON with two-space indent, except that arrays of numbers and strings stay on one line (shapes read as shapes). */
export function stableJson(v: unknown, indent: string): string {
  if (Array.isArray(v)) {
    if (v.every((x) => typeof x !== "object" || x === null)) return `[${v.map((x) => JSON.stringify(x)).join(", ")}]`;
    const inner = indent + "  ";
    return `[\n${v.map((x) => inner + stableJson(x, inner)).join(",\n")}\n${indent}]`;
  }
  if (v !== null && typeof v === "object") {
    const entries = Object.entries(v).filter(([, x]) => x !== undefined);
    if (entries.length === 0) return "{}";
    const inner = indent + "  ";
    return `{\n${entries.map(([k, x]) => `${inner}${JSON.stringify(k)}: ${stableJson(x, inner)}`).join(",\n")}\n${indent}}`;
  }
  return JSON.stringify(v);
}
