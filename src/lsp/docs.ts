import { DATA_SETTINGS, OPTIMIZER, SOURCE, TOKENIZER, TRAIN_SETTINGS, type CallFamily, type Param, type Signature } from "../ir/signatures.js";
import { isOp, LAYER_CALL_FAMILIES, LAYERS, OP_NAMES, opInfo, type OpName } from "../layers/registry.js";

export { isOp };

/** One line per layer: what it computes (each kind's summary). */
export const EQUATIONS: { readonly [op in OpName]: string } = Object.fromEntries(OP_NAMES.map((op) => [op, opInfo(op).summary])) as {
  readonly [op in OpName]: string;
};

/** `int >= 1`, `sigmoid | hard_sigmoid`, ... */
export function paramType(p: Param): string {
  switch (p.type) {
    case "int":
    case "number": {
      const bounds: string[] = [];
      if (p.min !== undefined) bounds.push(`>= ${p.min}`);
      if (p.type === "number" && p.exclusiveMin !== undefined) bounds.push(`> ${p.exclusiveMin}`);
      if (p.max !== undefined) bounds.push(`<= ${p.max}`);
      if (p.type === "number" && p.exclusiveMax !== undefined) bounds.push(`< ${p.exclusiveMax}`);
      return [p.type, ...bounds].join(" ");
    }
    case "string":
      return "string";
    case "bool":
      return "true | false";
    case "enum":
      return p.values.join(" | ");
    case "list":
      return `[${paramType(p.items)}, ...]`;
    case "call":
      return Object.keys(p.family.calls)
        .map((c) => `${c}(...)`)
        .join(" | ");
    case "record":
      return Object.keys(p.record.params).join(", ");
  }
}

export function paramDefault(p: Param): string | undefined {
  if (!("default" in p) || p.default === undefined) return undefined;
  return Array.isArray(p.default) ? "[]" : String(p.default);
}

/** `units: int >= 1 (required)` or `merge: concat | sum | ave | mul = concat`. */
export function paramLine(name: string, p: Param, sig: Signature): string {
  const d = paramDefault(p);
  const req = sig.required?.includes(name) ? " (required)" : d !== undefined ? ` = ${d}` : "";
  return `${name}: ${paramType(p)}${req}`;
}

/** `lstm(units, recurrent_activation: ..., ...)` as a one-line signature. */
export function signatureLine(name: string, sig: Signature): string {
  const parts = Object.keys(sig.params).map((k) => {
    const p = sig.params[k]!;
    const d = paramDefault(p);
    return sig.required?.includes(k) ? k : d !== undefined ? `${k}: ${d}` : `${k}?`;
  });
  return `${name}(${parts.join(", ")})`;
}

/** Markdown list of a signature's parameters with types, defaults and documentation. */
export function paramsMarkdown(sig: Signature): string {
  const keys = Object.keys(sig.params);
  if (keys.length === 0) return "takes no arguments";
  const positional = sig.positional && sig.positional.length > 0 ? `\n\npositional: ${sig.positional.join(", ")}` : "";
  return keys.map((k) => `- \`${paramLine(k, sig.params[k]!, sig)}\`: ${sig.params[k]!.doc}`).join("\n") + positional;
}

export const FAMILIES: readonly CallFamily[] = [...LAYER_CALL_FAMILIES, SOURCE, TOKENIZER, OPTIMIZER];

/** A call's signature by name, searching the families (or one family when the setting is known). */
export function callSignature(callee: string, family?: CallFamily): { family: CallFamily; sig: Signature } | undefined {
  for (const f of family ? [family] : FAMILIES) {
    const sig = f.calls[callee];
    if (sig) return { family: f, sig };
  }
  return undefined;
}

export function blockSettings(kind: "Data" | "Train"): Signature & { readonly clauses: { readonly [key: string]: readonly string[] } } {
  return kind === "Data" ? DATA_SETTINGS : TRAIN_SETTINGS;
}

/** The parameter an argument name refers to: of a layer, of a call, or of a record clause. */
export function layerParam(op: string, arg: string): Param | undefined {
  return isOp(op) ? LAYERS[op].params[arg] : undefined;
}

export function layerMarkdown(op: OpName): string {
  const sig = LAYERS[op];
  return [`\`\`\`attn\n${signatureLine(op, sig)}\n\`\`\``, EQUATIONS[op], paramsMarkdown(sig)].join("\n\n");
}

export function settingMarkdown(kind: "Data" | "Train", key: string): string | undefined {
  const sigs = blockSettings(kind);
  const p = sigs.params[key];
  if (!p) return undefined;
  const head = `**${key}** (${kind === "Data" ? "data" : "train"} setting${sigs.required?.includes(key) ? ", required" : ""}): ${p.doc}`;
  if (p.type === "record") {
    const clauses = sigs.clauses[key];
    const how = clauses ? `\n\nwritten as clauses: \`${key}: <${clauses.join("|")}> ..., name value, ...\`` : "";
    return `${head}${how}\n\n${paramsMarkdown(p.record)}`;
  }
  if (p.type === "call")
    return `${head}\n\n${Object.entries(p.family.calls)
      .map(([c, s]) => `- \`${signatureLine(c, s)}\``)
      .join("\n")}`;
  const d = paramDefault(p);
  return `${head}\n\n\`${paramType(p)}\`${d !== undefined ? `, default ${d}` : ""}`;
}

/** The family a setting's value belongs to, when it is a call. */
export function settingFamily(kind: "Data" | "Train", key: string): CallFamily | undefined {
  const p = blockSettings(kind).params[key];
  return p?.type === "call" ? p.family : undefined;
}
