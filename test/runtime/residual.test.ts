/**
 * `predict residual`: the model forecasts each output's difference from a linear forecast of its window. The
 * linear forecast is the linear baseline (ridge regression on the scaled windows, fitted on the training windows,
 * its L2 weight chosen on the validation windows) folded into the data's units; the targets back in the data's
 * units are the data; the residuals are scaled by their own training statistics.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { baselineAdvice, baselineReports } from "../../src/runtime/baselines.js";
import { examples, fit, deltaApplies, type DataConfig, type Example } from "../../src/runtime/data.js";
import { linearForecast, outputBases, outputCount, unscaleOutputs, type SeriesPrep } from "../../src/runtime/prep.js";
import { fitRidge, ridgePredict } from "../../src/runtime/ridge.js";
import { compile } from "../../src/compile.js";

const dir = mkdtempSync(join(tmpdir(), "attnc-residual-"));
// A trend, a cycle of 7 and a little deterministic noise; a second column that leads the first by one row.
const path = join(dir, "s.csv");
const y = (r: number) => 20 + 0.05 * r + 3 * Math.sin((2 * Math.PI * r) / 7) + 0.3 * Math.sin(r * r);
const z = (r: number) => 5 + Math.cos(r / 3);
writeFileSync(path, `y,z\n${Array.from({ length: 300 }, (_, r) => `${y(r).toFixed(4)},${z(r).toFixed(4)}`).join("\n")}\n`);
const file = { path, display: "s.csv" };

function config(window: Partial<NonNullable<DataConfig["window"]>>, target: string | string[] = "y", scale: DataConfig["scale"] = "standard"): DataConfig {
  return {
    source: { kind: "csv", path, features: ["y", "z"], target },
    window: { size: 8, horizon: 1, stride: 1, ...window },
    split: { order: "chronological", train: 0.7, validation: 0.15, test: 0.15, seed: 0 },
    scale,
  };
}

async function collect(g: AsyncIterable<Example>): Promise<Example[]> {
  const out: Example[] = [];
  for await (const e of g) out.push(e);
  return out;
}

describe("predict residual", () => {
  it("adds the model's output to the linear baseline of predict delta: the same forecasts, folded into the data's units", async () => {
    const delta = (await fit(config({ predict: "delta" }), file)) as SeriesPrep;
    const residual = (await fit(config({ predict: "residual" }), file)) as SeriesPrep;
    expect(residual.predict).toBe("residual");
    expect(residual.linear!.weights).toHaveLength(8 * 2 + 1);
    // The ridge of the change, fitted as the linear baseline fits it, then the window's last value added back.
    const ridge = (await fitRidge(examples(config({ predict: "delta" }), delta, file, "train"), () =>
      examples(config({ predict: "delta" }), delta, file, "validation"),
    ))!;
    expect(residual.linear!.lambda).toBe(ridge.lambda);
    const deltaTest = await collect(examples(config({ predict: "delta" }), delta, file, "test"));
    const test = await collect(examples(config({ predict: "residual" }), residual, file, "test"));
    expect(test).toHaveLength(deltaTest.length);
    test.forEach((e, i) => {
      const d = deltaTest[i]!;
      expect(Array.from(e.x)).toEqual(Array.from(d.x));
      const viaDelta = unscaleOutputs(delta, [ridgePredict(ridge.weights, d.x, 0)], d.base)[0]!;
      // The last value comes back from its scaled input (float32): equal to within float32 rounding of it.
      expect(e.base[0]!).toBeCloseTo(viaDelta, 4);
      expect(linearForecast(residual.linear!, e.x, 0)).toBe(e.base[0]);
      // The scaled residual back in the data's units is the target.
      expect(unscaleOutputs(residual, e.y, e.base)[0]!).toBeCloseTo(unscaleOutputs(delta, d.y, d.base)[0]!, 4);
    });
    // evaluate's linear baseline of the residual model is its own linear forecast, and scores as the delta model's.
    const [r, d] = await Promise.all([
      baselineReports(config({ predict: "residual" }), residual, file, "test", null),
      baselineReports(config({ predict: "delta" }), delta, file, "test", null),
    ]);
    expect(r.reports["linear"]!.rmse).toBeCloseTo(d.reports["linear"]!.rmse, 4);
    expect(r.reports["linear"]!.lambda).toBe(d.reports["linear"]!.lambda);
  });

  it("scales each residual by its own training statistics (standard: mean 0, deviation 1 on the training windows)", async () => {
    const prep = (await fit(config({ predict: "residual" }), file)) as SeriesPrep;
    const train = await collect(examples(config({ predict: "residual" }), prep, file, "train"));
    const ys = train.map((e) => e.y[0]!);
    const mean = ys.reduce((s, v) => s + v, 0) / ys.length;
    const sd = Math.sqrt(ys.reduce((s, v) => s + (v - mean) ** 2, 0) / ys.length);
    expect(mean).toBeCloseTo(0, 5);
    expect(sd).toBeCloseTo(1, 4);
    // The residuals of a ridge fit are much smaller than the change they leave: the network starts near the linear forecast.
    const delta = (await fit(config({ predict: "delta" }), file)) as SeriesPrep;
    expect(prep.targetScale as number).toBeLessThan(0.5 * (delta.targetScale as number));
    // A model that outputs the scaled offset's zero forecasts the linear forecast plus the training residuals' mean.
    const e = train[0]!;
    expect(unscaleOutputs(prep, [0], e.base)[0]).toBeCloseTo(e.base[0]! + (prep.targetOffset as number), 12);
  });

  it("fits the value when a target is not a feature, and every output of steps all with two targets", async () => {
    const c = { ...config({ predict: "residual" }), source: { kind: "csv" as const, path, features: ["z"], target: "y" } };
    expect(deltaApplies(["y"], ["z"], 1)).toBe(false);
    const value = (await fit(c, file)) as SeriesPrep;
    expect(value.linear!.weights).toHaveLength(8 + 1);
    for (const e of await collect(examples(c, value, file, "test"))) expect(unscaleOutputs(value, e.y, e.base)[0]).toBeCloseTo(y(e.line - 2), 3);

    const two = config({ predict: "residual", horizon: 3, steps: "all" }, ["y", "z"], "minmax");
    const prep = (await fit(two, file)) as SeriesPrep;
    expect(outputCount(prep)).toBe(6);
    expect(prep.linear!.weights).toHaveLength(6 * (8 * 2 + 1));
    expect(prep.targetOffset).toHaveLength(6);
    const [first] = await collect(examples(two, prep, file, "train"));
    expect(first!.base).toEqual(outputBases(prep, first!.x, () => Number.NaN));
    // Output o = (s - 1) * 2 + k is target k at step s after the window's last row (line = row + 2).
    const end = first!.line - 2 - 3;
    const truth = [1, 2, 3].flatMap((s) => [y(end + s), z(end + s)]);
    unscaleOutputs(prep, first!.y, first!.base).forEach((v, o) => expect(v).toBeCloseTo(truth[o]!, 3));
  });

  it("fits inputs far from unit scale (scale none, values near 1e14, two equal columns): lambdas relative to X^T X's diagonal", async () => {
    const big = join(dir, "big.csv");
    writeFileSync(big, `a,b,c\n${Array.from({ length: 120 }, (_, r) => `1e14,${1e14 + (r % 3)},${1e14 + (r % 3)}`).join("\n")}\n`);
    const c: DataConfig = {
      source: { kind: "csv", path: big, features: ["a", "b", "c"], target: "a" },
      window: { size: 5, horizon: 1, stride: 1, predict: "residual" },
      split: { order: "chronological", train: 0.7, validation: 0.15, test: 0.15, seed: 0 },
      scale: "none",
    };
    const prep = (await fit(c, { path: big, display: "big.csv" })) as SeriesPrep;
    expect(prep.linear!.lambda).toBeGreaterThan(1e20);
    expect(prep.linear!.weights.every(Number.isFinite)).toBe(true);
    // The target is constant: the linear forecast is that constant (its change is 0), to within the float32
    // rounding of the unscaled inputs it reads (1e14 is 100000000376832 in float32).
    const [e] = await collect(examples(c, prep, { path: big, display: "big.csv" }, "test"));
    expect(Math.abs(e!.base[0]! - 1e14) / 1e14).toBeLessThan(1e-6);
  });

  it("says when the training split has no windows to fit the linear forecast on", async () => {
    const short = join(dir, "short.csv");
    writeFileSync(short, `y,z\n${Array.from({ length: 12 }, (_, r) => `${r},${r % 2}`).join("\n")}\n`);
    const c = { ...config({ predict: "residual", size: 10 }), source: { kind: "csv" as const, path: short, features: ["y", "z"], target: "y" } };
    await expect(fit(c, { path: short, display: "short.csv" })).rejects.toThrow(
      /the training split has no windows \(a window and its horizon need 11 rows\), so predict residual has nothing to fit its linear forecast on/,
    );
  });

  it("is suggested when a forecaster loses to the linear baseline, where the window is small enough for a linear forecast", async () => {
    const delta = (await fit(config({ predict: "delta" }), file)) as SeriesPrep;
    expect(baselineAdvice(delta, ["persistence", "linear"])).toContain("predict residual");
    expect(baselineAdvice(delta, ["persistence"])).not.toContain("predict residual");
    const residual = (await fit(config({ predict: "residual" }), file)) as SeriesPrep;
    expect(baselineAdvice(residual, ["linear"])).not.toContain("predict residual");
  });

  it("is refused by check where the window has more inputs than the linear forecast is fitted on (ATN4025)", async () => {
    const spec = (size: number) => `model W {
  input w: float[T, F]
  w -> lstm(4) -> last -> dense(1)
}
data W {
  source: csv("s.csv", features: ["y", "z"], target: "y")
  window: ${size}, horizon 1, predict residual
}
train W { loss: mse }
`;
    const wide = await compile({ name: "w.attn", text: spec(257) });
    expect(wide.ok).toBe(false);
    const d = wide.diagnostics.find((x) => x.code === "ATN4025");
    expect(d?.message).toMatch(/at most 512 inputs; this window has 514 \(257 steps x 2 features\)/);
    expect(d?.span.line).toBe(7);
    expect((await compile({ name: "w.attn", text: spec(256) })).ok).toBe(true);
  });
});
