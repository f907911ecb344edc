/**
 * Formats generated TypeScript with prettier: the exact version is pinned in package.json, every option is
 * given here, and no configuration file is looked up, so the output depends only on the input.
 */
export const PRETTIER_OPTIONS = {
  parser: "typescript",
  printWidth: 120,
  tabWidth: 2,
  useTabs: false,
  semi: true,
  singleQuote: false,
  quoteProps: "as-needed",
  trailingComma: "all",
  bracketSpacing: true,
  arrowParens: "always",
  endOfLine: "lf",
  proseWrap: "preserve",
  objectWrap: "preserve",
} as const;

export async function formatTypeScript(text: string): Promise<string> {
  const prettier = await import("prettier");
  return prettier.format(text, { ...PRETTIER_OPTIONS });
}
