// Regenerates the checked-in artefacts that come from the compiler's own definitions:
//   schema/attnc-ir.schema.json  from the signature table (src/ir/signatures.ts)
//   grammar/diagrams.html        railroad diagrams of the chevrotain grammar, self-contained (no network needed to view)
//   grammar/REFERENCE.md         layers, calls, settings and diagnostic codes, from the same tables
//   specs/errors/*.errors.txt    the diagnostics each wrong spec gives (plain format), reviewed like any diff
// The tests fail when any of them differs from what this script writes.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createSyntaxDiagramsCode } from "chevrotain";
import { irSchemaText } from "../dist/ir/schema.js";
import { attnParser } from "../dist/language/parser.js";
import { errorBaseline } from "../dist/baseline.js";
import { referenceMarkdown } from "../dist/reference.js";
import { decodeSource } from "../dist/language/source.js";

export function diagramsHtml() {
  const main = fileURLToPath(import.meta.resolve("chevrotain"));
  const base = join(main.slice(0, main.lastIndexOf("/node_modules/chevrotain/") + "/node_modules/chevrotain/".length), "diagrams");
  const html = createSyntaxDiagramsCode(attnParser().getSerializedGastProductions(), { resourceBase: "@res/", css: "@res/diagrams.css" });
  return html
    .replace(/<link rel='stylesheet' href='@res\/([^']+)'>/g, (_, f) => `<style>\n${readFileSync(join(base, f), "utf8")}\n</style>`)
    .replace(/<script src='@res\/([^']+)'><\/script>/g, (_, f) => `<script>\n${readFileSync(join(base, f), "utf8")}\n</script>`)
    .replace("<!DOCTYPE html>", "<!DOCTYPE html>\n<title>The .attn grammar</title>");
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop())) {
  writeFileSync(new URL("../schema/attnc-ir.schema.json", import.meta.url), irSchemaText());
  writeFileSync(new URL("../grammar/diagrams.html", import.meta.url), diagramsHtml());
  writeFileSync(new URL("../grammar/REFERENCE.md", import.meta.url), referenceMarkdown());
  (await import("./generate-tmlanguage.mjs")).writeTmLanguage();
  const dir = new URL("../specs/errors/", import.meta.url);
  for (const f of readdirSync(dir)
    .filter((f) => f.endsWith(".attn"))
    .sort()) {
    const name = `specs/errors/${f}`;
    writeFileSync(new URL(f.replace(/\.attn$/, ".errors.txt"), dir), await errorBaseline(name, decodeSource(readFileSync(new URL(f, dir)))));
  }
}
