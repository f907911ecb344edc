import { createToken, Lexer, type IToken, type TokenType } from "chevrotain";

// Trivia.
export const WhiteSpace = createToken({ name: "WhiteSpace", pattern: /[ \t\r\n\f\uFEFF]+/, group: Lexer.SKIPPED, line_breaks: true });
export const LineComment = createToken({ name: "LineComment", pattern: /\/\/[^\n\r]*/, group: "comments" });
export const BlockComment = createToken({ name: "BlockComment", pattern: /\/\*[\s\S]*?\*\//, group: "comments", line_breaks: true });
/** An opening block comment that never closes: reported, then skipped to the end of the file. */
export const UnterminatedBlockComment = createToken({ name: "UnterminatedBlockComment", pattern: /\/\*[\s\S]*/, group: "comments", line_breaks: true });

// Names. Keywords are soft: they are Identifiers too, so `train 0.8` works inside a split clause.
export const Identifier = createToken({ name: "Identifier", pattern: /[A-Za-z_][A-Za-z0-9_]*/ });
const keyword = (word: string): TokenType =>
  createToken({
    name: word[0]!.toUpperCase() + word.slice(1),
    pattern: new RegExp(`${word}\\b`),
    longer_alt: Identifier,
    categories: [Identifier],
    label: `'${word}'`,
  });
export const Model = keyword("model");
export const Data = keyword("data");
export const Train = keyword("train");
export const Input = keyword("input");
export const As = keyword("as");

// Literals.
export const NumberLiteral = createToken({ name: "NumberLiteral", pattern: /-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/, label: "number" });
export const StringLiteral = createToken({ name: "StringLiteral", pattern: /"(?:[^"\\\n\r]|\\[^\n\r])*"/, label: "string" });
/** A string that reaches the end of its line: reported, then parsed as if it were closed. */
export const UnterminatedString = createToken({ name: "UnterminatedString", pattern: /"(?:[^"\\\n\r]|\\[^\n\r])*\\?/, label: "string" });

// Punctuation.
export const Arrow = createToken({ name: "Arrow", pattern: /->/, label: "'->'" });
export const LBrace = createToken({ name: "LBrace", pattern: /\{/, label: "'{'" });
export const RBrace = createToken({ name: "RBrace", pattern: /\}/, label: "'}'" });
export const LParen = createToken({ name: "LParen", pattern: /\(/, label: "'('" });
export const RParen = createToken({ name: "RParen", pattern: /\)/, label: "')'" });
export const LBracket = createToken({ name: "LBracket", pattern: /\[/, label: "'['" });
export const RBracket = createToken({ name: "RBracket", pattern: /\]/, label: "']'" });
export const Comma = createToken({ name: "Comma", pattern: /,/, label: "','" });
export const Colon = createToken({ name: "Colon", pattern: /:/, label: "':'" });
export const Equals = createToken({ name: "Equals", pattern: /=/, label: "'='" });
export const Dot = createToken({ name: "Dot", pattern: /\./, label: "'.'" });

/** Order matters: the first pattern that matches wins. */
export const allTokens: TokenType[] = [
  WhiteSpace,
  LineComment,
  BlockComment,
  UnterminatedBlockComment,
  Arrow,
  NumberLiteral,
  StringLiteral,
  UnterminatedString,
  Model,
  Data,
  Train,
  Input,
  As,
  Identifier,
  LBrace,
  RBrace,
  LParen,
  RParen,
  LBracket,
  RBracket,
  Comma,
  Colon,
  Equals,
  Dot,
];

let lexer: Lexer | undefined;
/** The single lexer instance, built on first use. */
export function attnLexer(): Lexer {
  // LF, CRLF and a lone CR end lines (chevrotain's default line terminators), as in LineMap (src/diagnostics/span.ts).
  lexer ??= new Lexer(allTokens, { positionTracking: "full", ensureOptimizations: false, skipValidations: true });
  return lexer;
}

export interface LexResult {
  readonly tokens: IToken[];
  readonly comments: IToken[];
  readonly errors: { offset: number; length: number; message: string }[];
}

export function tokenize(text: string): LexResult {
  const r = attnLexer().tokenize(text);
  return {
    tokens: r.tokens,
    comments: (r.groups["comments"] as IToken[] | undefined) ?? [],
    errors: r.errors.map((e) => ({ offset: e.offset, length: e.length, message: e.message })),
  };
}
