import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../src/compile.js";
import { DataError } from "../../src/runtime/csv.js";
import { examples, fit, type DataConfig } from "../../src/runtime/data.js";
import { SPLITS } from "../../src/runtime/prep.js";
import { attnc } from "../in-process.js";
import { head, mutatedData, mutatedRequest, type DataSeed } from "./inputs.js";

/** The test suite runs a few hundred cases; `npm run fuzz -- --runs N` runs the long campaign. */
const RUNS = Number(process.env["FUZZ_RUNS"] ?? 150);
const SEED = process.env["FUZZ_SEED"] !== undefined ? Number(process.env["FUZZ_SEED"]) : 20261130;

const TEXT_DATA = (file: string, format: "csv" | "jsonl") => `
model T {
  input tokens: int[T]
  tokens -> embedding(vocab: 40, dim: 4, mask_zero: true) -> lstm(units: 4) -> last -> dense(2, activation: softmax) as label
}
data T {
  source: ${format === "csv" ? `csv("${file}", text: "review", label: "sentiment")` : `jsonl("${file}", text: "sentence", label: "relation")`}
  tokenizer: words(max_len: 12, vocab: 40)
  split: train 0.6, validation 0.2, test 0.2, seed 1
}
train T {
  loss: cross_entropy
}
`;

const SERIES_DATA = (file: string) => `
model S {
  input window: float[T = 5, F]
  window -> lstm(units: 4, input_attention: temporal(units: 2)) -> last -> dense(1) as temp_max
}
data S {
  source: csv("${file}", time: "date", features: ["temp_max", "temp_min", "precipitation", "wind"], target: "temp_max")
  window: 5, horizon 1
  scale: standard
  split: chronological train 0.6, validation 0.2, test 0.2
}
train S {
  loss: mse
}
`;

async function dataConfig(spec: string): Promise<DataConfig> {
  const r = await compile({ name: "fuzz.attn", text: spec });
  expect(r.ok, JSON.stringify(r.diagnostics)).toBe(true);
  return r.models[0]!.data as unknown as DataConfig;
}

const dir = mkdtempSync(join(tmpdir(), "attnc-fuzz-inputs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * The data pipeline on a mutated file either yields examples whose values are finite numbers, or stops with a
 * DataError that names the file and a line; anything else (a TypeError, a RangeError, a hang) is a bug.
 */
async function readsOrLocates(config: DataConfig, file: string, bytes: Buffer): Promise<void> {
  writeFileSync(file, bytes);
  try {
    const prep = await fit(config, { path: file, display: "d.data" });
    for (const split of SPLITS) {
      for await (const ex of examples(config, prep, { path: file, display: "d.data" }, split)) {
        expect(ex.y.every(Number.isFinite)).toBe(true);
        for (const v of ex.x) if (!Number.isFinite(v)) throw new Error(`a non-finite model input ${v} from line ${ex.line}`);
      }
    }
  } catch (e) {
    if (!(e instanceof DataError)) throw e;
    expect(e.message).toMatch(/^d\.data(:\d+)?[: ]/);
  }
}

describe("fuzzing data files", () => {
  const cases: [string, DataSeed, (f: string) => string][] = [
    ["text CSV", { bytes: head("specs/data/reviews.csv", 60), format: "csv" }, (f) => TEXT_DATA(f, "csv")],
    ["text JSONL", { bytes: head("specs/data/relations.jsonl", 60), format: "jsonl" }, (f) => TEXT_DATA(f, "jsonl")],
    ["series CSV", { bytes: head("node_modules/vega-datasets/data/seattle-weather.csv", 80), format: "csv" }, SERIES_DATA],
  ];
  it.each(cases)(`mutated %s files are read or refused with a located error (${RUNS} cases)`, async (_name, seed, spec) => {
    const file = join(dir, `d.${seed.format}`);
    const config = await dataConfig(spec(file));
    await readsOrLocates(config, file, seed.bytes); // the seed itself reads
    await fc.assert(
      fc.asyncProperty(mutatedData(seed), (bytes) => readsOrLocates(config, file, bytes)),
      { numRuns: RUNS, seed: SEED },
    );
  });
});

describe("fuzzing prediction requests", () => {
  const runs = join(dir, "runs");
  beforeAll(async () => {
    mkdirSync(runs);
    for (const [name, text] of [
      ["text", TEXT_DATA(join(process.cwd(), "specs/data/reviews.csv"), "csv")],
      ["series", SERIES_DATA(join(process.cwd(), "node_modules/vega-datasets/data/seattle-weather.csv"))],
    ] as const) {
      writeFileSync(join(dir, `${name}.attn`), text.replace("loss:", "epochs: 1\n  loss:"));
      const r = await attnc("train", join(dir, `${name}.attn`), "--out", join(runs, name), "--allow-outside", "--threads", "1");
      expect(r.code, r.err).toBe(0);
    }
  }, 120_000);

  const requests: [string, Record<string, unknown>[]][] = [
    ["text", [{ text: "the kettle is very poor" }, { review: "really good phone" }, { ids: [2, 3, 4] }]],
    [
      "series",
      [
        {
          window: [
            [10, 5, 0, 3],
            [11, 6, 0.5, 2],
            [12, 5, 0, 4],
            [9, 4, 2, 5],
            [10, 5, 0, 3],
          ],
        },
      ],
    ],
  ];
  it.each(requests)(`mutated requests to a %s model get an answer or a located refusal (${Math.ceil(RUNS / 3)} cases)`, async (name, valid) => {
    const input = join(dir, `${name}.jsonl`);
    await fc.assert(
      fc.asyncProperty(mutatedRequest(valid), async (line) => {
        writeFileSync(input, `${line}\n`);
        const r = await attnc("predict", join(runs, name), "--input", input, "--allow-outside");
        expect([0, 1, 2], r.err).toContain(r.code);
        expect(r.err).not.toMatch(/internal error|\n\s+at /);
        if (r.code === 0) {
          const answers = r.out
            .trim()
            .split("\n")
            .map((l) => JSON.parse(l) as Record<string, unknown>);
          expect(answers).toHaveLength(1);
          const numbers = JSON.stringify(answers[0]).match(/-?\d[\d.e+-]*|null/g) ?? [];
          expect(numbers).not.toContain("null"); // a NaN or an infinity became null in JSON
        } else expect(r.err).toMatch(/\.jsonl:\d+: /); // a mutation may put a line break into the line
      }),
      { numRuns: Math.ceil(RUNS / 3), seed: SEED + 1 },
    );
  });
});
