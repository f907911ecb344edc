import { compile, type CompileResult } from "../src/compile.js";
import type { Diagnostic } from "../src/diagnostics/diagnostic.js";
import type { IrModel, IrNode } from "../src/ir/types.js";

/** Strips the common leading indentation of a template literal, so specs can be written inline. */
/** Uses the raw strings: a backslash in an inline spec stays a backslash. */
export function dedent(strings: TemplateStringsArray, ...values: unknown[]): string {
  const raw = strings.raw.reduce((acc, s, i) => acc + s + (i < values.length ? String(values[i]) : ""), "");
  const lines = raw
    .replace(/^\n/, "")
    .replace(/\n[ \t]*$/, "\n")
    .split("\n");
  const indent = Math.min(...lines.filter((l) => l.trim() !== "").map((l) => /^[ \t]*/.exec(l)![0].length));
  return lines.map((l) => l.slice(indent)).join("\n");
}

export async function check(text: string, name = "test.attn"): Promise<CompileResult> {
  return compile({ name, text });
}

/** Compiles a spec that must be valid and returns its only model. */
export async function model(text: string): Promise<IrModel> {
  const r = await check(text);
  if (!r.ok) throw new Error(`expected a valid spec, got:\n${r.diagnostics.map((d) => `${d.span.line}:${d.span.column} ${d.code} ${d.message}`).join("\n")}`);
  return r.models[0]!;
}

export function node(m: IrModel, name: string): IrNode {
  const n = m.nodes.find((x) => x.name === name);
  if (!n) throw new Error(`no node ${name} in ${m.nodes.map((x) => x.name).join(", ")}`);
  return n;
}

/** Diagnostics as `line:col CODE` strings, the shape most tests assert on. */
export function codes(diags: readonly Diagnostic[]): string[] {
  return diags.map((d) => `${d.span.line}:${d.span.column} ${d.code}`);
}

/** A model wrapped around one chain, for layer tests. */
export function chain(input: string, layers: string): string {
  return `model M {\n  input x: ${input}\n  x -> ${layers}\n}\n`;
}
