/**
 * explain on a model without attention is a usage mistake: exit 2 and one line naming the model (as serve's
 * /explain answers 400), before anything is written or any request is read.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attnc } from "../in-process.js";

const work = mkdtempSync(join(tmpdir(), "attnc-explain-plain-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

beforeAll(async () => {
  const r = await attnc("train", "test/fixtures/specs/tiny_plain.attn", "--out", join(work, "m"), "--allow-outside", "--epochs", "1", "--backend", "wasm");
  expect(r.code, r.err).toBe(0);
  const rows = Array.from({ length: 7 }, (_, t) => [10 + t, 5, 0, 3]);
  writeFileSync(join(work, "req.jsonl"), `${JSON.stringify({ window: rows })}\n`);
});

describe("explain without attention", () => {
  it("exits 2 with one line and writes nothing", async () => {
    const before = readdirSync(work).sort();
    const r = await attnc("explain", join(work, "m"), "--input", join(work, "req.jsonl"), "--out", join(work, "heat"), "--backend", "wasm", "--allow-outside");
    expect(r.code).toBe(2);
    expect(r.err.split("\n").filter((l) => l.startsWith("attnc: ") && !/ backend$/.test(l))).toEqual([
      "attnc: model TinyPlain has no attention layer to explain",
    ]);
    expect(r.out).toBe("");
    expect(existsSync(join(work, "heat"))).toBe(false);
    expect(readdirSync(work).sort()).toEqual(before);
  });

  it("predict on the same model answers", async () => {
    const r = await attnc("predict", join(work, "m"), "--input", join(work, "req.jsonl"), "--backend", "wasm", "--allow-outside");
    expect(r.code, r.err).toBe(0);
    expect(typeof (JSON.parse(r.out.trim()) as { prediction: unknown }).prediction).toBe("number");
  });
});
