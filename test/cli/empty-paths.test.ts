/**
 * An empty path (an unset shell variable: `--out "$DIR"`) is a usage error naming the option, never the working
 * directory: explain wrote its heatmaps into the working directory, train --force would train into it.
 */
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { attnc, attncIn } from "../in-process.js";

const work = mkdtempSync(join(tmpdir(), "attnc-empty-paths-"));
const run = (...args: string[]) => attncIn(work, ...args);

beforeAll(async () => {
  const r = await attnc("train", "test/fixtures/specs/tiny_series.attn", "--out", join(work, "m"), "--allow-outside", "--epochs", "1", "--backend", "wasm");
  expect(r.code, r.err).toBe(0);
  const rows = Array.from({ length: 7 }, (_, t) => [10 + t, 5, 0, 3]);
  writeFileSync(join(work, "req.jsonl"), `${JSON.stringify({ window: rows })}\n`);
});

describe("empty paths", () => {
  for (const [args, message] of [
    [["explain", "m", "--input", "req.jsonl", "--out", ""], "attnc: --out needs a path, not an empty string\n"],
    [["train", resolve("test/fixtures/specs/tiny_series.attn"), "--out", "", "--force", "--allow-outside"], "attnc: --out needs a path, not an empty string\n"],
    [["predict", "m", "--input", ""], "attnc: --input needs a path, not an empty string\n"],
    [["predict", "m", "--csv", ""], "attnc: --csv needs a path, not an empty string\n"],
    [["evaluate", "m", "--data", ""], "attnc: --data needs a path, not an empty string\n"],
    [["evaluate", ""], "attnc: an argument of evaluate is an empty string; give a path\n"],
    [["check", ""], "attnc: an argument of check is an empty string; give a path\n"],
  ] as const) {
    it(`attnc ${args.join(" ")}`, async () => {
      const before = readdirSync(work).sort();
      const r = await run(...args);
      expect([r.code, r.err, r.out]).toEqual([2, message, ""]);
      expect(readdirSync(work).sort()).toEqual(before);
    });
  }
});
