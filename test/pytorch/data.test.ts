/**
 * The PyTorch runtime's data block makes the examples attnc makes: the same prep (vocabulary from the training
 * split, labels, scaling, counts) and, split by split, the same encoded inputs and targets (float32 inputs equal
 * as float32, targets within float32 rounding), for a text spec and a series spec with calendar and derived features.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compile } from "../../src/compile.js";
import { examples, fit, type DataConfig } from "../../src/runtime/data.js";
import { SPLITS } from "../../src/runtime/prep.js";
import { runPythonOk } from "./python.js";

interface Encoded {
  prep: Record<string, unknown>;
  examples: Record<string, { x: number[]; y: number | number[]; base: number[]; line: number }[]>;
}

async function compare(specText: string, dataPath: string): Promise<number> {
  const r = await compile({ name: "spec.attn", text: specText });
  expect(r.ok).toBe(true);
  const config = r.models[0]!.data as unknown as DataConfig;
  const file = { path: dataPath, display: "data" };
  const prep = await fit(config, file);
  const py = JSON.parse(runPythonOk(["test/pytorch/encode.py", "src/codegen/pytorch", JSON.stringify(config), dataPath])) as Encoded;
  // A residual model's linear forecast and residual scaling come from a linear solve (numpy's and attnc's): equal
  // to within float64 rounding; everything else exactly.
  const residual = prep.kind === "series" && prep.predict === "residual";
  const close = (a: unknown, b: unknown, what: string, tolerance = 1e-9): void => {
    const [x, y] = [[a].flat(), [b].flat()] as [number[], number[]];
    expect(x.length, what).toBe(y.length);
    x.forEach((v, i) => expect(Math.abs(v - y[i]!), `${what}[${i}]`).toBeLessThanOrEqual(tolerance * Math.max(1, Math.abs(y[i]!))));
  };
  const ours = JSON.parse(JSON.stringify(prep)) as Record<string, unknown>;
  if (residual) {
    const approx = ["linear", "targetOffset", "targetScale"];
    const [lp, lo] = [py.prep["linear"], ours["linear"]] as { lambda: number; weights: number[] }[];
    expect(lp!.lambda).toBe(lo!.lambda);
    close(lp!.weights, lo!.weights, "linear.weights");
    for (const k of approx.slice(1)) close(py.prep[k], ours[k], k);
    for (const k of approx) {
      delete py.prep[k];
      delete ours[k];
    }
  }
  expect(py.prep).toEqual(ours);
  let n = 0;
  for (const split of SPLITS) {
    const ours: Encoded["examples"][string] = [];
    for await (const e of examples(config, prep, file, split)) ours.push({ x: Array.from(e.x), y: e.y.map(Math.fround), base: e.base, line: e.line });
    const theirs = py.examples[split]!;
    expect(theirs.length, split).toBe(ours.length);
    theirs.forEach((t, i) => {
      const o = ours[i]!;
      expect(t.line).toBe(o.line);
      expect(t.x.map(Math.fround)).toEqual(o.x);
      // Python gives a text example's class id as a number, a forecaster's outputs as a list.
      if (residual) {
        // Scaled targets are float32 in both.
        close(t.y, o.y, `${split} y`, 1e-6);
        close(t.base, o.base, `${split} base`);
        return;
      }
      expect((typeof t.y === "number" ? [t.y] : t.y).map(Math.fround)).toEqual(o.y);
      expect(t.base).toEqual(o.base);
    });
    n += ours.length;
  }
  return n;
}

describe("the PyTorch runtime's data block", () => {
  it("encodes a text spec's examples as attnc does (vocabulary, labels, shuffled split)", async () => {
    const spec = readFileSync("specs/sentiment.attn", "utf8");
    expect(await compare(spec, "specs/data/reviews.csv")).toBeGreaterThan(100);
  });

  it("encodes a JSONL text spec with min_count and chars as attnc does", async () => {
    const spec = `model R {
  input tokens: int[T]
  tokens -> embedding(300, 8) -> lstm(4) -> last -> dense(19, activation: softmax)
}
data R {
  source: jsonl("relations.jsonl", text: "sentence", label: "relation")
  tokenizer: chars(max_len: 40, vocab: 300, min_count: 2)
  split: train 0.7, validation 0.2, test 0.1, seed 5
}
train R { loss: cross_entropy }
`;
    expect(await compare(spec, "specs/data/relations.jsonl")).toBeGreaterThan(100);
  });

  it("encodes a series spec's windows as attnc does (calendar, diff, lag, delta target, scaling)", async () => {
    const spec = `model S {
  input w: float[T = 12, F]
  w -> lstm(8) -> last -> dense(1)
}
data S {
  source: csv("co2.csv", time: "Date", features: ["CO2", "CO2_change"], target: "CO2")
  calendar: [month, yearday, weekday]
  derive: [diff("CO2"), lag("CO2_change", 3)]
  window: 12, horizon 2, stride 2
  scale: minmax
  split: chronological train 0.7, validation 0.2, test 0.1
}
train S { loss: mse }
`;
    expect(await compare(spec, "specs/data/co2.csv")).toBeGreaterThan(100);
  });

  it("encodes steps all with two targets as attnc does (every step's outputs, scaling per output, delta per target)", async () => {
    const spec = `model S {
  input w: float[T = 6, F]
  w -> lstm(4) -> last -> dense(8)
}
data S {
  source: csv("co2.csv", time: "Date", features: ["CO2", "CO2_change"], target: ["CO2", "CO2_change"])
  derive: [lag("CO2", 2)]
  window: 6, horizon 4, stride 3, steps all
  split: chronological train 0.7, validation 0.2, test 0.1
}
train S { loss: mse }
`;
    expect(await compare(spec, "specs/data/co2.csv")).toBeGreaterThan(50);
  });

  it("fits a residual model's linear forecast as attnc does (of the change; steps all, two targets, a lag)", async () => {
    const spec = `model S {
  input w: float[T = 6, F]
  w -> lstm(4) -> last -> dense(6)
}
data S {
  source: csv("co2.csv", time: "Date", features: ["CO2", "CO2_change"], target: ["CO2", "CO2_change"])
  derive: [lag("CO2", 2)]
  window: 6, horizon 3, steps all, predict residual
  split: chronological train 0.7, validation 0.2, test 0.1
}
train S { loss: mse }
`;
    expect(await compare(spec, "specs/data/co2.csv")).toBeGreaterThan(100);
  });

  it("fits a residual model's linear forecast of a level as attnc does (target not a feature, minmax, no validation)", async () => {
    const spec = `model S {
  input w: float[T = 5, F]
  w -> lstm(4) -> last -> dense(1)
}
data S {
  source: csv("co2.csv", features: ["CO2_change"], target: "CO2")
  window: 5, horizon 2, predict residual
  scale: minmax
  split: chronological train 0.8, test 0.2
}
train S { loss: mse }
`;
    expect(await compare(spec, "specs/data/co2.csv")).toBeGreaterThan(100);
  });

  it("encodes steps all of one target as a level (predict value, minmax) as attnc does", async () => {
    const spec = `model S {
  input w: float[T = 5, F]
  w -> lstm(4) -> last -> dense(3)
}
data S {
  source: csv("co2.csv", features: ["CO2_change"], target: "CO2")
  window: 5, horizon 3, steps all, predict value
  scale: minmax
  split: chronological train 0.7, validation 0.2, test 0.1
}
train S { loss: mse }
`;
    expect(await compare(spec, "specs/data/co2.csv")).toBeGreaterThan(100);
  });
});
