import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { irSchemaText } from "../../src/ir/schema.js";
import { compileValidator } from "../../src/ir/validate.js";
import { compile } from "../../src/compile.js";

describe("IR schema", () => {
  it("the checked-in schema is what the signature table generates (npm run generate)", () => {
    expect(readFileSync("schema/attnc-ir.schema.json", "utf8")).toBe(irSchemaText());
  });

  it("every compiled IR of specs/ validates against the schema, inferred fields included", async () => {
    const validate = await compileValidator();
    for (const f of readdirSync("specs").filter((f) => f.endsWith(".attn"))) {
      const r = await compile({ name: f, text: readFileSync(`specs/${f}`, "utf8") });
      expect(r.ok).toBe(true);
      for (const m of r.models) {
        const ok = validate(JSON.parse(JSON.stringify(m)));
        expect(validate.errors ?? [], `${f} ${m.model}`).toEqual(ok ? [] : ["(errors above)"]);
        expect(m.nodes.every((n) => n.shape !== undefined && n.params !== undefined)).toBe(true);
      }
    }
  });

  it("rejects unknown keys in a hand-edited IR", async () => {
    const validate = await compileValidator();
    const m = JSON.parse(readFileSync("generated/Forecast.ir.json", "utf8")) as { nodes: { attrs: Record<string, unknown> }[] };
    m.nodes[0]!.attrs["unitz"] = 3;
    expect(validate(m)).toBe(false);
    expect(validate.errors!.map((e) => e.keyword)).toContain("additionalProperties");
  });
});
