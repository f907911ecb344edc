import type { IToken } from "chevrotain";
import { CompletionItemKind, InsertTextFormat, type CompletionItem } from "vscode-languageserver";
import type { CallFamily, Param, Signature } from "../ir/signatures.js";
import { isOp, LAYERS, OP_NAMES } from "../layers/registry.js";
import {
  Arrow,
  As,
  Colon,
  Comma,
  Data,
  Dot,
  Input,
  LBrace,
  LBracket,
  LParen,
  Model,
  RBrace,
  RBracket,
  RParen,
  StringLiteral,
  Train,
  tokenize,
  UnterminatedString,
} from "../language/lexer.js";
import { unescape } from "../language/parse.js";
import type { SourceRef } from "./columns.js";
import { blockSettings, callSignature, EQUATIONS, paramDefault, paramLine, paramType, settingFamily, signatureLine } from "./docs.js";
import type { Analysis } from "./document.js";

interface BlockCtx {
  readonly kind: "Model" | "Data" | "Train";
  readonly name: string;
}
interface ParenCtx {
  readonly callee: string;
  /** A layer call (after `->`) rather than a value call such as csv(...) or temporal(...). */
  readonly layer: boolean;
  /** The argument name this call is the value of (`input_attention: temporal(`), or the setting key. */
  readonly owner?: string;
}

/** What comes before the cursor, read from tokens so that a half-typed line still gives an answer. */
interface Context {
  block?: BlockCtx;
  parens: (ParenCtx | "[")[];
  prev?: IToken;
  prev2?: IToken;
  prev3?: IToken;
  /** The cursor is on a later line than the last token. */
  newLine: boolean;
  /** In a data or train block: the setting key of the current line. */
  settingKey?: string;
  /** Setting keys already given in this block. */
  given: string[];
}

function readContext(text: string, offset: number): Context {
  const { tokens } = tokenize(text);
  const before = tokens.filter((t) => (t.endOffset ?? t.startOffset) + 1 <= offset);
  // A word that the cursor is at the end of is the prefix being typed, not context.
  const last = before[before.length - 1];
  if (last && (last.endOffset ?? 0) + 1 === offset && /^[A-Za-z_][A-Za-z0-9_]*$/.test(last.image)) before.pop();
  const ctx: Context = { parens: [], newLine: false, given: [] };
  const lineOf = (t: IToken): number => t.startLine ?? 0;
  for (let i = 0; i < before.length; i++) {
    const t = before[i]!;
    const k = t.tokenType;
    if (k === LBrace) {
      const name = before[i - 1];
      const kw = before[i - 2];
      const kind = kw?.tokenType === Model ? "Model" : kw?.tokenType === Data ? "Data" : kw?.tokenType === Train ? "Train" : undefined;
      ctx.block = kind && name ? { kind, name: name.image } : undefined;
      ctx.parens = [];
      ctx.given = [];
      ctx.settingKey = undefined;
    } else if (k === RBrace) {
      ctx.block = undefined;
      ctx.parens = [];
    } else if (k === LParen) {
      const callee = before[i - 1];
      const owner = before[i - 2]?.tokenType === Colon ? before[i - 3]?.image : ctx.parens.length === 0 ? ctx.settingKey : undefined;
      ctx.parens.push({ callee: callee?.image ?? "", layer: before[i - 2]?.tokenType === Arrow, ...(owner !== undefined ? { owner } : {}) });
    } else if (k === RParen || k === RBracket) ctx.parens.pop();
    else if (k === LBracket) ctx.parens.push("[");
    else if (k === Colon && ctx.block && ctx.block.kind !== "Model" && ctx.parens.length === 0) {
      const key = before[i - 1];
      if (key) {
        ctx.settingKey = key.image;
        ctx.given.push(key.image);
      }
    }
  }
  ctx.prev = before[before.length - 1];
  ctx.prev2 = before[before.length - 2];
  ctx.prev3 = before[before.length - 3];
  const cursorLine = text.slice(0, offset).split("\n").length;
  ctx.newLine = ctx.prev === undefined || lineOf(ctx.prev) < cursorLine;
  return ctx;
}

const kw = (label: string, detail: string): CompletionItem => ({ label, kind: CompletionItemKind.Keyword, detail });

function snippetArgs(sig: Signature): string {
  const req = sig.required ?? [];
  return req.map((r, i) => (sig.positional?.[i] === r ? `\${${i + 1}:${r}}` : `${r}: \${${i + 1}}`)).join(", ");
}

function layerItems(): CompletionItem[] {
  return OP_NAMES.map((op) => {
    const sig = LAYERS[op];
    const hasParams = Object.keys(sig.params).length > 0;
    return {
      label: op,
      kind: CompletionItemKind.Function,
      detail: signatureLine(op, sig),
      documentation: EQUATIONS[op],
      insertTextFormat: InsertTextFormat.Snippet,
      insertText: hasParams ? `${op}(${snippetArgs(sig)})` : op,
    };
  });
}

function argItems(sig: Signature, given: readonly string[]): CompletionItem[] {
  return Object.entries(sig.params)
    .filter(([k]) => !given.includes(k))
    .map(([k, p]) => {
      const d = paramDefault(p);
      return {
        label: k,
        kind: CompletionItemKind.Property,
        detail: paramLine(k, p, sig),
        documentation: p.doc + (d !== undefined ? ` (default ${d})` : ""),
        insertText: `${k}: `,
      };
    });
}

function callItems(family: CallFamily): CompletionItem[] {
  return Object.entries(family.calls).map(([c, sig]) => ({
    label: c,
    kind: CompletionItemKind.Function,
    detail: signatureLine(c, sig),
    documentation: family.name,
    insertTextFormat: InsertTextFormat.Snippet,
    insertText: `${c}(${snippetArgs(sig)})`,
  }));
}

function valueItems(p: Param | undefined): CompletionItem[] {
  if (!p) return [];
  switch (p.type) {
    case "enum":
      return p.values.map((v) => ({ label: v, kind: CompletionItemKind.EnumMember, detail: p.doc, ...(p.default === v ? { documentation: "default" } : {}) }));
    case "bool":
      return ["true", "false"].map((v) => ({ label: v, kind: CompletionItemKind.Value, detail: p.doc }));
    case "call":
      return callItems(p.family);
    case "list":
      return valueItems(p.items);
    case "record":
      return Object.entries(p.record.params).flatMap(([k, q]) =>
        q.type === "enum"
          ? valueItems(q)
          : [{ label: k, kind: CompletionItemKind.Property, detail: `${k} ${paramType(q)}`, documentation: q.doc, insertText: `${k} ` }],
      );
    default:
      return [];
  }
}

/** Names of a model's nodes: from the analysis, plus inputs and aliases found in a half-typed text. */
function nodeItems(a: Analysis, model: string, text: string): CompletionItem[] {
  const out = new Map<string, CompletionItem>();
  const m = a.models.get(model);
  for (const def of m?.defs.values() ?? []) {
    const shape = def.irNode?.shape ?? def.irInput?.shape;
    out.set(def.name, {
      label: def.name,
      kind: def.kind === "input" ? CompletionItemKind.Variable : CompletionItemKind.Field,
      detail: `${def.kind === "input" ? "input" : def.layer!.op.value}${shape ? ` [${shape.join(", ")}]` : ""}`,
    });
  }
  const { tokens } = tokenize(text);
  for (let i = 0; i + 1 < tokens.length; i++) {
    const k = tokens[i]!.tokenType;
    const next = tokens[i + 1]!;
    if ((k === As || k === Input) && next.tokenType.name === "Identifier" && !out.has(next.image))
      out.set(next.image, { label: next.image, kind: CompletionItemKind.Field });
  }
  return [...out.values()];
}

function portItems(a: Analysis, model: string, node: string): CompletionItem[] {
  const def = a.models.get(model)?.defs.get(node);
  const ports = def?.irNode?.ports
    ? Object.keys(def.irNode.ports)
    : def?.layer && (def.layer.op.value === "attention_pool" || def.layer.args?.some((x) => x.name?.value === "input_attention"))
      ? ["weights"]
      : [];
  return ports.map((p) => ({ label: p, kind: CompletionItemKind.Field, detail: `${node}.${p}`, documentation: "attention weights" }));
}

/** Argument names already given in the innermost call, for not offering them twice. */
function givenArgs(text: string, offset: number): string[] {
  const { tokens } = tokenize(text.slice(0, offset));
  const out: string[] = [];
  let depth = 0;
  for (let i = tokens.length - 1; i >= 0; i--) {
    const k = tokens[i]!.tokenType;
    if (k === RParen || k === RBracket) depth++;
    else if (k === LParen || k === LBracket) {
      if (depth === 0) break;
      depth--;
    } else if (k === Colon && depth === 0 && tokens[i - 1]) out.push(tokens[i - 1]!.image);
  }
  return out;
}

/** Declared models: from the analysis, plus `model Name {` in a text whose parse recovery lost some. */
function modelNames(a: Analysis, text: string): string[] {
  const names = new Set(a.models.keys());
  const { tokens } = tokenize(text);
  for (let i = 0; i + 2 < tokens.length; i++) {
    if (tokens[i]!.tokenType === Model && tokens[i + 1]!.tokenType.name === "Identifier" && tokens[i + 2]!.tokenType === LBrace)
      names.add(tokens[i + 1]!.image);
  }
  return [...names];
}

const COLUMN_ARGS = new Set(["text", "label", "time", "target"]);
/** Calls of a derive list whose first argument is a column. */
const DERIVE_CALLS = new Set(["diff", "lag"]);

/**
 * The opening parenthesis of the `source: csv(` or `source: jsonl(` call in the block around token `at` (the
 * braces that enclose it), or -1.
 */
function sourceCall(tokens: IToken[], at: number): number {
  let open = -1;
  for (let j = at, depth = 0; j >= 0; j--) {
    const k = tokens[j]!.tokenType;
    if (k === RBrace) depth++;
    else if (k === LBrace) {
      if (depth === 0) {
        open = j;
        break;
      }
      depth--;
    }
  }
  if (open < 0) return -1;
  for (let j = open + 1, depth = 0; j + 3 < tokens.length; j++) {
    const k = tokens[j]!.tokenType;
    if (k === LBrace) depth++;
    else if (k === RBrace) {
      if (depth === 0) return -1;
      depth--;
    } else if (
      depth === 0 &&
      tokens[j]!.image === "source" &&
      tokens[j + 1]!.tokenType === Colon &&
      (tokens[j + 2]!.image === "csv" || tokens[j + 2]!.image === "jsonl") &&
      tokens[j + 3]!.tokenType === LParen
    )
      return j + 3;
  }
  return -1;
}

/** The value of a complete string literal token, or undefined when it has an invalid escape. */
function stringValue(t: IToken): string | undefined {
  if (t.tokenType !== StringLiteral) return undefined;
  const r = unescape(t.image.slice(1, -1));
  return r.errors.length === 0 ? r.value : undefined;
}

const escapeString = (s: string): string => s.replace(/[\\"\n\r\t]/g, (c) => ({ "\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t" })[c]!);

/**
 * Column names from the data file's header, where a data source names a column: `csv("f", text: "|")`, `label:`,
 * `time:`, `target:` and `features: ["|"]`. Undefined when the cursor is in no such place.
 */
function columnItems(text: string, offset: number, columns: (s: SourceRef) => string[]): CompletionItem[] | undefined {
  const { tokens } = tokenize(text);
  const str = tokens.find(
    (t) =>
      t.startOffset < offset &&
      ((t.tokenType === StringLiteral && offset <= (t.endOffset ?? 0)) || (t.tokenType === UnterminatedString && offset <= (t.endOffset ?? 0) + 1)),
  );
  const at = str ? str.startOffset : offset;
  const before = tokens.filter((t) => (t.endOffset ?? t.startOffset) + 1 <= at);
  let i = before.length - 1;
  const prev = before[i];
  if (!prev) return undefined;
  /** Index of the innermost bracket or parenthesis still open before index `from`. */
  const opener = (from: number): number => {
    let depth = 0;
    for (let j = from; j >= 0; j--) {
      const k = before[j]!.tokenType;
      if (k === RParen || k === RBracket) depth++;
      else if (k === LParen || k === LBracket) {
        if (depth === 0) return j;
        depth--;
      } else if (k === LBrace || k === RBrace) return -1;
    }
    return -1;
  };
  let paren: number;
  let start: number;
  if (prev.tokenType === LParen && DERIVE_CALLS.has(before[i - 1]?.image ?? "")) {
    // diff("|") and lag("|", k) of derive name a column of the block's own source: find its csv(...) or jsonl(...).
    start = sourceCall(tokens, tokens.indexOf(prev));
    if (start < 0) return undefined;
  } else {
    if (prev.tokenType === Colon && COLUMN_ARGS.has(before[i - 1]?.image ?? "")) paren = opener(i - 2);
    else if (prev.tokenType === LBracket || prev.tokenType === Comma) {
      const bracket = prev.tokenType === LBracket ? i : opener(i - 1);
      if (bracket < 0 || before[bracket]!.tokenType !== LBracket || before[bracket - 1]?.tokenType !== Colon || before[bracket - 2]?.image !== "features")
        return undefined;
      paren = opener(bracket - 3);
    } else return undefined;
    i = paren;
    if (i < 0 || before[i]!.tokenType !== LParen || (before[i - 1]?.image !== "csv" && before[i - 1]?.image !== "jsonl")) return undefined;
    start = tokens.indexOf(before[i]!);
  }
  const callee = tokens[start - 1]!.image as "csv" | "jsonl";
  // The call's path (its first argument) and delimiter, read from all of its tokens.
  let path: string | undefined;
  let delimiter: string | undefined;
  let depth = 0;
  for (let j = start + 1; j < tokens.length; j++) {
    const t = tokens[j]!;
    if (t.tokenType === LParen || t.tokenType === LBracket) depth++;
    else if (t.tokenType === RParen || t.tokenType === RBracket) {
      if (depth === 0) break;
      depth--;
    } else if (t.tokenType === LBrace || t.tokenType === RBrace) break;
    else if (depth === 0 && j === start + 1) path = stringValue(t);
    else if (depth === 0 && t.image === "delimiter" && tokens[j + 1]?.tokenType === Colon && tokens[j + 2]) delimiter = stringValue(tokens[j + 2]!);
  }
  if (path === undefined) return [];
  const names = columns({ kind: callee, path, ...(delimiter !== undefined ? { delimiter } : {}) });
  return names.map((n) => ({
    label: n,
    kind: CompletionItemKind.Value,
    detail: `column of ${path}`,
    insertText: str ? escapeString(n) : `"${escapeString(n)}"`,
    filterText: str ? n : `"${n}"`,
  }));
}

/** `columns` reads a data source's column names (absent: no column completion). */
export function complete(a: Analysis, text: string, offset: number, columns?: (s: SourceRef) => string[]): CompletionItem[] {
  if (columns) {
    const items = columnItems(text, offset, columns);
    if (items) return items;
  }
  const ctx = readContext(text, offset);
  const pk = ctx.prev?.tokenType;
  const paren = ctx.parens[ctx.parens.length - 1];
  if (!ctx.block) {
    if (pk === Data || pk === Train) return modelNames(a, text).map((m) => ({ label: m, kind: CompletionItemKind.Class }));
    return [kw("model", "model Name { ... }"), kw("data", "data Model { source: ... }"), kw("train", "train Model { loss: ... }")];
  }
  if (ctx.block.kind === "Model") {
    if (pk === Arrow) return layerItems();
    if (pk === Dot && ctx.prev2) return portItems(a, ctx.block.name, ctx.prev2.image);
    if (paren && paren !== "[") {
      const sig = paren.layer ? (isOp(paren.callee) ? LAYERS[paren.callee] : undefined) : callSignature(paren.callee)?.sig;
      if (!sig) return [];
      if (pk === Colon && ctx.prev2) {
        const p = sig.params[ctx.prev2.image];
        return valueItems(p);
      }
      if (pk === LParen || pk === Comma) return argItems(sig, givenArgs(text, offset));
      return [];
    }
    if (pk === As || pk === Input) return [];
    if (pk === Colon && ctx.prev3?.tokenType === Input) {
      return [
        { label: "int", kind: CompletionItemKind.TypeParameter, detail: "token ids: int[T]" },
        { label: "float", kind: CompletionItemKind.TypeParameter, detail: "a series of feature vectors: float[T, F]" },
      ];
    }
    if (ctx.newLine || pk === LBrace) return [kw("input", "input name: int[T] or float[T, F]"), ...nodeItems(a, ctx.block.name, text)];
    return [];
  }
  // data and train blocks
  const kind = ctx.block.kind;
  const settings = blockSettings(kind);
  if (paren && paren !== "[") {
    const family = paren.owner !== undefined ? settingFamily(kind, paren.owner) : undefined;
    const sig = callSignature(paren.callee, family)?.sig;
    if (!sig) return [];
    if (pk === Colon && ctx.prev2) return valueItems(sig.params[ctx.prev2.image]);
    if (pk === LParen || pk === Comma) return argItems(sig, givenArgs(text, offset));
    return [];
  }
  if (paren === "[") return ctx.settingKey ? valueItems(settings.params[ctx.settingKey]) : [];
  if ((ctx.newLine && pk !== Colon && pk !== Comma) || pk === LBrace) {
    return Object.entries(settings.params)
      .filter(([k]) => !ctx.given.includes(k))
      .map(([k, p]) => ({ label: k, kind: CompletionItemKind.Property, detail: paramLine(k, p, settings), documentation: p.doc, insertText: `${k}: ` }));
  }
  if (ctx.settingKey && (pk === Colon || pk === Comma || !ctx.newLine)) return valueItems(settings.params[ctx.settingKey]);
  return [];
}
