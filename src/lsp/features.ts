import type { TextDocument } from "vscode-languageserver-textdocument";
import {
  CodeActionKind,
  DiagnosticSeverity,
  FoldingRangeKind,
  InlayHintKind,
  type CodeAction,
  type Diagnostic as LspDiagnostic,
  type FoldingRange,
  type Hover,
  type InlayHint,
  type Location,
  type Range,
  type TextEdit,
  type WorkspaceEdit,
} from "vscode-languageserver";
import type { Diagnostic } from "../diagnostics/diagnostic.js";
import type { Span } from "../diagnostics/span.js";
import { editDistance } from "../diagnostics/suggest.js";
import { formatShape } from "../ir/analyze.js";
import type { Param } from "../ir/signatures.js";
import { LAYERS } from "../layers/registry.js";
import { parse } from "../language/parse.js";
import { printSpec } from "../language/printer.js";
import { blockSettings, callSignature, isOp, layerMarkdown, paramLine, paramsMarkdown, settingFamily, settingMarkdown, signatureLine } from "./docs.js";
import { targetAt, type Analysis, type ModelIndex, type NodeDef, type RefUse } from "./document.js";

export function toRange(doc: TextDocument, span: Span): Range {
  return { start: doc.positionAt(span.start), end: doc.positionAt(span.end) };
}

/** The message as `attnc check` prints it: with the "did you mean" suggestion. */
export function headline(d: Diagnostic): string {
  return d.suggestion !== undefined ? `${d.message}; did you mean '${d.suggestion}'?` : d.message;
}

export interface DiagnosticData {
  readonly suggestion?: string;
}

export function toLspDiagnostics(doc: TextDocument, diags: readonly Diagnostic[]): LspDiagnostic[] {
  return diags.map((d) => ({
    range: toRange(doc, d.span),
    severity: d.severity === "error" ? DiagnosticSeverity.Error : DiagnosticSeverity.Warning,
    code: d.code,
    source: "attnc",
    message: headline(d),
    ...(d.related && d.related.length > 0
      ? { relatedInformation: d.related.map((r) => ({ location: { uri: doc.uri, range: toRange(doc, r.span) }, message: r.message })) }
      : {}),
    ...(d.suggestion !== undefined ? { data: { suggestion: d.suggestion } satisfies DiagnosticData } : {}),
  }));
}

const fmtInt = (n: number): string => n.toLocaleString("en-US");

function nodeSummary(def: NodeDef): string[] {
  const out: string[] = [];
  if (def.irInput) out.push(`output \`${formatShape(def.irInput.shape)}\` (${def.irInput.dtype})`);
  const n = def.irNode;
  if (n) {
    if (n.shape) out.push(`output \`${formatShape(n.shape)}\``);
    else out.push("output shape unknown (an error upstream)");
    out.push(`mask: ${n.mask ? "yes" : "no"}`);
    if (n.params !== undefined) out.push(`params: ${fmtInt(n.params)}`);
    for (const [port, shape] of Object.entries(n.ports ?? {})) out.push(`port \`.${port}\` \`${formatShape(shape)}\``);
  } else if (def.kind === "layer") out.push("shape not inferred (the model has errors)");
  return out;
}

function defHover(def: NodeDef): string {
  if (def.kind === "input") return [`**input ${def.name}**`, nodeSummary(def).join(", ")].filter((s) => s !== "").join("\n\n");
  const op = def.layer!.op.value;
  const head = `**${def.name}**: ${op}${def.explicit ? "" : " (automatic name)"}`;
  const parts = [head, nodeSummary(def).join(", ")];
  if (isOp(op)) parts.push(layerMarkdown(op));
  return parts.join("\n\n");
}

export function hover(doc: TextDocument, a: Analysis, offset: number): Hover | null {
  const t = targetAt(a, offset);
  if (!t) return null;
  let text: string | undefined;
  switch (t.kind) {
    case "modelName":
    case "blockModel": {
      const m = t.model;
      if (!m) break;
      const ir = m.ir;
      text =
        `**model ${m.decl.name.value}**` +
        (ir ? `\n\nparams: ${fmtInt(ir.params ?? 0)}, outputs: ${ir.outputs.join(", ")}` : "\n\n(not compiled: the model has errors)");
      break;
    }
    case "def":
      text = defHover(t.def);
      break;
    case "ref":
      text = t.use.def ? defHover(t.use.def) : undefined;
      break;
    case "port": {
      const shape = t.use.def?.irNode?.ports?.[t.port.value];
      text =
        `**${t.use.ref.name.value}.${t.port.value}**` + (shape ? `: \`${formatShape(shape)}\`` : "") + "\n\nattention weights, a second output of the layer";
      break;
    }
    case "op": {
      const def = t.model.layers.get(t.layer);
      text = def ? defHover(def) : isOp(t.layer.op.value) ? layerMarkdown(t.layer.op.value) : undefined;
      break;
    }
    case "arg": {
      const name = t.arg.name!.value;
      const sig = t.family === "layer" ? (isOp(t.owner) ? LAYERS[t.owner] : undefined) : callSignature(t.owner)?.sig;
      const p = sig?.params[name];
      if (sig && p) text = `\`${paramLine(name, p, sig)}\`\n\n${p.doc} (argument of ${t.owner})`;
      break;
    }
    case "call": {
      const family = t.block && t.setting ? settingFamily(t.block.kind, t.setting.key.value) : undefined;
      const found = callSignature(t.call.callee.value, family);
      if (found) text = `\`\`\`attn\n${signatureLine(t.call.callee.value, found.sig)}\n\`\`\`\n\n${found.family.name}\n\n${paramsMarkdown(found.sig)}`;
      break;
    }
    case "setting":
      text = settingMarkdown(t.block.kind, t.setting.key.value);
      break;
    case "word":
      text = wordHover(t.block.kind, t.setting.key.value, t.word.value);
      break;
    case "input": {
      const def = t.model.defs.get(t.input.name.value);
      text = def ? defHover(def) : undefined;
      break;
    }
  }
  return text === undefined ? null : { contents: { kind: "markdown", value: text }, range: toRange(doc, t.span) };
}

/** A bare word in a setting: an allowed value (`mse`, `chronological`) or a clause's field name (`patience`). */
function wordHover(kind: "Data" | "Train", key: string, word: string): string | undefined {
  const p = blockSettings(kind).params[key];
  const valueOf = (q: Param | undefined, name: string): string | undefined => {
    if (q?.type === "enum" && q.values.includes(word)) return `\`${word}\`: ${name} (${q.doc}; one of ${q.values.join(", ")})`;
    if (q?.type === "list") return valueOf(q.items, name);
    if (q?.type === "bool" && (word === "true" || word === "false")) return `\`${word}\`: ${name} (${q.doc})`;
    return undefined;
  };
  if (p?.type === "record") {
    const field = p.record.params[word];
    if (field) return `\`${paramLine(word, field, p.record)}\`\n\n${field.doc} (in ${key})`;
    for (const [k, q] of Object.entries(p.record.params)) {
      const v = valueOf(q, `${key} ${k}`);
      if (v) return v;
    }
    return undefined;
  }
  return valueOf(p, key);
}

/** The node (and the model) a cursor names, for navigation. */
function nodeAt(a: Analysis, offset: number): { model: ModelIndex; def: NodeDef; port?: string } | undefined {
  const t = targetAt(a, offset);
  if (!t) return undefined;
  if (t.kind === "def") return { model: t.model, def: t.def };
  if ((t.kind === "ref" || t.kind === "port") && t.use.def) return { model: t.model, def: t.use.def, ...(t.kind === "port" ? { port: t.port.value } : {}) };
  if (t.kind === "op") {
    const def = t.model.layers.get(t.layer);
    if (def) return { model: t.model, def };
  }
  return undefined;
}

function modelAt(a: Analysis, offset: number): ModelIndex | undefined {
  const t = targetAt(a, offset);
  return t?.kind === "modelName" ? t.model : t?.kind === "blockModel" ? t.model : undefined;
}

export function definition(doc: TextDocument, a: Analysis, offset: number): Location[] {
  const m = modelAt(a, offset);
  if (m) return [{ uri: doc.uri, range: toRange(doc, m.decl.name.loc) }];
  const n = nodeAt(a, offset);
  if (!n) return [];
  return [{ uri: doc.uri, range: toRange(doc, n.def.nameSpan) }];
}

function usesOf(model: ModelIndex, def: NodeDef): RefUse[] {
  return model.refs.filter((r) => r.def === def || (r.def === undefined && r.ref.name.value === def.name));
}

export function references(doc: TextDocument, a: Analysis, offset: number, includeDeclaration: boolean): Location[] {
  const loc = (s: Span): Location => ({ uri: doc.uri, range: toRange(doc, s) });
  const m = modelAt(a, offset);
  if (m) return [...(includeDeclaration ? [m.decl.name.loc] : []), ...m.blocks.map((b) => b.model.loc)].map(loc);
  const n = nodeAt(a, offset);
  if (!n) return [];
  const uses = usesOf(n.model, n.def);
  if (n.port !== undefined) {
    return [...(includeDeclaration ? [n.def.nameSpan] : []), ...uses.filter((u) => u.ref.port?.value === n.port).map((u) => u.ref.port!.loc)].map(loc);
  }
  return [...(includeDeclaration ? [n.def.nameSpan] : []), ...uses.map((u) => u.ref.name.loc)].map(loc);
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RESERVED = new Set(["model", "data", "train", "input", "as", "B"]);

export class RenameError extends Error {}

/** The range a rename would change, or an explanation of why the name cannot be renamed. */
export function prepareRename(doc: TextDocument, a: Analysis, offset: number): { range: Range; placeholder: string } | null {
  const m = modelAt(a, offset);
  const t = targetAt(a, offset);
  if (m && t) return { range: toRange(doc, t.span), placeholder: m.decl.name.value };
  const n = nodeAt(a, offset);
  if (!n || !t) return null;
  if (n.port !== undefined) throw new RenameError("a port's name is fixed by its layer");
  if (!n.def.explicit) throw new RenameError(`'${n.def.name}' is an automatic name: give the layer a name with 'as' first`);
  if (t.kind === "op") return null;
  return { range: toRange(doc, t.span), placeholder: n.def.name };
}

export function rename(doc: TextDocument, a: Analysis, offset: number, newName: string): WorkspaceEdit | null {
  if (!IDENT.test(newName) || RESERVED.has(newName))
    throw new RenameError(`'${newName}' is not a valid name (a letter or _, then letters, digits or _; not a keyword)`);
  const edits: TextEdit[] = [];
  const m = modelAt(a, offset);
  if (m) {
    if (a.models.has(newName) && newName !== m.decl.name.value) throw new RenameError(`model '${newName}' already exists`);
    for (const s of [m.decl.name.loc, ...m.blocks.map((b) => b.model.loc)]) edits.push({ range: toRange(doc, s), newText: newName });
    return { changes: { [doc.uri]: edits } };
  }
  const pre = prepareRename(doc, a, offset);
  const n = nodeAt(a, offset);
  if (!pre || !n) return null;
  if (n.model.defs.has(newName) && newName !== n.def.name) throw new RenameError(`'${newName}' is already defined in model ${n.model.decl.name.value}`);
  for (const s of [n.def.nameSpan, ...usesOf(n.model, n.def).map((u) => u.ref.name.loc)]) edits.push({ range: toRange(doc, s), newText: newName });
  return { changes: { [doc.uri]: edits } };
}

/** `attnc fmt`'s layout as one edit; nothing while the text has syntax errors. */
export function format(doc: TextDocument): TextEdit[] {
  const text = doc.getText();
  const parsed = parse({ name: doc.uri, text });
  if (parsed.diagnostics.items.length > 0) return [];
  const printed = printSpec(parsed.ast);
  if (printed === text) return [];
  return [{ range: { start: { line: 0, character: 0 }, end: doc.positionAt(text.length) }, newText: printed }];
}

/** The shape after each layer (and of each input), where inference got that far. */
export function inlayHints(doc: TextDocument, a: Analysis, range: Range): InlayHint[] {
  const from = doc.offsetAt(range.start);
  const to = doc.offsetAt(range.end);
  const out: InlayHint[] = [];
  for (const m of a.models.values()) {
    for (const [layer, def] of m.layers) {
      const shape = def.irNode?.shape;
      if (!shape || layer.loc.end < from || layer.loc.end > to) continue;
      out.push({ position: doc.positionAt(layer.loc.end), label: `: ${formatShape(shape)}`, kind: InlayHintKind.Type, paddingLeft: true });
    }
  }
  return out.sort((x, y) => x.position.line - y.position.line || x.position.character - y.position.character);
}

export function foldingRanges(doc: TextDocument, a: Analysis): FoldingRange[] {
  const out: FoldingRange[] = [];
  const add = (s: Span, kind?: FoldingRangeKind): void => {
    const start = doc.positionAt(s.start).line;
    const end = doc.positionAt(s.end).line;
    if (end > start) out.push({ startLine: start, endLine: kind === FoldingRangeKind.Comment ? end : end - 1, ...(kind ? { kind } : {}) });
  };
  for (const d of a.result.ast.declarations) {
    add(d.loc);
    if (d.kind === "Model") for (const st of d.body) if (st.kind === "Chain") add({ ...st.loc, end: st.loc.end + 1 });
  }
  for (const c of a.result.ast.comments) add(c.loc, FoldingRangeKind.Comment);
  return out.filter((r) => r.endLine >= r.startLine);
}

/** "Did you mean" fixes: replace the misspelt word inside the diagnostic's range with the suggestion. */
export function codeActions(doc: TextDocument, diagnostics: readonly LspDiagnostic[]): CodeAction[] {
  const out: CodeAction[] = [];
  for (const d of diagnostics) {
    const suggestion = (d.data as DiagnosticData | undefined)?.suggestion;
    if (d.source !== "attnc" || typeof suggestion !== "string" || !IDENT.test(suggestion)) continue;
    const start = doc.offsetAt(d.range.start);
    const text = doc.getText(d.range);
    let best: { at: number; word: string; dist: number } | undefined;
    for (const w of text.matchAll(/[A-Za-z_][A-Za-z0-9_]*/g)) {
      const dist = editDistance(w[0].toLowerCase(), suggestion.toLowerCase());
      if (!best || dist <= best.dist) best = { at: start + w.index, word: w[0], dist };
    }
    if (!best || best.word === suggestion) continue;
    out.push({
      title: `Change '${best.word}' to '${suggestion}'`,
      kind: CodeActionKind.QuickFix,
      diagnostics: [d],
      isPreferred: true,
      edit: { changes: { [doc.uri]: [{ range: { start: doc.positionAt(best.at), end: doc.positionAt(best.at + best.word.length) }, newText: suggestion }] } },
    });
  }
  return out;
}
