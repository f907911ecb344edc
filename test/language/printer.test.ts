import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "../../src/language/parse.js";
import { printSpec } from "../../src/language/printer.js";
import { compile, serializeIr } from "../../src/compile.js";
import { dedent } from "../helpers.js";

function fmt(text: string): string {
  const r = parse({ name: "t.attn", text });
  expect(r.diagnostics.items).toEqual([]);
  return printSpec(r.ast);
}

/** The AST without source positions, to compare meaning. */
function shape(text: string): string {
  return JSON.stringify(parse({ name: "t.attn", text }).ast.declarations, (k, v: unknown) => (k === "loc" || k === "raw" ? undefined : v));
}

const specFiles = [
  ...readdirSync("specs")
    .filter((f) => f.endsWith(".attn"))
    .map((f) => `specs/${f}`),
  "test/fixtures/fmt/messy.attn",
];

describe("fmt", () => {
  it("lays out a messy spec canonically, keeping every comment", () => {
    const messy = dedent`
      // head comment


      model   M{input x:float[T=24,F=3]  // trailing on input
      x->lstm( units:8 ,input_attention : temporal( 4 ))as enc->last
      // before dense
      ->dense(1)}
      data M{source:csv( "a.csv",features:["a","b","c"],target:"a") window:24,horizon 1
      /* dangling */ }
    `;
    expect(fmt(messy)).toBe(dedent`
      // head comment

      model M {
        input x: float[T = 24, F = 3] // trailing on input
        x
          -> lstm(units: 8, input_attention: temporal(4)) as enc
          -> last
          // before dense
          -> dense(1)
      }

      data M {
        source: csv("a.csv", features: ["a", "b", "c"], target: "a")
        window: 24, horizon 1
        /* dangling */
      }
    `);
  });

  it.each(specFiles)("is idempotent and keeps the meaning of %s", async (file) => {
    const text = readFileSync(file, "utf8");
    const once = fmt(text);
    expect(fmt(once)).toBe(once);
    expect(shape(once)).toBe(shape(text));
    const count = (t: string) => parse({ name: "t", text: t }).ast.comments.map((c) => c.text);
    expect(count(once)).toEqual(count(text));
    const [a, b] = await Promise.all([compile({ name: "x", text }), compile({ name: "x", text: once })]);
    expect(b.models.map(serializeIr)).toEqual(a.models.map(serializeIr));
  });

  it("keeps the checked-in specs in canonical form", () => {
    for (const f of specFiles.filter((f) => f.startsWith("specs/"))) expect(fmt(readFileSync(f, "utf8")), f).toBe(readFileSync(f, "utf8"));
  });
});
