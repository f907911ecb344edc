/**
 * Forecasts of several steps (`steps all`) and several targets: the windows and targets built from a small series
 * (values by hand), the scaling per output, the metrics per output, and the baselines per output.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { baselineReports, naiveForecasts } from "../../src/runtime/baselines.js";
import { fitRidge } from "../../src/runtime/ridge.js";
import { batches, examples, fit, type DataConfig, type Example } from "../../src/runtime/data.js";
import { ForecastMetrics } from "../../src/runtime/metrics.js";
import { outputOf, unscaleOutputs, type SeriesPrep } from "../../src/runtime/prep.js";

const dir = mkdtempSync(join(tmpdir(), "attnc-horizons-"));
// Rows r = 0..11: a = r^2, b = 100 - 3r.
const path = join(dir, "s.csv");
writeFileSync(path, `a,b\n${Array.from({ length: 12 }, (_, r) => `${r * r},${100 - 3 * r}`).join("\n")}\n`);
const file = { path, display: "s.csv" };
const a = (r: number) => r * r;
const b = (r: number) => 100 - 3 * r;

function config(over: Partial<NonNullable<DataConfig["window"]>> = {}, scale: DataConfig["scale"] = "none"): DataConfig {
  return {
    source: { kind: "csv", path, features: ["a", "b"], target: ["a", "b"] },
    window: { size: 2, horizon: 2, stride: 1, steps: "all", predict: "delta", ...over },
    split: { order: "chronological", train: 0.5, validation: 0.25, test: 0.25, seed: 0 },
    scale,
  };
}

async function collect<T>(g: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of g) out.push(x);
  return out;
}

describe("windows of steps all and two targets", () => {
  it("give every step's change of each target, step-major, with each output's base (its target's last value)", async () => {
    const c = config();
    const prep = (await fit(c, file)) as SeriesPrep;
    expect(prep.predict).toBe("delta");
    expect(prep.target).toEqual(["a", "b"]);
    expect(prep.steps).toBe("all");
    // Last target rows r = 3..11; training r < 6.
    expect(prep.counts).toEqual({ train: 3, validation: 3, test: 3 });
    expect(prep.targetOffset).toEqual([0, 0, 0, 0]);
    expect(prep.targetScale).toEqual([1, 1, 1, 1]);
    const train = await collect(examples(c, prep, file, "train"));
    expect(train.map((e) => [Array.from(e.x), e.y, e.base, e.line])).toEqual(
      [3, 4, 5].map((r) => {
        const end = r - 2;
        return [
          [a(end - 1), b(end - 1), a(end), b(end)],
          [a(end + 1) - a(end), b(end + 1) - b(end), a(end + 2) - a(end), b(end + 2) - b(end)],
          [a(end), b(end), a(end), b(end)],
          r + 2,
        ];
      }),
    );
    // Back in the data's units, each output is its target's value at its step.
    expect(unscaleOutputs(prep, train[0]!.y, train[0]!.base)).toEqual([a(2), b(2), a(3), b(3)]);
    expect([0, 1, 2, 3].map((o) => outputOf(prep, o))).toEqual([
      { step: 1, target: "a" },
      { step: 1, target: "b" },
      { step: 2, target: "a" },
      { step: 2, target: "b" },
    ]);
    // A batch's targets are [n, S * K].
    const [batch] = await collect(
      batches(
        (async function* (): AsyncGenerator<Example> {
          yield* train;
        })(),
        prep,
        8,
      ),
    );
    expect(batch!.y.shape).toEqual([3, 4]);
    batch!.x.dispose();
    batch!.y.dispose();
  });

  it("scale each output by its own training statistics (delta: the change over its step)", async () => {
    const prep = (await fit(config({}, "standard"), file)) as SeriesPrep;
    // Training rows 0..5. a over 1 step: 1, 3, 5, 7, 9 (mean 5, variance 8); b over 1 step: -3 always (sd 0 -> 1).
    // a over 2 steps: 4, 8, 12, 16 (mean 10, variance 20); b over 2 steps: -6.
    const off = prep.targetOffset as number[];
    const sc = prep.targetScale as number[];
    expect(off.map((v) => +v.toFixed(10))).toEqual([5, -3, 10, -6]);
    expect(sc[0]).toBeCloseTo(Math.sqrt(8), 10);
    expect(sc[1]).toBe(1);
    expect(sc[2]).toBeCloseTo(Math.sqrt(20), 10);
    expect(sc[3]).toBe(1);
    const [first] = await collect(examples(config({}, "standard"), prep, file, "train"));
    expect(first!.y[0]).toBeCloseTo((a(2) - a(1) - 5) / Math.sqrt(8), 6);
    expect(first!.y[2]).toBeCloseTo((a(3) - a(1) - 10) / Math.sqrt(20), 6);
  });

  it("scale a level per target (predict value), the same for every step", async () => {
    const c = config({ predict: "value" }, "standard");
    const prep = (await fit(c, file)) as SeriesPrep;
    const meanA = (0 + 1 + 4 + 9 + 16 + 25) / 6;
    const sdA = Math.sqrt((0 + 1 + 16 + 81 + 256 + 625) / 6 - meanA * meanA);
    const off = prep.targetOffset as number[];
    expect(off[0]).toBeCloseTo(meanA, 10);
    expect(off[1]).toBeCloseTo(92.5, 10);
    expect(off[2]).toBe(off[0]);
    expect(off[3]).toBe(off[1]);
    expect((prep.targetScale as number[])[0]).toBeCloseTo(sdA, 10);
    const [first] = await collect(examples(c, prep, file, "train"));
    expect(first!.base).toEqual([0, 0, 0, 0]);
    expect(first!.y[2]).toBeCloseTo((a(3) - meanA) / sdA, 6);
  });

  it("keep one target and one step in the single form (numbers, not lists)", async () => {
    const c: DataConfig = { ...config({ steps: "last" }), source: { kind: "csv", path, features: ["a", "b"], target: "a" } };
    const prep = (await fit(c, file)) as SeriesPrep;
    expect(prep.target).toBe("a");
    expect(prep.steps).toBeUndefined();
    expect(typeof prep.targetOffset).toBe("number");
    const [first] = await collect(examples(c, prep, file, "train"));
    expect(first!.y).toEqual([a(3) - a(1)]);
    expect(first!.base).toEqual([a(1)]);
  });
});

describe("metrics per output", () => {
  it("give each step and target's figures and all outputs together", () => {
    const m = new ForecastMetrics([
      { step: 1, target: "a" },
      { step: 2, target: "a" },
    ]);
    m.add([1, 2], [2, 2]); // window 1: errors 1, 0
    m.add([4, 4], [4, 1]); // window 2: errors 0, -3
    const r = m.report();
    expect(r.count).toBe(2);
    expect(r.rmse).toBeCloseTo(Math.sqrt((1 + 0 + 0 + 9) / 4), 12);
    expect(r.mae).toBeCloseTo(1, 12);
    expect(r.outputs!.map((o) => [o.step, o.target, +o.rmse.toFixed(12), o.mae, o.count])).toEqual([
      [1, "a", +Math.sqrt(0.5).toFixed(12), 0.5, 2],
      [2, "a", +Math.sqrt(4.5).toFixed(12), 1.5, 2],
    ]);
    // One output: the plain report, without a list.
    const one = new ForecastMetrics([{ step: 1, target: "a" }]);
    one.add([1], [3]);
    expect(one.report()).toEqual({ rmse: 2, mae: 2, mape: 200, count: 1 });
  });
});

describe("baselines per output", () => {
  it("persistence and the seasonal naive forecast of every step and target (numbers by hand)", async () => {
    const c = config();
    const prep = (await fit(c, file)) as SeriesPrep;
    const n = await naiveForecasts(c, prep, file, "test", 2);
    // Test windows end at rows 7, 8, 9. Season 2: j = 1 for steps 1 and 2; mean change over 2 training steps: a 10, b -6.
    expect(n.truth).toEqual([64, 76, 81, 73, 81, 73, 100, 70, 100, 70, 121, 67]);
    expect(n.persistence).toEqual([49, 79, 49, 79, 64, 76, 64, 76, 81, 73, 81, 73]);
    expect(n.seasonal).toEqual([36 + 10, 82 - 6, 49 + 10, 79 - 6, 49 + 10, 79 - 6, 64 + 10, 76 - 6, 64 + 10, 76 - 6, 81 + 10, 73 - 6]);
    const set = await baselineReports(c, prep, file, "test", 2);
    const p = set.reports["persistence"]!;
    expect(p.outputs!.map((o) => [o.step, o.target])).toEqual([
      [1, "a"],
      [1, "b"],
      [2, "a"],
      [2, "b"],
    ]);
    expect(p.outputs![0]!.rmse).toBeCloseTo(Math.sqrt((15 ** 2 + 17 ** 2 + 19 ** 2) / 3), 10);
    expect(p.outputs![3]!.rmse).toBeCloseTo(6, 10);
    expect(set.reports["seasonal_naive"]!.outputs![1]!.rmse).toBe(0); // b is linear: its seasonal naive forecast is exact
    expect(p.count).toBe(3);
    expect(set.reports["linear"]!.outputs).toHaveLength(4);
  });

  it("the linear baseline fits every output at once as it would one by one", async () => {
    const xs = [
      [1, 0],
      [0, 1],
      [1, 1],
      [2, 1],
      [0, 3],
    ];
    const ys = xs.map(([u, v]) => [2 * u! - v! + 1, 0.5 * u! + 3 * v! - 2 + (u! === 2 ? 0.1 : 0)]);
    async function* together() {
      for (let i = 0; i < xs.length; i++) yield { x: xs[i]!, y: ys[i]! };
    }
    async function* only(o: number) {
      for (let i = 0; i < xs.length; i++) yield { x: xs[i]!, y: ys[i]![o]! };
    }
    const both = (await fitRidge(together(), null))!;
    expect(both.outputs).toBe(2);
    for (const o of [0, 1]) {
      const one = (await fitRidge(only(o), null))!;
      expect(Array.from(both.weights.subarray(o * 3, o * 3 + 3)).map((w) => +w.toFixed(9))).toEqual(Array.from(one.weights).map((w) => +w.toFixed(9)));
    }
  });
});
