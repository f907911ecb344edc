import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../../src/runtime/backend.js";
import { embeddingLookup, lstmCellStep, lstmSequence, type RecurrentActivation } from "../../src/runtime/ops.js";
import { sequenceKernelsAvailable } from "../../src/runtime/kernels.js";
import { naiveLstm } from "./reference.js";

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  expect(a.shape).toEqual(b.shape);
  return tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!;
}

const B = 3;
const T = 7;
const F = 5;
const H = 4;
/** Post-padded sequences of lengths 7, 4 and 1 (Keras masks with zeros at the end). */
const mask = () =>
  tf.tensor2d([
    [1, 1, 1, 1, 1, 1, 1],
    [1, 1, 1, 1, 0, 0, 0],
    [1, 0, 0, 0, 0, 0, 0],
  ]);

function weights(seed: number) {
  return {
    x: tf.randomNormal([B, T, F], 0, 1, "float32", seed) as tf.Tensor3D,
    W: tf.randomNormal([F, 4 * H], 0, 0.5, "float32", seed + 1) as tf.Tensor2D,
    U: tf.randomNormal([H, 4 * H], 0, 0.5, "float32", seed + 2) as tf.Tensor2D,
    b: tf.randomNormal([4 * H], 0, 0.5, "float32", seed + 3) as tf.Tensor1D,
  };
}

/** The LSTM stepped with the op-level cell, as the input-attention layers step it: z = x_t W + h U + b, then lstmCellStep. */
function steppedLstm(
  x: tf.Tensor3D,
  W: tf.Tensor2D,
  U: tf.Tensor2D,
  b: tf.Tensor1D,
  mask: tf.Tensor2D | null,
  reverse: boolean,
  act: RecurrentActivation,
): tf.Tensor3D {
  const [Bx, Tx, Fx] = x.shape;
  const Hx = U.shape[0];
  let h: tf.Tensor = tf.zeros([Bx, Hx]);
  let c: tf.Tensor = tf.zeros([Bx, Hx]);
  const outs: tf.Tensor[] = new Array<tf.Tensor>(Tx);
  for (let s = 0; s < Tx; s++) {
    const t = reverse ? Tx - 1 - s : s;
    const z = x.slice([0, t, 0], [Bx, 1, Fx]).reshape([Bx, Fx]).matMul(W).add(h.matMul(U)).add(b);
    [h, c] = lstmCellStep(z, h, c, mask ? mask.slice([0, t], [Bx, 1]) : null, act);
    outs[t] = h;
  }
  return tf.stack(outs, 1) as tf.Tensor3D;
}

type Seq = (x: tf.Tensor3D, W: tf.Tensor2D, U: tf.Tensor2D, b: tf.Tensor1D, m: tf.Tensor2D | null) => tf.Tensor3D;

/** The outputs of `fn` and the gradients of sum(fn(...) * R) with respect to x, W, U and b. */
function outputsAndGradients(fn: Seq, seed: number, m: tf.Tensor2D | null): tf.Tensor[] {
  const { x, W, U, b } = weights(seed);
  const R = tf.randomNormal([B, T, H], 0, 1, "float32", seed + 99);
  const loss = (xs: tf.Tensor, ws: tf.Tensor, us: tf.Tensor, bs: tf.Tensor) =>
    tf.sum(tf.mul(fn(xs as tf.Tensor3D, ws as tf.Tensor2D, us as tf.Tensor2D, bs as tf.Tensor1D, m), R));
  return [fn(x, W, U, b, m), ...tf.grads((a, c, d, e) => loss(a!, c!, d!, e!))([x, W, U, b])];
}

describe.each([
  ["wasm", false],
  ["cpu", false],
  ["wasm", true],
  ["cpu", true],
] as const)("lstm on %s (kernels switched off: %s)", (backend, switchedOff) => {
  beforeAll(async () => {
    await selectBackend(backend);
    if (switchedOff) process.env["ATTNC_NO_FUSED_KERNELS"] = "1";
    else delete process.env["ATTNC_NO_FUSED_KERNELS"];
    // The kernel tier runs on wasm and cpu; switched off, the op tier runs.
    expect(sequenceKernelsAvailable()).toBe(!switchedOff);
  });

  it.each([false, true])("lstm equals tfjs-layers' LSTM (masked: %s) within 1e-5", (masked) => {
    const { x, W, U, b } = weights(1);
    const layer = tf.layers.lstm({ units: H, returnSequences: true, recurrentActivation: "sigmoid" });
    layer.apply(x); // builds the layer
    layer.setWeights([W, U, b]);
    const m = masked ? mask() : null;
    const expected = layer.apply(x, m ? { mask: m.cast("bool") } : {}) as tf.Tensor;
    expect(maxDiff(lstmSequence(x, W, U, b, m), expected)).toBeLessThan(1e-5);
  });

  it.each([false, true])("bilstm (forward + reversed) equals tfjs-layers' Bidirectional concat (masked: %s) within 1e-5", (masked) => {
    const f = weights(10);
    const r = weights(20);
    const layer = tf.layers.bidirectional({
      layer: tf.layers.lstm({ units: H, returnSequences: true, recurrentActivation: "sigmoid" }) as tf.RNN,
      mergeMode: "concat",
    });
    layer.build([B, T, F]);
    layer.setWeights([f.W, f.U, f.b, r.W, r.U, r.b]);
    const m = masked ? mask() : null;
    const expected = layer.apply(f.x, m ? { mask: m.cast("bool") } : {}) as tf.Tensor;
    const ours = tf.concat([lstmSequence(f.x, f.W, f.U, f.b, m), lstmSequence(f.x, r.W, r.U, r.b, m, { reverse: true })], 2);
    expect(maxDiff(ours, expected)).toBeLessThan(1e-5);
  });

  it.each([
    [false, false, "sigmoid"],
    [true, false, "sigmoid"],
    [true, true, "sigmoid"],
    [true, true, "hard_sigmoid"],
  ] as const)(
    "gradients of the hand-written backward pass equal autodiff of the plain formulation (masked %s, reverse %s, %s gates)",
    (masked, reverse, act) => {
      const m = masked ? mask() : null;
      const ours = outputsAndGradients((xs, ws, us, bs, mm) => lstmSequence(xs, ws, us, bs, mm, { reverse, recurrentActivation: act }), 30, m);
      const plain = outputsAndGradients((xs, ws, us, bs, mm) => naiveLstm(xs, ws, us, bs, mm, reverse, act), 30, m);
      ours.forEach((g, k) => expect(maxDiff(g, plain[k]!), k === 0 ? "output" : `gradient ${k - 1}`).toBeLessThan(1e-5));
    },
  );

  it.each([
    [false, false, "sigmoid"],
    [true, true, "sigmoid"],
    [true, false, "hard_sigmoid"],
  ] as const)(
    "the op-level cell stepped as the input-attention layers step it equals the plain formulation, outputs and gradients (masked %s, reverse %s, %s gates)",
    (masked, reverse, act) => {
      const m = masked ? mask() : null;
      const ours = outputsAndGradients((xs, ws, us, bs, mm) => steppedLstm(xs, ws, us, bs, mm, reverse, act), 31, m);
      const plain = outputsAndGradients((xs, ws, us, bs, mm) => naiveLstm(xs, ws, us, bs, mm, reverse, act), 31, m);
      ours.forEach((g, k) => expect(maxDiff(g, plain[k]!), k === 0 ? "output" : `gradient ${k - 1}`).toBeLessThan(1e-5));
    },
  );

  it("hard_sigmoid gates match tfjs-layers' LSTM default", () => {
    const { x, W, U, b } = weights(40);
    const layer = tf.layers.lstm({ units: H, returnSequences: true, recurrentActivation: "hardSigmoid" });
    layer.apply(x);
    layer.setWeights([W, U, b]);
    expect(maxDiff(lstmSequence(x, W, U, b, null, { recurrentActivation: "hard_sigmoid" }), layer.apply(x) as tf.Tensor)).toBeLessThan(1e-5);
  });

  it("embedding lookup trains: its gradient sums the rows of repeated ids", () => {
    const table = tf.randomNormal([6, 3], 0, 1, "float32", 5) as tf.Tensor2D;
    const ids = tf.tensor2d(
      [
        [1, 2, 2],
        [5, 0, 1],
      ],
      [2, 3],
      "int32",
    );
    const out = embeddingLookup(table, ids);
    expect(out.shape).toEqual([2, 3, 3]);
    expect(maxDiff(out, tf.gather(table, ids))).toBe(0);
    const [g] = tf.grads((t) => tf.sum(embeddingLookup(t as tf.Tensor2D, ids)))([table]);
    expect(Array.from(g!.sum(1).dataSync())).toEqual([3, 6, 6, 0, 0, 3]);
  });

  it("embedding lookup refuses an id outside the table", () => {
    const table = tf.randomNormal([6, 3], 0, 1, "float32", 5) as tf.Tensor2D;
    const ids = tf.tensor2d([[1, 9]], [1, 2], "int32");
    // The kernel names the id; the op tier's gather refuses it with its own message.
    expect(() => embeddingLookup(table, ids)).toThrow(sequenceKernelsAvailable() ? "embedding id 9 is outside the table's 6 rows" : /9/);
  });
});

describe.each(["wasm", "cpu"] as const)("the LSTM's two tiers on %s", (backend) => {
  beforeAll(async () => {
    await selectBackend(backend);
    delete process.env["ATTNC_NO_FUSED_KERNELS"];
    delete process.env["ATTNC_NO_SEQUENCE_KERNELS"];
  });

  /** lstmSequence's outputs and gradients on the kernel tier, or with the kernels switched off, on the op tier. */
  function onTier(kernels: boolean, masked: boolean, reverse: boolean, act: RecurrentActivation): tf.Tensor[] {
    if (!kernels) process.env["ATTNC_NO_SEQUENCE_KERNELS"] = "1";
    try {
      expect(sequenceKernelsAvailable()).toBe(kernels);
      return outputsAndGradients((xs, ws, us, bs, mm) => lstmSequence(xs, ws, us, bs, mm, { reverse, recurrentActivation: act }), 50, masked ? mask() : null);
    } finally {
      delete process.env["ATTNC_NO_SEQUENCE_KERNELS"];
    }
  }

  it.each([
    [false, false, "sigmoid"],
    [true, true, "sigmoid"],
    [false, false, "hard_sigmoid"],
    [true, false, "hard_sigmoid"],
    [true, true, "hard_sigmoid"],
  ] as const)("the sequence kernel equals the op tier, outputs and every gradient (masked %s, reverse %s, %s gates)", (masked, reverse, act) => {
    const kernel = onTier(true, masked, reverse, act);
    const ops = onTier(false, masked, reverse, act);
    const names = ["output", "dx", "dW", "dU", "db"];
    kernel.forEach((k, i) => expect(maxDiff(k, ops[i]!), names[i]).toBeLessThan(1e-5));
  });
});
