import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { baselineAdvice, baselineReports, naiveForecasts, seasonFromTime, seasonOfStep } from "../../src/runtime/baselines.js";
import { choleskySolve, fitRidge, RIDGE_DEFAULT_LAMBDA, RIDGE_LAMBDAS } from "../../src/runtime/ridge.js";
import { fit, type DataConfig } from "../../src/runtime/data.js";
import { type SeriesPrep } from "../../src/runtime/prep.js";
import { mapeDefined, mapeText, RegressionMetrics } from "../../src/runtime/metrics.js";

const dir = mkdtempSync(join(tmpdir(), "attnc-baselines-"));
function file(name: string, text: string): { path: string; display: string } {
  const path = join(dir, name);
  writeFileSync(path, text);
  return { path, display: name };
}

async function* pairs(list: { x: number[]; y: number }[]): AsyncGenerator<{ x: number[]; y: number }> {
  yield* list;
}

describe("Cholesky solve", () => {
  it("solves a symmetric positive definite system given by its upper triangle", () => {
    // A = [[4, 2, 0], [2, 5, 1], [0, 1, 3]], x = [1, -2, 3] gives b = A x = [0, -5, 7].
    const a = Float64Array.from([4, 2, 0, NaN, 5, 1, NaN, NaN, 3]); // the lower triangle is never read
    const x = choleskySolve(a, new Float64Array(3), Float64Array.from([0, -5, 7]), 3)!;
    expect(Array.from(x).map((v) => Number(v.toFixed(12)))).toEqual([1, -2, 3]);
  });

  it("says so when the matrix is not positive definite", () => {
    expect(choleskySolve(Float64Array.from([1, 2, 0, 1]), new Float64Array(2), Float64Array.from([1, 1]), 2)).toBeNull();
  });
});

describe("ridge regression", () => {
  it("chooses the L2 weight with the lowest validation RMSE", async () => {
    const train = [-2, -1, 1, 2].map((v) => ({ x: [v], y: v }));
    // Validation where y = x: the least shrinkage wins; where y = 0: the most.
    const same = await fitRidge(pairs(train), () => pairs([-1.5, 0.5, 1.5].map((v) => ({ x: [v], y: v }))));
    expect(same!.lambda).toBe(RIDGE_LAMBDAS[0]);
    expect(same!.weights[0]).toBeCloseTo(1, 3);
    const zero = await fitRidge(pairs(train), () => pairs([-1.5, 0.5, 1.5].map((v) => ({ x: [v], y: 0 }))));
    expect(zero!.lambda).toBe(RIDGE_LAMBDAS[RIDGE_LAMBDAS.length - 1]);
    expect(Math.abs(zero!.weights[0]!)).toBeLessThan(0.01);
    // Each lambda was scored, and the chosen one has the lowest score.
    expect(zero!.tried.map((t) => t.lambda)).toEqual([...RIDGE_LAMBDAS]);
    expect(Math.min(...zero!.tried.map((t) => t.rmse))).toBe(zero!.tried.find((t) => t.lambda === zero!.lambda)!.rmse);
  });

  it("uses the documented L2 weight without validation pairs, and gives nothing without training pairs", async () => {
    const r = await fitRidge(pairs([1, 2, 3].map((v) => ({ x: [v], y: 2 * v + 1 }))), null);
    expect(r!.lambda).toBe(RIDGE_DEFAULT_LAMBDA);
    expect(r!.tried).toEqual([]);
    expect(await fitRidge(pairs([]), null)).toBeNull();
  });

  it("recovers a linear series: test RMSE about 0", async () => {
    // y_r is a linear function of the features one step before (the window's last step, horizon 1), and not itself a feature.
    const a = Array.from({ length: 300 }, (_, i) => Number((Math.sin(i * 0.7) * 3).toFixed(6)));
    const b = Array.from({ length: 300 }, (_, i) => Number((Math.cos(i * 1.3) + i * 0.01).toFixed(6)));
    let text = "t,a,b,y\n";
    for (let i = 0; i < 300; i++) text += `${i},${a[i]},${b[i]},${i > 0 ? 2 * a[i - 1]! - 3 * b[i - 1]! + 0.5 : 0}\n`;
    const f = file("linear.csv", text);
    const config: DataConfig = {
      source: { kind: "csv", path: f.path, features: ["a", "b"], target: "y" },
      window: { size: 3, horizon: 1, stride: 1, predict: "value" },
      split: { order: "chronological", train: 0.7, validation: 0.15, test: 0.15, seed: 0 },
    };
    const prep = (await fit(config, f)) as SeriesPrep;
    const set = await baselineReports(config, prep, f, "test", null);
    expect(set.reports["linear"]!.count).toBe(prep.counts.test);
    expect(set.reports["linear"]!.rmse).toBeLessThan(1e-3);
    expect(set.reports["linear"]!.lambda).toBe(RIDGE_LAMBDAS[0]);
    // Persistence is far off on this series, and without a season the seasonal forecast is left out with a note.
    expect(set.reports["persistence"]!.rmse).toBeGreaterThan(1);
    expect(set.reports["seasonal_naive"]).toBeUndefined();
    expect(set.notes.join(" ")).toContain("seasonal naive left out: no season");
  });
});

describe("persistence and seasonal naive", () => {
  // y: 1 2 4 7 11 16 22 29 37 46; rows 0-5 train, 6-7 validation, 8-9 test; window 2, horizon 1.
  const ys = [1, 2, 4, 7, 11, 16, 22, 29, 37, 46];
  const f = file("tiny.csv", `x,y\n${ys.map((y, i) => `${i % 3},${y}`).join("\n")}\n`);
  const config: DataConfig = {
    source: { kind: "csv", path: f.path, features: ["x"], target: "y" },
    window: { size: 2, horizon: 1, stride: 1 },
    split: { order: "chronological", train: 0.6, validation: 0.2, test: 0.2, seed: 0 },
  };

  it("are the numbers computed by hand on a tiny CSV (the target not a feature)", async () => {
    const prep = (await fit(config, f)) as SeriesPrep;
    expect(prep.counts).toEqual({ train: 4, validation: 2, test: 2 });
    const n = await naiveForecasts(config, prep, f, "test", 2);
    expect(n.truth).toEqual([37, 46]);
    // Persistence: the target at the window's last step.
    expect(n.persistence).toEqual([29, 37]);
    // Mean change over 2 steps on training rows 2-5: (3 + 5 + 7 + 9) / 4 = 6; y_{r-2} + 6.
    expect(n.seasonal).toEqual([22 + 6, 29 + 6]);
    const set = await baselineReports(config, prep, f, "test", 2);
    expect(set.reports["persistence"]!.rmse).toBeCloseTo(Math.sqrt((8 * 8 + 9 * 9) / 2), 10);
    expect(set.reports["persistence"]!.mae).toBeCloseTo(8.5, 10);
    expect(set.reports["persistence"]!.mape).toBeCloseTo(((8 / 37 + 9 / 46) / 2) * 100, 10);
    expect(set.reports["seasonal_naive"]!.rmse).toBeCloseTo(Math.sqrt((9 * 9 + 11 * 11) / 2), 10);
    expect(set.reports["seasonal_naive"]!.season).toBe(2);
  });

  it("uses persistence for windows too early for the season, and never a value after the window's end", async () => {
    const prep = (await fit(config, f)) as SeriesPrep;
    // Training windows r = 2..5. Season 3: r = 2 is too early (persistence, y_1 = 2); trend (7-1 + 11-2 + 16-4) / 3 = 9.
    const s3 = await naiveForecasts(config, prep, f, "train", 3);
    expect(s3.seasonal).toEqual([2, 1 + 9, 2 + 9, 4 + 9]);
    const h2 = { ...config, window: { size: 2, horizon: 2, stride: 1 } };
    const p2 = (await fit(h2, f)) as SeriesPrep;
    // Horizon 2, season 1: k = 2, so y_{r-2} + 2 * trend (the value at r-1 is after the window's end).
    const s1 = await naiveForecasts(h2, p2, f, "test", 1);
    const trend1 = (2 - 1 + 4 - 2 + 7 - 4 + 11 - 7 + 16 - 11) / 5;
    expect(s1.seasonal).toEqual([22 + 2 * trend1, 29 + 2 * trend1]);
  });
});

describe("the season from the time column", () => {
  const series = (name: string, times: string[]) => {
    const f = file(name, `d,y\n${times.map((t, i) => `${t},${i}`).join("\n")}\n`);
    const config: DataConfig = {
      source: { kind: "csv", path: f.path, time: "d", features: ["y"], target: "y" },
      window: { size: 2, horizon: 1, stride: 1 },
    };
    return { f, config };
  };
  const day = 86_400_000;

  it("names each frequency by the median step", () => {
    expect(seasonOfStep(3_600_000)).toEqual({ period: 24, step: "hourly" });
    expect(seasonOfStep(day)).toEqual({ period: 7, step: "daily" });
    expect(seasonOfStep(7 * day)).toEqual({ period: 52, step: "weekly" });
    expect(seasonOfStep(30.4 * day)).toEqual({ period: 12, step: "monthly" });
    expect(seasonOfStep(91 * day)).toEqual({ period: 4, step: "quarterly" });
    expect(seasonOfStep(365 * day)).toEqual({ period: null, step: "yearly" });
    expect(seasonOfStep(3 * day)).toEqual({ period: null, step: "unknown" });
  });

  it("reads dates from the file: monthly with a gap, hourly, yearly, numbers and no time column", async () => {
    const cases: [string[], number | null, string][] = [
      [["2020-01-01", "2020-02-01", "2020-03-01", "2020-05-01", "2020-06-01", "2020-07-01"], 12, "monthly"],
      [["2020-01-01T00:00:00Z", "2020-01-01T01:00:00Z", "2020-01-01T02:00:00Z", "2020-01-01T03:00:00Z"], 24, "hourly"],
      [["2001-01-01", "2002-01-01", "2003-01-01", "2004-01-01"], null, "yearly"],
      // Plain numbers have no unit: no season.
      [["1", "2", "3", "4"], null, "unknown"],
    ];
    for (const [times, period, step] of cases) {
      const { f, config } = series(`t-${step}.csv`, times);
      const prep = (await fit(config, f)) as SeriesPrep;
      expect(await seasonFromTime(config, prep, f)).toEqual({ period, source: "time", step });
    }
    const { f, config } = series("t-none.csv", ["2020-01-01", "2020-01-02", "2020-01-03", "2020-01-04"]);
    const { time: _time, ...source } = config.source;
    const untimed: DataConfig = { ...config, source };
    const prep = (await fit(untimed, f)) as SeriesPrep;
    expect(await seasonFromTime(untimed, prep, f)).toEqual({ period: null, source: "time", step: "none" });
  });
});

describe("MAPE", () => {
  it("is left out where a true value is 0 or near it, against the split's mean magnitude", () => {
    const m = (truth: number[]) => {
      const r = new RegressionMetrics();
      r.add(
        truth,
        truth.map((t) => t + 1),
      );
      return r.report();
    };
    expect(m([10, 20, 40]).mape).toBeCloseTo(((1 / 10 + 1 / 20 + 1 / 40) / 3) * 100, 10);
    expect(m([10, 0, 40]).mape).toBeUndefined();
    // Global temperature anomalies: one value of 0.00001 against a mean magnitude near 0.3.
    expect(m([0.3, -0.4, 0.00001, 0.5]).mape).toBeUndefined();
    expect(mapeDefined(0.001, 1)).toBe(true);
    expect(mapeDefined(0.000999, 1)).toBe(false);
    expect(mapeText(m([0, 1]))).toBe("MAPE n/a (target near zero)");
    expect(mapeText(m([1, 2]))).toBe("MAPE 75.00%");
  });
});

describe("advice after losing to a baseline", () => {
  const prep = (o: Partial<SeriesPrep>): SeriesPrep =>
    ({ predict: "value", scaling: "standard", horizon: 1, target: "a", features: ["a", "b"], ...o }) as SeriesPrep;
  it("suggests predict delta only where it applies: every target a feature and a horizon of 1 or more", () => {
    expect(baselineAdvice(prep({}), ["persistence"])).toContain("predict delta");
    expect(baselineAdvice(prep({ target: ["a", "b"] }), ["persistence"])).toContain("predict delta");
    expect(baselineAdvice(prep({ target: ["a", "c"] }), ["persistence"])).not.toContain("predict delta");
    expect(baselineAdvice(prep({ target: "c" }), ["persistence"])).not.toContain("predict delta");
    expect(baselineAdvice(prep({ horizon: 0 }), ["persistence"])).not.toContain("predict delta");
    expect(baselineAdvice(prep({ predict: "delta" }), ["persistence"])).not.toContain("predict delta");
  });
});
