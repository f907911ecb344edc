import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compile, serializeIr } from "../src/compile.js";
import { errorBaseline } from "../src/baseline.js";
import { Codes } from "../src/diagnostics/catalogue.js";
import { referenceMarkdown } from "../src/reference.js";
import { decodeSource } from "../src/language/source.js";

const specs = readdirSync("specs")
  .filter((f) => f.endsWith(".attn"))
  .sort();
const errorSpecs = readdirSync("specs/errors")
  .filter((f) => f.endsWith(".attn"))
  .sort();

describe("golden files: specs/ -> generated/", () => {
  it.each(specs)("%s builds to the checked-in IR, byte for byte", async (f) => {
    const r = await compile({ name: `specs/${f}`, text: readFileSync(`specs/${f}`, "utf8") });
    expect(r.diagnostics).toEqual([]);
    for (const m of r.models) expect(serializeIr(m)).toBe(readFileSync(`generated/${m.model}.ir.json`, "utf8"));
  });

  it("generated/ holds no IR that no spec produces", async () => {
    const produced = new Set<string>();
    for (const f of specs) for (const m of (await compile({ name: f, text: readFileSync(`specs/${f}`, "utf8") })).models) produced.add(`${m.model}.ir.json`);
    expect(
      readdirSync("generated")
        .filter((f) => f.endsWith(".ir.json"))
        .sort(),
    ).toEqual([...produced].sort());
  });

  it("the same spec compiles to the same bytes every time", async () => {
    const text = readFileSync("specs/sentiment.attn", "utf8");
    const a = (await compile({ name: "a", text })).models.map(serializeIr);
    const b = (await compile({ name: "b", text })).models.map(serializeIr);
    expect(b).toEqual(a);
  });
});

describe("error specs: specs/errors/*.attn -> *.errors.txt", () => {
  it("has at least 30 wrong specs", () => {
    expect(errorSpecs.length).toBeGreaterThanOrEqual(30);
  });

  it.each(errorSpecs)("%s gives its checked-in diagnostics", async (f) => {
    const name = `specs/errors/${f}`;
    // Read as the command line reads specs, so that a spec may hold bytes that are not UTF-8.
    const actual = await errorBaseline(name, decodeSource(readFileSync(name)));
    expect(actual).toBe(readFileSync(name.replace(/\.attn$/, ".errors.txt"), "utf8"));
    expect(actual).toMatch(/exit code 1\n$/);
  });

  it("every code of the catalogue is shown by at least one error spec", () => {
    const all = errorSpecs.map((f) => readFileSync(`specs/errors/${f.replace(/\.attn$/, ".errors.txt")}`, "utf8")).join("\n");
    const missing = Object.values(Codes)
      .map((c) => c.code)
      .filter((code) => !all.includes(` ${code}: `));
    expect(missing).toEqual([]);
  });
});

describe("generated artefacts", () => {
  it("grammar/REFERENCE.md is what the tables generate (npm run generate)", () => {
    expect(readFileSync("grammar/REFERENCE.md", "utf8")).toBe(referenceMarkdown());
  });

  it("grammar/diagrams.html is what the grammar generates (npm run generate)", async () => {
    const { diagramsHtml } = (await import("../scripts/generate.mjs" as string)) as { diagramsHtml: () => string };
    expect(readFileSync("grammar/diagrams.html", "utf8")).toBe(diagramsHtml());
  });
});
