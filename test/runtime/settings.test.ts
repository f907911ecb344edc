/**
 * The data and train settings are declared once (src/runtime/settings.ts): the compiler fills defaults from the
 * tables, the runtime reads the types derived from them. These tests tie the two: the runtime's filling of a
 * compiled block changes nothing, the computed defaults say what the tables' docs say, and the derived types
 * are those the runtime code relies on.
 */
import { readFileSync } from "node:fs";
import { describe, expect, expectTypeOf, it } from "vitest";
import { compile } from "../../src/compile.js";
import type { DataConfig } from "../../src/runtime/data.js";
import {
  DATA_SETTINGS,
  defaultOptimizer,
  defaultPredict,
  defaultSplit,
  OPTIMIZER,
  seriesScale,
  TRAIN_SETTINGS,
  withDefaults,
} from "../../src/runtime/settings.js";
import type { TrainConfig } from "../../src/runtime/train.js";

const SPECS = [
  "specs/att_blstm.attn",
  "specs/darnn.attn",
  "specs/forecast.attn",
  "specs/sentiment.attn",
  "specs/stacked.attn",
  "examples/co2/co2.attn",
  "examples/hourly/hourly.attn",
  "examples/spam/spam.attn",
  "examples/weather/weather.attn",
];

describe("settings declared once", () => {
  it("the runtime's defaults add nothing to a compiled data or train block", async () => {
    let blocks = 0;
    for (const path of SPECS) {
      const r = await compile({ name: path, text: readFileSync(path, "utf8") });
      expect(r.ok, path).toBe(true);
      for (const m of r.models) {
        if (m.data) {
          // A text block leaves scale out on purpose (seriesScale); everything else is already filled.
          const { scale: _scale, ...filled } = withDefaults(structuredClone(m.data), DATA_SETTINGS);
          const { scale: _s, ...compiled } = m.data;
          expect(filled, `${path} ${m.model} data`).toEqual(compiled);
          blocks++;
        }
        if (m.train) {
          expect(withDefaults(structuredClone(m.train), TRAIN_SETTINGS), `${path} ${m.model} train`).toEqual(m.train);
          blocks++;
        }
      }
    }
    expect(blocks).toBeGreaterThanOrEqual(2 * SPECS.length);
  });

  it("fills records and calls by kind, recursively, and leaves given values alone", () => {
    const train = withDefaults({ loss: "mse", optimizer: { kind: "sgd", lr: 0.5 }, early_stop: { monitor: "val_loss" } }, TRAIN_SETTINGS);
    expect(train).toEqual({
      loss: "mse",
      optimizer: { kind: "sgd", lr: 0.5, momentum: 0 },
      early_stop: { monitor: "val_loss", patience: 0, min_delta: 0 },
      batch: 32,
      epochs: 10,
      metrics: [],
      seed: 0,
      shuffle: true,
    });
    // A list default is a fresh list each time, not one shared array.
    const a = withDefaults<{ loss: string; metrics?: string[] }>({ loss: "mse" }, TRAIN_SETTINGS);
    const b = withDefaults<{ loss: string; metrics?: string[] }>({ loss: "mse" }, TRAIN_SETTINGS);
    a.metrics!.push("rmse");
    expect(b.metrics).toEqual([]);
    // An unknown call kind is left as written (the compiler reports it; nothing to fill).
    expect(withDefaults({ optimizer: { kind: "lbfgs" } }, TRAIN_SETTINGS)).toMatchObject({ optimizer: { kind: "lbfgs" } });
    // Own properties only: a name on Object.prototype is not a given value.
    expect(withDefaults(JSON.parse('{"loss":"mse","__proto__":{"batch":7}}') as object, TRAIN_SETTINGS)).toMatchObject({ batch: 32 });
  });

  it("computed defaults say what the tables' docs say", () => {
    const split = DATA_SETTINGS.params.split;
    expect(split.doc).toContain("train 0.8, validation 0.1, test 0.1");
    expect(defaultSplit(true)).toEqual({ order: "chronological", train: 0.8, validation: 0.1, test: 0.1, seed: 0 });
    expect(defaultSplit(false).order).toBe("shuffled");
    expect(defaultOptimizer()).toEqual({ kind: "adam", lr: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 });
    expect(defaultOptimizer()).toEqual(withDefaults({ kind: "adam" }, OPTIMIZER.calls.adam));
    expect(defaultPredict(true, 1, 512)).toBe("residual");
    expect(defaultPredict(false, 3, 24)).toBe("residual");
    expect(defaultPredict(true, 1, 513)).toBe("delta");
    expect(defaultPredict(true, 0, 24)).toBe("value");
    expect(defaultPredict(false, 3, 513)).toBe("value");
    expect(DATA_SETTINGS.params.window.record.params.predict.doc).toContain(
      "default residual when the horizon is 1 or more and the window has at most 512 inputs",
    );
    expect(seriesScale({ source: { kind: "csv", path: "x" } })).toBe(DATA_SETTINGS.params.scale.default);
    expect(seriesScale({ source: { kind: "csv", path: "x" }, scale: "none" })).toBe("none");
  });

  it("the runtime's configuration types come from the tables", () => {
    expectTypeOf<TrainConfig["loss"]>().toEqualTypeOf<"cross_entropy" | "mse" | "mae" | "huber">();
    expectTypeOf<TrainConfig["batch"]>().toEqualTypeOf<number>();
    expectTypeOf<NonNullable<TrainConfig["optimizer"]>["kind"]>().toEqualTypeOf<"adam" | "sgd" | "rmsprop">();
    expectTypeOf<Extract<NonNullable<TrainConfig["optimizer"]>, { kind: "adam" }>["beta1"]>().toEqualTypeOf<number>();
    expectTypeOf<NonNullable<DataConfig["window"]>["predict"]>().toEqualTypeOf<"value" | "delta" | "residual" | undefined>();
    expectTypeOf<NonNullable<DataConfig["window"]>["horizon"]>().toEqualTypeOf<number>();
    expectTypeOf<DataConfig["source"]["kind"]>().toEqualTypeOf<"csv" | "jsonl">();
    expectTypeOf<NonNullable<DataConfig["calendar"]>>().toEqualTypeOf<("hour" | "weekday" | "yearday" | "month")[]>();
  });
});
