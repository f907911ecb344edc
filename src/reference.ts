import { Codes } from "./diagnostics/catalogue.js";
import { DATA_SETTINGS, TRAIN_SETTINGS, type CallFamily, type Param, type Signature } from "./ir/signatures.js";
import { LAYERS, OP_NAMES } from "./layers/registry.js";
import { MAX_ACTIVATION_BYTES, MAX_PARAMS } from "./ir/analyze.js";
import { LIMITS } from "./ir/signatures.js";
import { MAX_DEPTH } from "./language/parse.js";
import { MAX_FRAME_WIDTH, MAX_HEADLINE, MAX_RENDERED } from "./diagnostics/render.js";

/** grammar/REFERENCE.md: every layer, call, setting and diagnostic code, generated from the tables the compiler uses. */
export function referenceMarkdown(): string {
  const out: string[] = [
    "# .attn reference",
    "",
    "Generated from `src/ir/signatures.ts`, `src/runtime/settings.ts` and `src/diagnostics/catalogue.ts` by `npm run generate`; do not edit.",
    "The syntax is in [attn.ebnf](attn.ebnf) and drawn in [diagrams.html](diagrams.html).",
    "",
    "## Layers",
    "",
  ];
  for (const op of OP_NAMES) out.push(...signature(`\`${op}\``, LAYERS[op]));
  out.push("## Data block", "", ...settings(DATA_SETTINGS), "## Train block", "", ...settings(TRAIN_SETTINGS));
  out.push(...limits());
  out.push("## Diagnostics", "", "| code | severity | meaning |", "|---|---|---|");
  for (const c of Object.values(Codes)) out.push(`| ${c.code} | ${c.severity} | ${c.summary} |`);
  return `${out.join("\n")}\n`;
}

function type(p: Param): string {
  switch (p.type) {
    case "int":
    case "number": {
      const range = [
        "min" in p && p.min !== undefined ? `>= ${p.min}` : "",
        "exclusiveMin" in p && p.exclusiveMin !== undefined ? `> ${p.exclusiveMin}` : "",
        p.max !== undefined ? `<= ${p.max}` : "",
        "exclusiveMax" in p && p.exclusiveMax !== undefined ? `< ${p.exclusiveMax}` : "",
      ].filter((s) => s !== "");
      return `${p.type === "int" ? "integer" : "number"}${range.length > 0 ? ` ${range.join(", ")}` : ""}`;
    }
    case "string":
      return "string";
    case "bool":
      return "true / false";
    case "enum":
      return p.values.join(" / ");
    case "list":
      return `list of ${type(p.items)}`;
    case "call":
      return Object.keys(p.family.calls)
        .map((c) => `${c}(...)`)
        .join(" / ");
    case "record":
      return "clauses";
  }
}

function row(name: string, p: Param, required: boolean, positional: number): string {
  const def = "default" in p && p.default !== undefined ? `\`${JSON.stringify(p.default)}\`` : required ? "required" : "";
  return `| ${name}${positional >= 0 ? ` (#${positional + 1})` : ""} | ${type(p)} | ${def} | ${p.doc} |`;
}

function signature(title: string, sig: Signature): string[] {
  const names = Object.keys(sig.params);
  if (names.length === 0) return [`### ${title}`, "", "No arguments.", ""];
  return [
    `### ${title}`,
    "",
    "| argument (#position) | type | default | meaning |",
    "|---|---|---|---|",
    ...names.map((n) => row(n, sig.params[n]!, sig.required?.includes(n) ?? false, sig.positional?.indexOf(n) ?? -1)),
    "",
    ...names.flatMap((n) => {
      const p = sig.params[n]!;
      const call = p.type === "list" && p.items.type === "call" ? p.items : p;
      return call.type === "call" ? family(call.family) : p.type === "record" ? signature(`\`${n}\` clauses`, p.record) : [];
    }),
  ];
}

function family(f: CallFamily): string[] {
  return Object.entries(f.calls).flatMap(([name, sig]) => signature(`\`${name}(...)\` (${f.name})`, sig));
}

function settings(sig: Signature & { clauses: { readonly [key: string]: readonly string[] } }): string[] {
  const names = Object.keys(sig.params);
  return [
    "| setting | type | default | meaning |",
    "|---|---|---|---|",
    ...names.map((n) => row(n, sig.params[n]!, sig.required?.includes(n) ?? false, -1)),
    "",
    ...names.flatMap((n) => {
      const p = sig.params[n]!;
      if (p.type === "call") return family(p.family);
      if (p.type === "list" && p.items.type === "call") return family(p.items.family);
      if (p.type === "record") return signature(`\`${n}:\` clauses (bare values fill: ${(sig.clauses[n] ?? []).join(", ") || "nothing"})`, p.record);
      return [];
    }),
  ];
}

const group = (n: number): string => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");

/** What `attnc check` refuses so that every model it accepts also trains, and what it prints at most. */
function limits(): string[] {
  return [
    "## Limits",
    "",
    "A spec that `attnc check` accepts also builds and trains; these bounds keep it within one machine's memory.",
    "The per-argument bounds are in the tables above.",
    "",
    "| what | limit |",
    "|---|---|",
    "| inputs and output heads | one input, one output head (a layer that nothing reads): ATN2018 |",
    "| input and layer names | start with a letter (TensorFlow.js names weights `<node>/<weight>`): ATN2017 |",
    `| fixed input dimensions (\`T = 24\`, \`F = 3\`) | 1 to ${group(LIMITS.length)} |`,
    `| parameters of a layer, and of a model | ${group(MAX_PARAMS)} (${(MAX_PARAMS * 4) / 2 ** 20} MiB of float32): ATN5001 |`,
    `| activation memory of one training batch | ${MAX_ACTIVATION_BYTES / 2 ** 30} GiB, estimated as batch x (each layer's output + T x 6H per recurrent direction + T x T x (A + 1) for temporal attention, T x F x (A + 1) for feature attention, T x (A + 1) for attention pooling) x 4 bytes x 2 (values and gradients): ATN5002 |`,
    "| integer literals | at most 2^53 - 1 (9,007,199,254,740,991) in magnitude; beyond it whole numbers are not exact: ATN2005 |",
    `| bracket nesting | ${MAX_DEPTH} levels: ATN1011 |`,
    "| spec text | UTF-8 without lone surrogates: ATN1005 |",
    '| string escapes | `\\n` `\\t` `\\r` `\\\\` `\\"` and `\\u{h}` with 1 to 6 hex digits of a Unicode scalar value (no surrogates): ATN1003 |',
    `| diagnostics shown | the first ${MAX_RENDERED} (then \`and N more diagnostics\`); source lines cut to ${MAX_FRAME_WIDTH} columns around the span, messages to ${MAX_HEADLINE} characters; control characters shown as \`\\u{..}\` (bytes that are not UTF-8 as \`\\x{..}\`) |`,
    "",
  ];
}
