// Writes the TextMate grammar of the VS Code extension (editors/vscode/syntaxes/attn.tmLanguage.json) from the
// lexer's token table; see src/lsp/tmlanguage.ts. Run through npm run generate (after npm run build).
import { writeFileSync } from "node:fs";
import { tmLanguageText } from "../dist/lsp/tmlanguage.js";

export function writeTmLanguage() {
  writeFileSync(new URL("../editors/vscode/syntaxes/attn.tmLanguage.json", import.meta.url), tmLanguageText());
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop())) writeTmLanguage();
