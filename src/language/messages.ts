import { EOF, type IParserErrorMessageProvider, type IToken, type TokenType } from "chevrotain";

/** What each grammar rule is called in a message ("expected a layer ..."). */
const RULE_WORDS: Record<string, string> = {
  spec: "'model', 'data' or 'train'",
  declaration: "'model', 'data' or 'train'",
  modelStatement: "'input' or a chain such as `tokens -> lstm(64)`",
  chain: "a chain such as `tokens -> lstm(64)`",
  layer: "a layer",
  dim: "a dimension (a name, `name = size`, or a size)",
  value: "a value (number, string, list or name)",
  clause: "a value",
  setting: "a setting `name: value`",
  arg: "an argument",
  list: "a list item",
  reference: "a name",
};

export function describeToken(t: IToken | undefined): string {
  if (!t || t.tokenType === EOF) return "the end of the file";
  const image = t.image.length > 24 ? `${t.image.slice(0, 24)}...` : t.image;
  return `'${image}'`;
}

function tokenWord(t: TokenType): string {
  if (t === EOF) return "the end of the file";
  const label = t.LABEL ?? t.name;
  return label === "Identifier" ? "a name" : label;
}

function oneOf(words: string[]): string {
  const unique = [...new Set(words)];
  if (unique.length <= 1) return unique[0] ?? "something else";
  return `${unique.slice(0, -1).join(", ")} or ${unique[unique.length - 1]}`;
}

export const errorMessages: IParserErrorMessageProvider = {
  buildMismatchTokenMessage({ expected, actual }) {
    if (expected === EOF) return `expected 'model', 'data' or 'train' but found ${describeToken(actual)}`;
    return `expected ${tokenWord(expected)} but found ${describeToken(actual)}`;
  },
  buildNotAllInputParsedMessage({ firstRedundant }) {
    return `expected 'model', 'data' or 'train' but found ${describeToken(firstRedundant)}`;
  },
  buildNoViableAltMessage({ expectedPathsPerAlt, actual, ruleName }) {
    const words = RULE_WORDS[ruleName] ?? oneOf(expectedPathsPerAlt.flatMap((alt) => alt.map((path) => (path[0] ? tokenWord(path[0]) : "something"))));
    return `expected ${words} but found ${describeToken(actual[0])}`;
  },
  buildEarlyExitMessage({ expectedIterationPaths, actual, ruleName }) {
    const words = RULE_WORDS[ruleName] ?? oneOf(expectedIterationPaths.map((path) => (path[0] ? tokenWord(path[0]) : "something")));
    return `expected ${words} but found ${describeToken(actual[0])}`;
  },
};
