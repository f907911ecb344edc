import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { prng as rng } from "../src/runtime/data.js";
import { compile } from "../src/compile.js";
import { run } from "../src/cli/main.js";
import { LineMap } from "../src/diagnostics/span.js";

const specs = readdirSync("specs")
  .filter((f) => f.endsWith(".attn"))
  .map((f) => ({ f, text: readFileSync(`specs/${f}`, "utf8") }));

async function expectLocated(text: string): Promise<boolean> {
  const r = await compile({ name: "x.attn", text });
  const lines = new LineMap(text);
  for (const d of r.diagnostics) {
    expect(d.span.start).toBeGreaterThanOrEqual(0);
    expect(d.span.end).toBeLessThanOrEqual(text.length);
    expect(d.span.line).toBeLessThanOrEqual(lines.lineCount);
    expect(d.message.length).toBeGreaterThan(0);
  }
  if (!r.ok) expect(r.diagnostics.some((d) => d.severity === "error")).toBe(true);
  return r.ok;
}

describe("truncated and corrupted specs", () => {
  it.each(specs)("every truncation of $f gives output or located errors, never a throw", async ({ text }) => {
    let failing = 0;
    for (let cut = 0; cut < text.length; cut += 3) if (!(await expectLocated(text.slice(0, cut)))) failing++;
    expect(failing).toBeGreaterThan(text.length / 3 / 2);
  });

  it.each(specs)("random byte corruptions of $f give output or located errors", async ({ text }) => {
    const next = rng(text.length);
    const junk = ["", "{", "}", "(", ")", "->", ",", ":", '"', "/*", "\u0000", "\u00e9", "\r\n", "1e999", "-", "model", "[", "]", "as"];
    for (let i = 0; i < 150; i++) {
      const at = Math.floor(next() * text.length);
      const len = Math.floor(next() * 4);
      const put = junk[Math.floor(next() * junk.length)]!;
      await expectLocated(text.slice(0, at) + put + text.slice(at + len));
    }
  });

  it("the CLI exits 1 with diagnostics (no stack trace) for a truncated spec", async () => {
    const out: string[] = [];
    const io = { cwd: process.cwd(), env: {}, stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => out.push(s) } };
    const text = readFileSync("specs/forecast.attn", "utf8");
    const dir = mkdtempSync(join(tmpdir(), "attnc-trunc-"));
    writeFileSync(join(dir, "t.attn"), text.slice(0, Math.floor(text.length / 2)));
    const code = await run(["check", join(dir, "t.attn")], io);
    expect(code).toBe(1);
    expect(out.join("")).toMatch(/t\.attn:\d+:\d+ - error ATN\d{4}/);
    expect(out.join("")).not.toMatch(/\n\s+at /);
  });
});
