import type { TokenType } from "chevrotain";
import { OPTIMIZER, SOURCE, TOKENIZER } from "../ir/signatures.js";
import { LAYER_CALL_FAMILIES, OP_NAMES } from "../layers/registry.js";
import { allTokens } from "../language/lexer.js";

/**
 * The TextMate grammar of .attn (editors/vscode/syntaxes/attn.tmLanguage.json), built from the lexer's token
 * table and the signature table: every token of the lexer gets a scope here, so a new token without one fails
 * the build of the grammar instead of going unhighlighted. `npm run generate` writes it; a test keeps it current.
 */
const SCOPES: { readonly [token: string]: string | undefined } = {
  WhiteSpace: undefined,
  LineComment: "comment.line.double-slash.attn",
  BlockComment: "comment.block.attn",
  UnterminatedBlockComment: "comment.block.attn",
  Arrow: "keyword.operator.arrow.attn",
  NumberLiteral: "constant.numeric.attn",
  StringLiteral: "string.quoted.double.attn",
  UnterminatedString: "string.quoted.double.attn invalid.illegal.unterminated.attn",
  Model: "storage.type.model.attn",
  Data: "storage.type.data.attn",
  Train: "storage.type.train.attn",
  Input: "keyword.other.input.attn",
  As: "keyword.other.as.attn",
  Identifier: "variable.other.attn",
  LBrace: "punctuation.section.block.begin.attn",
  RBrace: "punctuation.section.block.end.attn",
  LParen: "punctuation.section.parens.begin.attn",
  RParen: "punctuation.section.parens.end.attn",
  LBracket: "punctuation.section.brackets.begin.attn",
  RBracket: "punctuation.section.brackets.end.attn",
  Comma: "punctuation.separator.comma.attn",
  Colon: "punctuation.separator.key-value.attn",
  Equals: "keyword.operator.assignment.attn",
  Dot: "punctuation.accessor.attn",
};

function source(t: TokenType): string {
  const p = t.PATTERN;
  if (!(p instanceof RegExp)) throw new Error(`token ${t.name} has no regular expression`);
  return p.source;
}

function scopeOf(t: TokenType): string | undefined {
  if (!(t.name in SCOPES)) throw new Error(`token ${t.name} has no TextMate scope: add it to SCOPES in src/lsp/tmlanguage.ts`);
  return SCOPES[t.name];
}

const words = (ws: readonly string[]): string => `\\b(?:${ws.join("|")})\\b`;

export function tmLanguage(): Record<string, unknown> {
  const byName = new Map(allTokens.map((t) => [t.name, t]));
  const tok = (name: string): TokenType => byName.get(name)!;
  const keywords = allTokens.filter((t) => t.LONGER_ALT !== undefined);
  const patterns: Record<string, unknown>[] = [];
  const repository: Record<string, unknown> = {};
  const rule = (name: string, r: Record<string, unknown>): void => {
    repository[name] = r;
    patterns.push({ include: `#${name}` });
  };
  for (const t of allTokens) scopeOf(t);

  // Comments: a block comment spans lines, so it becomes a begin/end rule (an unterminated one runs to the end).
  const block = source(tok("BlockComment"));
  const [open, close] = [block.slice(0, block.indexOf("[")), block.slice(block.lastIndexOf("?") + 1)];
  rule("comments", {
    patterns: [
      { name: scopeOf(tok("LineComment")), match: source(tok("LineComment")) },
      { name: scopeOf(tok("BlockComment")), begin: open, end: close },
    ],
  });
  rule("strings", {
    patterns: [
      {
        name: scopeOf(tok("StringLiteral")),
        match: source(tok("StringLiteral")),
        captures: { "0": { patterns: [{ name: "constant.character.escape.attn", match: '\\\\(?:[ntr"\\\\0]|u\\{[0-9A-Fa-f]{1,6}\\})' }] } },
      },
      { name: scopeOf(tok("UnterminatedString")), match: source(tok("UnterminatedString")) },
    ],
  });
  // Declarations and their names: `model Name`, `data Name`, `train Name`.
  const decl = ["Model", "Data", "Train"].map((n) => source(tok(n)).replace(/\\b$/, ""));
  rule("declarations", {
    match: `^\\s*(${decl.join("|")})\\s+([A-Za-z_][A-Za-z0-9_]*)`,
    captures: { "1": { name: "storage.type.attn" }, "2": { name: "entity.name.type.model.attn" } },
  });
  rule("input", {
    match: `\\b(${source(tok("Input")).replace(/\\b$/, "")})\\s+([A-Za-z_][A-Za-z0-9_]*)`,
    captures: { "1": { name: scopeOf(tok("Input")) }, "2": { name: "variable.other.definition.attn" } },
  });
  rule("alias", {
    match: `\\b(${source(tok("As")).replace(/\\b$/, "")})\\s+([A-Za-z_][A-Za-z0-9_]*)`,
    captures: { "1": { name: scopeOf(tok("As")) }, "2": { name: "variable.other.definition.attn" } },
  });
  rule("keywords", { patterns: keywords.map((t) => ({ name: scopeOf(t), match: `\\b${source(t)}` })) });
  rule("layers", { name: "entity.name.function.layer.attn", match: words(OP_NAMES) });
  const calls = [...LAYER_CALL_FAMILIES, SOURCE, TOKENIZER, OPTIMIZER].flatMap((f) => Object.keys(f.calls));
  rule("calls", { match: `\\b(${calls.join("|")})\\s*(?=\\()`, captures: { "1": { name: "support.function.call.attn" } } });
  rule("constants", { name: "constant.language.boolean.attn", match: words(["true", "false"]) });
  rule("keys", {
    match: `\\b([A-Za-z_][A-Za-z0-9_]*)\\s*(?=${source(tok("Colon"))})`,
    captures: { "1": { name: "variable.parameter.attn" } },
  });
  rule("ports", {
    match: `\\b([A-Za-z_][A-Za-z0-9_]*)(${source(tok("Dot"))})([A-Za-z_][A-Za-z0-9_]*)`,
    captures: { "1": { name: "variable.other.attn" }, "2": { name: scopeOf(tok("Dot")) }, "3": { name: "variable.other.property.port.attn" } },
  });
  rule("numbers", { name: scopeOf(tok("NumberLiteral")), match: `(?<![A-Za-z0-9_.])${source(tok("NumberLiteral"))}` });
  rule("identifiers", { name: scopeOf(tok("Identifier")), match: source(tok("Identifier")) });
  const punct = allTokens.filter(
    (t) =>
      t.LONGER_ALT === undefined &&
      !/^[A-Za-z]/.test(source(t).replace(/^\\/, "")) &&
      !["WhiteSpace", "LineComment", "BlockComment", "UnterminatedBlockComment", "NumberLiteral", "StringLiteral", "UnterminatedString", "Identifier"].includes(
        t.name,
      ),
  );
  rule("punctuation", { patterns: punct.map((t) => ({ name: scopeOf(t), match: source(t) })) });

  return {
    $schema: "https://raw.githubusercontent.com/martinring/tmlanguage/master/tmlanguage.json",
    name: "attn",
    scopeName: "source.attn",
    fileTypes: ["attn"],
    comment: "Generated by npm run generate from the lexer's token table (src/language/lexer.ts); do not edit.",
    patterns,
    repository,
  };
}

export function tmLanguageText(): string {
  return `${JSON.stringify(tmLanguage(), null, 2)}\n`;
}
