/**
 * Every loss the language offers trains on every backend here (wasm and cpu): a few optimizer steps on a tiny
 * model give finite losses, non-zero finite gradients and a falling loss. Huber equals its definition.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../src/compile.js";
import { buildModel } from "../../src/engine/build-model.js";
import { LOSSES } from "../../src/ir/signatures.js";
import { selectBackend } from "../../src/runtime/backend.js";
import { registerKernels } from "../../src/runtime/kernels.js";
import { registerLayers } from "../../src/runtime/layers.js";
import { batchGradients, lossOf, makeOptimizer, type TrainConfig } from "../../src/runtime/train.js";
import { attnc } from "../in-process.js";

type Loss = TrainConfig["loss"];

/** The model each loss trains: class probabilities for cross_entropy (softmax and sigmoid), a value otherwise. */
function headsFor(loss: Loss): { head: string; kind: "text" | "series"; classes: number }[] {
  if (loss === "cross_entropy") {
    return [
      { head: "dense(3, activation: softmax)", kind: "text", classes: 3 },
      { head: "dense(1, activation: sigmoid)", kind: "text", classes: 2 },
    ];
  }
  return [{ head: "dense(1)", kind: "series", classes: 0 }];
}

const CASES = LOSSES.flatMap((loss) => headsFor(loss).map((h) => ({ loss, ...h, title: `${loss} with ${h.head}` })));

/** Huber with delta 1, written out: 0.5 e^2 where |e| <= 1, |e| - 0.5 elsewhere; the mean over examples. */
function huberByDefinition(pred: number[], y: number[]): number {
  const terms = pred.map((p, i) => {
    const e = p - y[i]!;
    return Math.abs(e) <= 1 ? 0.5 * e * e : Math.abs(e) - 0.5;
  });
  return terms.reduce((s, v) => s + v, 0) / terms.length;
}

describe.each(["wasm", "cpu"] as const)("losses on %s", (backend) => {
  beforeAll(async () => {
    await selectBackend(backend);
    registerLayers();
    registerKernels();
  });

  it("the cases cover every loss the language has", () => {
    expect(new Set(CASES.map((c) => c.loss))).toEqual(new Set(LOSSES));
  });

  it.each(CASES)("$title trains: finite losses, non-zero gradients, the loss falls", async ({ loss, head, kind, classes }) => {
    const r = await compile({ name: "loss.attn", text: `model M {\n  input x: float[T = 4, F = 2]\n  x -> lstm(6) -> last -> ${head}\n}\n` });
    expect(r.ok).toBe(true);
    const model = buildModel(r.models[0]!, 3);
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const x = tf.randomNormal([16, 4, 2], 0, 1, "float32", 5);
    // Targets a learnable function of x; for regression large enough that huber's linear part is used.
    const signal = tf.sum(x, [1, 2]);
    const y =
      kind === "text"
        ? classes === 2
          ? tf.greater(signal, 0).toInt()
          : tf.clipByValue(tf.floor(tf.add(tf.div(signal, 2), 1)), 0, 2).toInt()
        : tf.mul(signal, 0.8);
    const optimizer = makeOptimizer({ kind: "adam", lr: 0.05, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 });
    const losses: number[] = [];
    for (let step = 0; step < 12; step++) {
      const { loss: value, grads } = batchGradients(model, vars, loss, kind, x, y);
      losses.push(value);
      const norms = Object.values(grads).map((g) => tf.norm(g).dataSync()[0]!);
      expect(norms.every(Number.isFinite), `step ${step}: gradient norms ${norms.join(", ")}`).toBe(true);
      expect(
        norms.reduce((s, n) => s + n, 0),
        `step ${step}`,
      ).toBeGreaterThan(0);
      optimizer.applyGradients(grads);
      tf.dispose(Object.values(grads));
    }
    expect(losses.every(Number.isFinite), losses.join(", ")).toBe(true);
    expect(losses[losses.length - 1]!, losses.join(", ")).toBeLessThan(losses[0]!);
    tf.dispose([x, signal, y]);
    optimizer.dispose();
  });

  it("huber equals its definition, on both sides of |e| = 1, and its gradient is clip(e, -1, 1) / n", () => {
    const pred = [-3, -1.5, -1, -0.4, 0, 0.3, 1, 2.5, 0.999, 1.001];
    const y = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0.1];
    const p = tf.tensor2d(pred, [pred.length, 1]);
    const t = tf.tensor1d(y);
    expect(lossOf("huber", p, t).dataSync()[0]!).toBeCloseTo(huberByDefinition(pred, y), 6);
    const g = tf
      .grad((q: tf.Tensor) => lossOf("huber", q, t))(p)
      .dataSync();
    pred.forEach((v, i) => expect(g[i]!).toBeCloseTo(Math.max(-1, Math.min(1, v - y[i]!)) / pred.length, 6));
    // mse and mae for comparison, so that a loss silently replaced by another would show.
    expect(lossOf("mse", p, t).dataSync()[0]!).toBeCloseTo(pred.reduce((s, v, i) => s + (v - y[i]!) ** 2, 0) / pred.length, 5);
    expect(lossOf("mae", p, t).dataSync()[0]!).toBeCloseTo(pred.reduce((s, v, i) => s + Math.abs(v - y[i]!), 0) / pred.length, 5);
  });

  it("attnc train with loss: huber finishes and reports a finite test loss", async () => {
    const dir = mkdtempSync(join(tmpdir(), "attnc-huber-"));
    const spec = readFileSync("test/fixtures/specs/tiny_series.attn", "utf8")
      .replace("loss: mse", "loss: huber")
      .replace(/csv\("([^"]+)"/, (_, p: string) => `csv(${JSON.stringify(resolve("test/fixtures/specs", p))}`);
    expect(spec).toContain("loss: huber");
    writeFileSync(join(dir, "huber.attn"), spec);
    const r = await attnc(
      "train",
      join(dir, "huber.attn"),
      "--out",
      join(dir, "m"),
      "--allow-outside",
      "--backend",
      backend,
      "--epochs",
      "1",
      "--threads",
      "1",
    );
    expect(r.code, r.err).toBe(0);
    const loss = Number(/test loss ([0-9.]+)/.exec(r.out)?.[1]);
    expect(Number.isFinite(loss)).toBe(true);
  });
});
