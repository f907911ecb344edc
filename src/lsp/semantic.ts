import type { IToken } from "chevrotain";
import type { SemanticTokens, SemanticTokensLegend } from "vscode-languageserver";
import type { TextDocument } from "vscode-languageserver-textdocument";
import {
  Arrow,
  As,
  BlockComment,
  Colon,
  Data,
  Dot,
  Equals,
  Identifier,
  Input,
  LBrace,
  LineComment,
  LParen,
  Model,
  NumberLiteral,
  RBrace,
  StringLiteral,
  tokenize,
  Train,
  UnterminatedBlockComment,
  UnterminatedString,
} from "../language/lexer.js";

/** The token types and modifiers the server reports, in the order their indices refer to. */
export const TOKEN_TYPES = ["keyword", "function", "property", "variable", "type", "typeParameter", "number", "string", "comment", "operator"] as const;
export const TOKEN_MODIFIERS = ["declaration"] as const;
export const SEMANTIC_LEGEND: SemanticTokensLegend = { tokenTypes: [...TOKEN_TYPES], tokenModifiers: [...TOKEN_MODIFIERS] };

type TokenKind = (typeof TOKEN_TYPES)[number];
const DECLARATION = 1 << TOKEN_MODIFIERS.indexOf("declaration");

interface Classified {
  readonly start: number;
  /** Exclusive end offset. */
  readonly end: number;
  readonly type: TokenKind;
  readonly modifiers: number;
}

const KEYWORDS = new Set([Model, Data, Train]);
const isName = (t: IToken | undefined): boolean => t !== undefined && (t.tokenType === Identifier || t.tokenType.CATEGORIES?.includes(Identifier) === true);

/**
 * Classifies the lexer's tokens by where they stand: keywords are soft (`train 0.8` in a split clause is a word), so a
 * keyword counts only where the grammar expects one. Words that are values (`mse`, `standard`) get no token.
 */
export function classify(text: string): Classified[] {
  const { tokens, comments } = tokenize(text);
  const out: Classified[] = [];
  const add = (t: IToken, type: TokenKind, modifiers = 0): void => {
    out.push({ start: t.startOffset, end: (t.endOffset ?? t.startOffset) + 1, type, modifiers });
  };
  for (const c of comments) if (c.tokenType === LineComment || c.tokenType === BlockComment || c.tokenType === UnterminatedBlockComment) add(c, "comment");
  let depth = 0;
  /** The kind of the top-level block the token is in. */
  let block: "model" | "other" | undefined;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const k = t.tokenType;
    const prev = tokens[i - 1];
    const next = tokens[i + 1];
    if (k === LBrace) {
      if (depth === 0) block = prev && tokens[i - 2]?.tokenType === Model ? "model" : "other";
      depth++;
      continue;
    }
    if (k === RBrace) {
      depth = Math.max(0, depth - 1);
      if (depth === 0) block = undefined;
      continue;
    }
    if (k === NumberLiteral) add(t, "number");
    else if (k === StringLiteral || k === UnterminatedString) add(t, "string");
    else if (k === Arrow) add(t, "operator");
    else if (!isName(t)) continue;
    else if (depth === 0 && KEYWORDS.has(k)) add(t, "keyword");
    else if (depth === 0 && prev && KEYWORDS.has(prev.tokenType)) add(t, "type");
    else if (block === "model" && k === Input && isName(next) && tokens[i + 2]?.tokenType === Colon) add(t, "keyword");
    else if (block === "model" && k === As && isName(next)) add(t, "keyword");
    else if (block === "model" && (prev?.tokenType === As || prev?.tokenType === Input) && tokens[i - 2]?.tokenType !== As) add(t, "variable", DECLARATION);
    else if (prev?.tokenType === Arrow) add(t, "function");
    else if (prev?.tokenType === Dot) add(t, "property");
    else if (next?.tokenType === LParen) add(t, "function");
    else if (next?.tokenType === Colon) add(t, "property");
    else if (next?.tokenType === Equals) add(t, "typeParameter");
    else if (block === "model" && prev?.tokenType === Colon && tokens[i - 3]?.tokenType === Input) add(t, "type");
    else if (block === "model" && depth === 1 && next?.tokenType !== Colon && (next?.tokenType === Arrow || next?.tokenType === Dot)) add(t, "variable");
  }
  return out.sort((a, b) => a.start - b.start);
}

/** `textDocument/semanticTokens/full`: tokens that span lines (block comments) are split, one per line. */
export function semanticTokens(doc: TextDocument): SemanticTokens {
  const text = doc.getText();
  const data: number[] = [];
  let lastLine = 0;
  let lastChar = 0;
  const push = (start: number, end: number, type: number, modifiers: number): void => {
    const p = doc.positionAt(start);
    const length = doc.positionAt(end).character - p.character;
    if (length <= 0) return;
    data.push(p.line - lastLine, p.line === lastLine ? p.character - lastChar : p.character, length, type, modifiers);
    lastLine = p.line;
    lastChar = p.character;
  };
  for (const c of classify(text)) {
    const type = TOKEN_TYPES.indexOf(c.type);
    let from = c.start;
    for (;;) {
      const p = doc.positionAt(from);
      const lineEnd = p.line + 1 < doc.lineCount ? doc.offsetAt({ line: p.line + 1, character: 0 }) : text.length;
      // The line's own end, before its line break.
      let stop = Math.min(lineEnd, c.end);
      while (stop > from && (text[stop - 1] === "\n" || text[stop - 1] === "\r")) stop--;
      push(from, stop, type, c.modifiers);
      if (lineEnd >= c.end) break;
      from = lineEnd;
    }
  }
  return { data };
}
