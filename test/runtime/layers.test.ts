import * as tf from "@tensorflow/tfjs";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
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
const mask = () =>
  tf.tensor2d([
    [1, 1, 1, 1, 1, 1],
    [1, 1, 1, 0, 0, 0],
    [1, 1, 0, 0, 0, 0],
  ]);
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

  it.each([
    ["concat", "none"],
    ["replace", "offset"],
    ["concat", "offset"],
  ] as const)("temporal input attention with feed %s, position %s equals its formula step by step", (feed, position) => {
    const layer = new Lstm({ units: 4, inputAttention: { kind: "temporal", units: 3, feed, position }, seed: 5 });
    const x = seq(3, 2);
    layer.apply(x); // builds
    // W~ and p start at 0 and b_a at 0: random values, so that the test exercises every term.
    layer.setWeights(layer.getWeights().map((w, i) => (i >= 5 && i !== 6 ? tf.randomNormal(w.shape, 0, 1, "float32", 9 + i) : w)));
    const [h, a] = layer.apply(x) as tf.Tensor[];
    const [W, U, b, Wh, Wx, ba, v, ...rest] = layer.getWeights() as [
      tf.Tensor2D,
      tf.Tensor2D,
      tf.Tensor1D,
      tf.Tensor2D,
      tf.Tensor2D,
      tf.Tensor1D,
      tf.Tensor1D,
      ...tf.Tensor[],
    ];
    const feedKernel = feed === "concat" ? (rest.shift() as tf.Tensor2D) : undefined;
    const pos = position === "offset" ? (rest.shift() as tf.Tensor1D) : undefined;
    if (feedKernel) expect(feedKernel.shape).toEqual([2, 16]);
    if (pos) expect(pos.shape).toEqual([2 * T - 1]);
    for (const w of [ba, feedKernel, pos]) if (w) expect(tf.sum(tf.abs(w)).dataSync()[0]).toBeGreaterThan(0);
    const [eh, ea] = naiveTemporalLstm(x, W, U, b, Wh, Wx, ba, v, { ...(feedKernel ? { feedKernel } : {}), ...(pos ? { position: pos } : {}) });
    expect(maxDiff(h!, eh)).toBeLessThan(1e-5);
    expect(maxDiff(a!, ea)).toBeLessThan(1e-5);
  });

  it("temporal input attention with feed concat starts as the plain LSTM of the same seed", () => {
    const x = seq(5, 3);
    const [h] = new Lstm({ units: 4, inputAttention: { kind: "temporal", units: 3, feed: "concat", position: "offset" }, seed: 6 }).apply(x) as tf.Tensor[];
    const plain = new Lstm({ units: 4, seed: 6 }).apply(x) as tf.Tensor;
    expect(maxDiff(h!, plain)).toBeLessThan(1e-6);
  });

  it("feature input attention (DA-RNN) equals its formula step by step", () => {
    const layer = new Lstm({ units: 4, inputAttention: { kind: "features", units: 3 }, seed: 6 });
    const x = seq(4, 3);
    layer.apply(x); // builds
    // A random score vector (it starts at 0), so that the test exercises every term.
    layer.setWeights(layer.getWeights().map((w, i) => (i === 5 ? tf.randomNormal([3], 0, 1, "float32", 9) : w)));
    const [h, a] = layer.apply(x) as tf.Tensor[];
    const [W, U, b, We, Ue, v] = layer.getWeights() as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor2D, tf.Tensor2D, tf.Tensor1D];
    expect(tf.sum(tf.abs(v)).dataSync()[0]).toBeGreaterThan(0);
    const [eh, ea] = naiveFeatureLstm(x, W, U, b, We, Ue, v);
    expect(a!.shape).toEqual([B, T, 3]);
    expect(maxDiff(h!, eh)).toBeLessThan(1e-5);
    expect(maxDiff(a!, ea)).toBeLessThan(1e-5);
    (a!.arraySync() as number[][][]).flat().forEach((row) => expect(row.reduce((s, x) => s + x, 0)).toBeCloseTo(1, 5));
  });

  it("feature input attention starts as the plain LSTM of the same seed: alpha = 1/F, the same outputs", () => {
    const x = seq(5, 3);
    const [h, a] = new Lstm({ units: 4, inputAttention: { kind: "features", units: 3 }, seed: 6 }).apply(x) as tf.Tensor[];
    const plain = new Lstm({ units: 4, seed: 6 }).apply(x) as tf.Tensor;
    expect(maxDiff(h!, plain)).toBeLessThan(1e-5);
    expect(maxDiff(a!, tf.fill([B, T, 3], 1 / 3))).toBeLessThan(1e-6);
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

/**
 * A layer's two outputs, the input's gradient and every weight's gradient, on the whole-sequence kernel path or
 * (ops) the op-based path, for a loss that uses both outputs (so the attention weights' gradient is checked too).
 */
function outputsAndGradients(layer: tf.layers.Layer, x: tf.Tensor, m: tf.Tensor2D | null, ops: boolean): tf.Tensor[] {
  const before = process.env["ATTNC_NO_SEQUENCE_KERNELS"];
  if (ops) process.env["ATTNC_NO_SEQUENCE_KERNELS"] = "1";
  try {
    const vars = layer.trainableWeights.map((w) => w.read() as tf.Variable);
    let outs: tf.Tensor[] = [];
    const f = (xv: tf.Tensor) => {
      const [y, a] = layer.apply(xv, m ? { mask: m } : {}) as tf.Tensor[];
      tf.dispose(outs);
      outs = [tf.keep(y!.clone()), tf.keep(a!.clone())];
      const probe = (t: tf.Tensor, seed: number) => tf.sum(tf.mul(t, tf.randomNormal(t.shape, 0, 1, "float32", seed)));
      return tf.add(probe(y!, 21), probe(a!, 22)) as tf.Scalar;
    };
    const { grads } = tf.variableGrads(() => f(x), vars);
    const dx = tf.grad((xv: tf.Tensor) => f(xv))(x);
    return [...outs, dx, ...vars.map((v) => grads[v.name]!)];
  } finally {
    if (before === undefined) delete process.env["ATTNC_NO_SEQUENCE_KERNELS"];
    else process.env["ATTNC_NO_SEQUENCE_KERNELS"] = before;
  }
}

/** Runs a describe block's tests on the wasm module's kernels ("module") or their JavaScript loops (ATTNC_LSTM_KERNEL=js). */
function useKernelTier(kernel: "module" | "js"): void {
  const saved = process.env["ATTNC_LSTM_KERNEL"];
  beforeEach(() => {
    if (kernel === "js") process.env["ATTNC_LSTM_KERNEL"] = "js";
    else delete process.env["ATTNC_LSTM_KERNEL"];
  });
  afterEach(() => {
    if (saved === undefined) delete process.env["ATTNC_LSTM_KERNEL"];
    else process.env["ATTNC_LSTM_KERNEL"] = saved;
  });
}

// "module": the passes in attnc's wasm module (lstm.c's temporal_forward and _backward); "js": their JavaScript
// step loops (ATTNC_LSTM_KERNEL=js). The attention's units (3) are not a multiple of 4, the module's partial vectors.
describe.each([
  ["wasm", "module"],
  ["cpu", "module"],
  ["wasm", "js"],
  ["cpu", "js"],
] as const)("temporal input attention as whole-sequence kernels on %s, %s", (backend, kernel) => {
  beforeAll(async () => {
    await selectBackend(backend);
    registerLayers();
  });
  useKernelTier(kernel);

  it.each([
    ["sigmoid", false, "replace", "none", 3],
    ["sigmoid", true, "replace", "none", 3],
    ["hard_sigmoid", true, "replace", "none", 3],
    ["sigmoid", false, "concat", "offset", 3],
    ["sigmoid", true, "concat", "offset", 3],
    ["hard_sigmoid", true, "concat", "none", 3],
    ["sigmoid", true, "replace", "offset", 3],
    ["sigmoid", true, "concat", "offset", 8],
  ] as const)(
    "equals the op-based layer, outputs and every gradient (%s gates, masked %s, feed %s, position %s, attention units %s)",
    (act, masked, feed, position, units) => {
      const layer = new Lstm({ units: 4, inputAttention: { kind: "temporal", units, feed, position }, recurrentActivation: act, seed: 7 });
      const x = seq(8, 2);
      layer.apply(x);
      // b_a, W~ and p start at 0: random values, so that every term is exercised.
      layer.setWeights(layer.getWeights().map((w, i) => (i >= 5 && i !== 6 ? tf.randomNormal(w.shape, 0, 1, "float32", 10 + i) : w)));
      const m = masked ? mask() : null;
      const kernel = outputsAndGradients(layer, x, m, false);
      const ops = outputsAndGradients(layer, x, m, true);
      const names = ["h", "weights", "dx", ...layer.trainableWeights.map((w) => w.name)];
      kernel.forEach((k, i) => {
        const scale = Math.max(1, tf.max(tf.abs(ops[i]!)).dataSync()[0]!);
        expect(maxDiff(k, ops[i]!) / scale, names[i]).toBeLessThan(1e-5);
      });
    },
  );
});

// "module": the pooling in attnc's wasm module (attention_pool_forward and _backward); "js": its JavaScript loops.
describe.each([
  ["wasm", "module"],
  ["cpu", "module"],
  ["wasm", "js"],
  ["cpu", "js"],
] as const)("additive attention pooling as kernels on %s, %s", (backend, kernel) => {
  beforeAll(async () => {
    await selectBackend(backend);
    registerLayers();
  });
  useKernelTier(kernel);

  it("lets a NaN in the score vector through to the weights and the pooled vector, as the op tier does", () => {
    const layer = new AttentionPool({ units: 4, seed: 12 });
    const h = seq(13, 6);
    layer.apply(h);
    layer.setWeights(layer.getWeights().map((w, i) => (i === 2 ? tf.tensor1d([Number.NaN, 0.5, -0.5, 1]) : w)));
    for (const ops of [false, true]) {
      const [c, a] = outputsAndGradients(layer, h, null, ops);
      expect([ops, (c!.dataSync() as Float32Array).every(Number.isNaN), (a!.dataSync() as Float32Array).every(Number.isNaN)]).toEqual([ops, true, true]);
    }
  });

  // Units 4 and width 6: whole vectors and a partial one; units 3 and width 9: partial vectors only past 8.
  it.each([
    [false, 4, 6],
    [true, 4, 6],
    [true, 3, 9],
  ])("equals the op-based layer, outputs and every gradient (masked %s, units %s, width %s)", (masked, units, width) => {
    const layer = new AttentionPool({ units, seed: 12 });
    const h = seq(13, width);
    layer.apply(h);
    layer.setWeights(layer.getWeights().map((w, i) => (i === 1 ? tf.randomNormal([units], 0, 1, "float32", 14) : w)));
    const m = masked ? mask() : null;
    const kernel = outputsAndGradients(layer, h, m, false);
    const ops = outputsAndGradients(layer, h, m, true);
    const names = ["c", "weights", "dh", "W", "b", "v"];
    kernel.forEach((k, i) => {
      const scale = Math.max(1, tf.max(tf.abs(ops[i]!)).dataSync()[0]!);
      expect(maxDiff(k, ops[i]!) / scale, names[i]).toBeLessThan(1e-5);
    });
    if (m) expect((kernel[1]!.arraySync() as number[][])[2]!.slice(2)).toEqual([0, 0, 0, 0]);
  });
});
