import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../../src/runtime/backend.js";
import { AttentionPool, Lstm, Reduce, registerLayers } from "../../src/runtime/layers.js";
import { naiveAttentionPool, naiveFeatureLstm, naiveTemporalLstm, naiveZhouPool } from "./reference.js";

const maxDiff = (a: tf.Tensor, b: tf.Tensor) => {
  expect(a.shape).toEqual(b.shape);
  return tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!;
};
const B = 3;
const T = 6;
const D = 5;
const mask = () => tf.tensor2d([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [1, 1, 0, 0, 0, 0]]);
const seq = (seed: number, d = D) => tf.randomNormal([B, T, d], 0, 1, "float32", seed) as tf.Tensor3D;

describe.each(["wasm", "cpu"] as const)("attention layers on %s", (backend) => {
  beforeAll(async () => {
    await selectBackend(backend);
    registerLayers();
  });

  it.each([false, true])("additive attention_pool equals the direct formula (masked %s); weights sum to 1 and are exactly 0 where masked", (masked) => {
    const layer = new AttentionPool({ units: 4, seed: 3 });
    const h = seq(1);
    const m = masked ? mask() : null;
    const [c, alpha] = layer.apply(h, m ? { mask: m } : {}) as tf.Tensor[];
    const [W, b, v] = layer.getWeights() as [tf.Tensor2D, tf.Tensor1D, tf.Tensor1D];
    const [ec, ea] = naiveAttentionPool(h, W, b, v, m);
    expect(maxDiff(c!, ec)).toBeLessThan(1e-5);
    expect(maxDiff(alpha!, ea)).toBeLessThan(1e-5);
    const a = alpha!.arraySync() as number[][];
    a.forEach((row) => expect(row.reduce((s, x) => s + x, 0)).toBeCloseTo(1, 5));
    if (m) {
      expect(a[1]!.slice(3)).toEqual([0, 0, 0]);
      expect(a[2]!.slice(2)).toEqual([0, 0, 0, 0]);
    }
  });

  it("zhou attention_pool equals e_t = w . tanh(h_t), output tanh(sum alpha h)", () => {
    const layer = new AttentionPool({ score: "zhou", seed: 4 });
    const h = seq(2);
    const m = mask();
    const [c, alpha] = layer.apply(h, { mask: m }) as tf.Tensor[];
    const [w] = layer.getWeights() as [tf.Tensor1D];
    const [ec, ea] = naiveZhouPool(h, w, m);
    expect(maxDiff(c!, ec)).toBeLessThan(1e-5);
    expect(maxDiff(alpha!, ea)).toBeLessThan(1e-5);
  });

  it("temporal input attention equals the seed's formula step by step", () => {
    const layer = new Lstm({ units: 4, inputAttention: { kind: "temporal", units: 3 }, seed: 5 });
    const x = seq(3, 2);
    layer.apply(x); // builds
    // A random (not zero) attention bias, so that the test exercises every term.
    layer.setWeights(layer.getWeights().map((w, i) => (i === 5 ? tf.randomNormal([3], 0, 1, "float32", 9) : w)));
    const [h, a] = layer.apply(x) as tf.Tensor[];
    const [W, U, b, Wh, Wx, ba, v] = layer.getWeights() as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor1D];
    expect(tf.sum(tf.abs(ba)).dataSync()[0]).toBeGreaterThan(0);
    const [eh, ea] = naiveTemporalLstm(x, W, U, b, Wh, Wx, ba, v);
    expect(a!.shape).toEqual([B, T, T]);
    expect(maxDiff(h!, eh)).toBeLessThan(1e-5);
    expect(maxDiff(a!, ea)).toBeLessThan(1e-5);
  });

  it("feature input attention (DA-RNN) equals its formula step by step", () => {
    const layer = new Lstm({ units: 4, inputAttention: { kind: "features", units: 3 }, seed: 6 });
    const x = seq(4, 3);
    const [h, a] = layer.apply(x) as tf.Tensor[];
    const [W, U, b, We, Ue, v] = layer.getWeights() as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor2D, tf.Tensor2D, tf.Tensor1D];
    const [eh, ea] = naiveFeatureLstm(x, W, U, b, We, Ue, v);
    expect(a!.shape).toEqual([B, T, 3]);
    expect(maxDiff(h!, eh)).toBeLessThan(1e-5);
    expect(maxDiff(a!, ea)).toBeLessThan(1e-5);
    (a!.arraySync() as number[][][]).flat().forEach((row) => expect(row.reduce((s, x) => s + x, 0)).toBeCloseTo(1, 5));
  });

  it("last, mean_pool and max_pool respect the mask (last = last unmasked step)", () => {
    const h = seq(5);
    const m = mask();
    const hs = h.arraySync();
    const last = (new Reduce({ mode: "last" }).apply(h, { mask: m }) as tf.Tensor).arraySync() as number[][];
    expect(last[0]).toEqual(hs[0]![5]);
    expect(last[1]).toEqual(hs[1]![2]);
    expect(last[2]).toEqual(hs[2]![1]);
    const mean = (new Reduce({ mode: "mean" }).apply(h, { mask: m }) as tf.Tensor).arraySync() as number[][];
    mean[1]!.forEach((v, d) => expect(v).toBeCloseTo((hs[1]![0]![d]! + hs[1]![1]![d]! + hs[1]![2]![d]!) / 3, 5));
    const max = (new Reduce({ mode: "max" }).apply(h, { mask: m }) as tf.Tensor).arraySync() as number[][];
    max[2]!.forEach((v, d) => expect(v).toBeCloseTo(Math.max(hs[2]![0]![d]!, hs[2]![1]![d]!), 5));
  });
});
