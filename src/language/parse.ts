import { EOF, type CstElement, type CstNode, type IToken } from "chevrotain";
import type * as A from "./ast.js";
import { DiagnosticBag } from "../diagnostics/diagnostic.js";
import { LineMap, type Span, type Source } from "../diagnostics/span.js";
import { LBrace, LBracket, LParen, RBrace, RBracket, RParen, tokenize, UnterminatedString, UnterminatedBlockComment } from "./lexer.js";

/** The deepest bracket nesting a spec may use. */
export const MAX_DEPTH = 64;
import { attnParser } from "./parser.js";
import { didYouMean } from "../diagnostics/suggest.js";
import { escapedByte, firstLoneSurrogate } from "./source.js";

const KEYWORDS = ["model", "data", "train", "input"];

export interface ParseOutput {
  readonly ast: A.SpecFile;
  readonly lines: LineMap;
  /** Lexical and syntax diagnostics; when non-empty, the AST is what recovery could make of the text. */
  readonly diagnostics: DiagnosticBag;
}

/** Lexes and parses one source with error recovery, then builds the AST. */
export function parse(source: Source): ParseOutput {
  const lines = new LineMap(source.text);
  const bag = new DiagnosticBag(source.name);
  const lexed = tokenize(source.text);
  const bad = firstLoneSurrogate(source.text);
  if (bad >= 0) {
    const unit = source.text.charCodeAt(bad);
    const byte = escapedByte(unit);
    bag.report(
      "InvalidText",
      lines.span(bad, bad + 1),
      byte !== undefined
        ? `the spec is not valid UTF-8: byte 0x${byte.toString(16).toUpperCase()} does not begin or continue a character here`
        : `the spec holds a lone surrogate U+${unit.toString(16).toUpperCase()}, which is not a character`,
    );
  }
  for (const e of lexed.errors) {
    const ch = source.text.slice(e.offset, e.offset + Math.max(1, e.length));
    if (firstLoneSurrogate(ch) >= 0) continue; // reported once, above
    bag.report("UnexpectedCharacter", lines.span(e.offset, e.offset + Math.max(1, e.length)), `unexpected character ${JSON.stringify(ch)}`);
  }
  for (const c of lexed.comments) {
    if (c.tokenType === UnterminatedBlockComment)
      bag.report("UnterminatedComment", lines.span(c.startOffset, c.startOffset + 2), "this block comment is never closed with */");
  }
  // Nesting is bounded before parsing: the parser recurses once per level, and no spec needs more than a few.
  let depth = 0;
  for (const t of lexed.tokens) {
    const k = t.tokenType;
    if (k === LParen || k === LBracket || k === LBrace) depth++;
    else if (k === RParen || k === RBracket || k === RBrace) depth = Math.max(0, depth - 1);
    if (depth > MAX_DEPTH) {
      bag.report("TooDeep", tokenSpan(t, lines)!, `brackets are nested more than ${MAX_DEPTH} levels deep here`);
      return { ast: { kind: "Spec", declarations: [], comments: [], loc: lines.span(0, source.text.length) }, lines, diagnostics: bag };
    }
  }
  const p = attnParser();
  p.input = lexed.tokens;
  const cst = p.spec();
  for (const e of p.errors) {
    const tok = e.token;
    const span = tokenSpan(tok, lines) ?? eofSpan(lexed.tokens, lines, source.text.length);
    const near = tok.tokenType === EOF ? undefined : didYouMean(tok.image, KEYWORDS);
    bag.report("SyntaxError", span, e.message, near !== undefined && e.message.includes(`'${near}'`) ? { suggestion: near } : {});
  }
  const builder = new AstBuilder(lines, bag);
  const ast: A.SpecFile = {
    kind: "Spec",
    declarations: builder.declarations(cst),
    comments: lexed.comments.map((c) => ({ kind: "Comment", text: c.image.replace(/\s+$/, ""), loc: lines.span(c.startOffset, c.endOffset! + 1) })),
    loc: lines.span(0, source.text.length),
  };
  return { ast, lines, diagnostics: bag };
}

function tokenSpan(tok: IToken, lines: LineMap): Span | undefined {
  if (tok.tokenType === EOF || tok.isInsertedInRecovery || Number.isNaN(tok.startOffset)) return undefined;
  return lines.span(tok.startOffset, (tok.endOffset ?? tok.startOffset) + 1);
}

/** Errors at the end of input point just past the last token (or at the start of an empty file). */
function eofSpan(tokens: IToken[], lines: LineMap, length: number): Span {
  const last = tokens[tokens.length - 1];
  const at = last ? (last.endOffset ?? last.startOffset) + 1 : length;
  return lines.span(at, at);
}

type Children = Record<string, CstElement[] | undefined>;

function isToken(e: CstElement | undefined): e is IToken {
  return e !== undefined && "image" in e;
}

/** Builds AST nodes from the CST; skips parts that recovery invented. */
class AstBuilder {
  constructor(
    private readonly lines: LineMap,
    private readonly bag: DiagnosticBag,
  ) {}

  private tok(ch: Children, key: string, index = 0): IToken | undefined {
    const e = ch[key]?.[index];
    if (!isToken(e) || e.isInsertedInRecovery || Number.isNaN(e.startOffset)) return undefined;
    return e;
  }
  private node(ch: Children, key: string, index = 0): CstNode | undefined {
    const e = ch[key]?.[index];
    return e !== undefined && !isToken(e) ? e : undefined;
  }
  private nodes(ch: Children, key: string): CstNode[] {
    return (ch[key] ?? []).filter((e): e is CstNode => !isToken(e));
  }
  private span(t: IToken): Span {
    return this.lines.span(t.startOffset, (t.endOffset ?? t.startOffset) + 1);
  }
  /** Span of a CST node from its first to its last real token; undefined if recovery invented all of it. */
  private cstSpan(n: CstNode): Span | undefined {
    let lo = Infinity;
    let hi = -Infinity;
    const visit = (e: CstElement): void => {
      if (isToken(e)) {
        if (e.isInsertedInRecovery || Number.isNaN(e.startOffset)) return;
        lo = Math.min(lo, e.startOffset);
        hi = Math.max(hi, (e.endOffset ?? e.startOffset) + 1);
      } else for (const list of Object.values(e.children)) for (const c of list) visit(c);
    };
    visit(n);
    return lo === Infinity ? undefined : this.lines.span(lo, hi);
  }
  private name(t: IToken | undefined): A.Name | undefined {
    return t ? { kind: "Name", value: t.image, loc: this.span(t) } : undefined;
  }

  declarations(spec: CstNode): A.Declaration[] {
    const out: A.Declaration[] = [];
    for (const d of this.nodes(spec.children, "declaration")) {
      const m = this.node(d.children, "modelDecl");
      const data = this.node(d.children, "dataDecl");
      const train = this.node(d.children, "trainDecl");
      const decl = m ? this.model(m) : data ? this.block(data, "Data") : train ? this.block(train, "Train") : undefined;
      if (decl) out.push(decl);
    }
    return out;
  }

  private model(n: CstNode): A.ModelDecl | undefined {
    const name = this.name(this.tok(n.children, "name"));
    const loc = this.cstSpan(n);
    if (!name || !loc) return undefined;
    const body: A.ModelStatement[] = [];
    for (const s of this.nodes(n.children, "modelStatement")) {
      const input = this.node(s.children, "inputDecl");
      const chain = this.node(s.children, "chain");
      const st = input ? this.input(input) : chain ? this.chain(chain) : undefined;
      if (st) body.push(st);
    }
    return { kind: "Model", name, body, loc };
  }

  private input(n: CstNode): A.InputDecl | undefined {
    const name = this.name(this.tok(n.children, "name"));
    const dtype = this.name(this.tok(n.children, "dtype"));
    const loc = this.cstSpan(n);
    if (!name || !dtype || !loc) return undefined;
    const dims: A.Dim[] = [];
    for (const d of this.nodes(n.children, "dim")) {
      const dn = this.name(this.tok(d.children, "name"));
      const sizeTok = this.tok(d.children, "size");
      const size = sizeTok ? this.number(sizeTok) : undefined;
      const dloc = this.cstSpan(d);
      if (dloc && (dn || size)) dims.push({ kind: "Dim", ...(dn ? { name: dn } : {}), ...(size ? { size } : {}), loc: dloc });
    }
    return { kind: "Input", name, dtype, dims, loc };
  }

  private chain(n: CstNode): A.Chain | undefined {
    const refNode = this.node(n.children, "reference");
    const source = refNode ? this.reference(refNode) : undefined;
    const loc = this.cstSpan(n);
    if (!source || !loc) return undefined;
    const layers: A.Layer[] = [];
    for (const l of this.nodes(n.children, "layer")) {
      const layer = this.layer(l);
      if (layer) layers.push(layer);
    }
    return { kind: "Chain", source, layers, loc };
  }

  private reference(n: CstNode): A.Reference | undefined {
    const name = this.name(this.tok(n.children, "name"));
    const loc = this.cstSpan(n);
    if (!name || !loc) return undefined;
    const port = this.name(this.tok(n.children, "port"));
    return { kind: "Reference", name, ...(port ? { port } : {}), loc };
  }

  private layer(n: CstNode): A.Layer | undefined {
    const op = this.name(this.tok(n.children, "op"));
    const loc = this.cstSpan(n);
    if (!op || !loc) return undefined;
    const argList = this.node(n.children, "argList");
    const alias = this.name(this.tok(n.children, "alias"));
    return { kind: "Layer", op, ...(argList ? { args: this.args(argList) } : {}), ...(alias ? { alias } : {}), loc };
  }

  private args(n: CstNode): A.Arg[] {
    const out: A.Arg[] = [];
    for (const a of this.nodes(n.children, "arg")) {
      const vn = this.node(a.children, "value");
      const value = vn ? this.value(vn) : undefined;
      const loc = this.cstSpan(a);
      if (!value || !loc) continue;
      const name = this.name(this.tok(a.children, "name"));
      out.push({ kind: "Arg", ...(name ? { name } : {}), value, loc });
    }
    return out;
  }

  private value(n: CstNode): A.Value | undefined {
    const ch = n.children;
    const num = this.tok(ch, "NumberLiteral");
    if (num) return this.number(num);
    const str = this.tok(ch, "StringLiteral") ?? this.tok(ch, "UnterminatedString");
    if (str) return this.string(str);
    const list = this.node(ch, "list");
    if (list) {
      const loc = this.cstSpan(list);
      if (!loc) return undefined;
      const items = this.nodes(list.children, "value")
        .map((v) => this.value(v))
        .filter((v): v is A.Value => v !== undefined);
      return { kind: "List", items, loc };
    }
    const id = this.tok(ch, "Identifier");
    if (!id) return undefined;
    const argList = this.node(ch, "argList");
    if (argList) {
      const loc = this.cstSpan(n);
      const callee = this.name(id);
      if (!loc || !callee) return undefined;
      return { kind: "Call", callee, args: this.args(argList), loc };
    }
    return { kind: "Word", value: id.image, loc: this.span(id) };
  }

  private number(t: IToken): A.NumberLit {
    return { kind: "Number", value: Number(t.image), raw: t.image, loc: this.span(t) };
  }

  private string(t: IToken): A.StringLit {
    const loc = this.span(t);
    const closed = t.tokenType !== UnterminatedString;
    if (!closed) this.bag.report("UnterminatedString", loc, "this string is not closed before the end of the line");
    const body = t.image.slice(1, closed ? -1 : undefined);
    const { value, errors } = unescape(body);
    for (const e of errors) this.bag.report("InvalidEscape", this.lines.span(t.startOffset + 1 + e.start, t.startOffset + 1 + e.end), e.message);
    return { kind: "String", value, raw: closed ? t.image : `${t.image}"`, loc };
  }

  block(n: CstNode, kind: "Data" | "Train"): A.BlockDecl | undefined {
    const model = this.name(this.tok(n.children, "name"));
    const loc = this.cstSpan(n);
    if (!model || !loc) return undefined;
    const settings: A.Setting[] = [];
    const block = this.node(n.children, "block");
    for (const s of block ? this.nodes(block.children, "setting") : []) {
      const key = this.name(this.tok(s.children, "key"));
      const sloc = this.cstSpan(s);
      if (!key || !sloc) continue;
      const clauses: A.Clause[] = [];
      for (const c of this.nodes(s.children, "clause")) {
        const terms = this.nodes(c.children, "value")
          .map((v) => this.value(v))
          .filter((v): v is A.Value => v !== undefined);
        const cloc = this.cstSpan(c);
        if (terms.length > 0 && cloc) clauses.push({ kind: "Clause", terms, loc: cloc });
      }
      if (clauses.length > 0) settings.push({ kind: "Setting", key, clauses, loc: sloc });
    }
    return { kind, model, settings, loc };
  }
}

const SIMPLE_ESCAPES: ReadonlyMap<string, string> = new Map([
  ["n", "\n"],
  ["t", "\t"],
  ["r", "\r"],
  ["\\", "\\"],
  ['"', '"'],
]);
const ESCAPES_HELP = 'strings support \\n \\t \\r \\\\ \\" and \\u{hex}';

/**
 * The one escape grammar of string literals: \n \t \r \\ \" and \u{h} with 1 to 6 hex digits naming a Unicode
 * scalar value (not a surrogate). Anything else after a backslash is an error located at the escape
 * (offsets into `body`, the text between the quotes).
 */
export function unescape(body: string): { value: string; errors: { start: number; end: number; message: string }[] } {
  let value = "";
  const errors: { start: number; end: number; message: string }[] = [];
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== "\\") {
      value += c;
      continue;
    }
    const start = i;
    const e = body[i + 1];
    const simple = e === undefined ? undefined : SIMPLE_ESCAPES.get(e);
    if (simple !== undefined) {
      value += simple;
      i++;
      continue;
    }
    if (e === "u") {
      const m = /^\{([0-9A-Fa-f]{1,6})\}/.exec(body.slice(i + 2, i + 2 + 8));
      if (!m) {
        const close = body.indexOf("}", i + 2);
        const end = body[i + 2] === "{" && close >= 0 ? close + 1 : i + 2;
        errors.push({ start, end, message: `invalid escape ${describeEscape(body.slice(start, end))}: write \\u{...} with 1 to 6 hex digits` });
        i = end - 1;
        continue;
      }
      const cp = Number.parseInt(m[1]!, 16);
      const end = i + 2 + m[0].length;
      if (cp > 0x10ffff) errors.push({ start, end, message: `invalid escape ${describeEscape(body.slice(start, end))}: the largest code point is 10FFFF` });
      else if (cp >= 0xd800 && cp <= 0xdfff)
        errors.push({ start, end, message: `invalid escape ${describeEscape(body.slice(start, end))}: a surrogate is not a character` });
      else value += String.fromCodePoint(cp);
      i = end - 1;
      continue;
    }
    if (e === undefined) {
      errors.push({ start, end: i + 1, message: `a string cannot end with a lone backslash; ${ESCAPES_HELP}` });
      continue;
    }
    const width = e.length + (/[\uD800-\uDBFF]/.test(e) && /[\uDC00-\uDFFF]/.test(body[i + 2] ?? "") ? 1 : 0);
    errors.push({ start, end: i + 1 + width, message: `unknown escape ${describeEscape(body.slice(start, i + 1 + width))} in a string; ${ESCAPES_HELP}` });
    i += width;
  }
  return { value, errors };
}

function describeEscape(s: string): string {
  return `'${s.length > 24 ? `${s.slice(0, 24)}...` : s}'`;
}
