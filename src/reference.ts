import { Codes } from "./diagnostics/catalogue.js";
import { DATA_SETTINGS, LAYERS, TRAIN_SETTINGS, type CallFamily, type Param, type Signature } from "./ir/signatures.js";
import { OP_NAMES } from "./ir/types.js";

/** grammar/REFERENCE.md: every layer, call, setting and diagnostic code, generated from the tables the compiler uses. */
export function referenceMarkdown(): string {
  const out: string[] = [
    "# .attn reference",
    "",
    "Generated from `src/ir/signatures.ts` and `src/diagnostics/catalogue.ts` by `npm run generate`; do not edit.",
    "The syntax is in [attn.ebnf](attn.ebnf) and drawn in [diagrams.html](diagrams.html).",
    "",
    "## Layers",
    "",
  ];
  for (const op of OP_NAMES) out.push(...signature(`\`${op}\``, LAYERS[op]));
  out.push("## Data block", "", ...settings(DATA_SETTINGS), "## Train block", "", ...settings(TRAIN_SETTINGS));
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
      return Object.keys(p.family.calls).map((c) => `${c}(...)`).join(" / ");
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
      return p.type === "call" ? family(p.family) : p.type === "record" ? signature(`\`${n}\` clauses`, p.record) : [];
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
      if (p.type === "record") return signature(`\`${n}:\` clauses (bare values fill: ${(sig.clauses[n] ?? []).join(", ") || "nothing"})`, p.record);
      return [];
    }),
  ];
}
