// The fused Adam step (train.ts' FusedAdam, kernels.ts' adamStep) against tfjs' own tf.train.adam: the same
// float32 values, moments and saved state bit for bit, step after step, on the wasm and cpu backends, in the
// wasm module's SIMD code and in its JavaScript loop; the same after a save and restore in the middle; tfjs'
// own step where the kernels are switched off.
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { selectBackend } from "../../src/runtime/backend.js";
import { lstmModule } from "../../src/runtime/lstm-module.js";
import { FusedAdam, makeOptimizer } from "../../src/runtime/train.js";

/** A seeded stream of float32 values spread over many magnitudes (and some exact zeros). */
function values(seed: number, n: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u = s / 2 ** 32;
    out[i] = i % 17 === 0 ? 0 : (u - 0.5) * 10 ** ((s % 9) - 5);
  }
  return out;
}

const SHAPES = [[3, 5], [64], [7, 1, 3], [1]];

/** Runs `steps` optimizer steps on fresh variables; returns every variable and optimizer weight after each. */
async function trajectory(make: () => tf.Optimizer, prefix: string, steps: number, restartAt = -1): Promise<Float32Array[][]> {
  const vars = SHAPES.map((shape, i) =>
    tf.tidy(() =>
      tf.variable(
        tf.tensor(
          values(
            10 + i,
            shape.reduce((a, b) => a * b, 1),
          ),
          shape,
        ),
        true,
        `${prefix}_v${i}`,
      ),
    ),
  );
  let opt = make();
  const seen: Float32Array[][] = [];
  for (let t = 0; t < steps; t++) {
    if (t === restartAt) {
      const saved = await opt.getWeights();
      const copy = saved.map((w) => ({ name: w.name, tensor: w.tensor.clone() }));
      tf.dispose(saved.filter((w) => w.name === "iter").map((w) => w.tensor));
      opt.dispose();
      opt = make();
      await opt.setWeights(copy);
    }
    const grads: tf.NamedTensorMap = {};
    // The last variable gets no gradient at odd steps: its moments must stay as they are.
    vars.forEach((v, i) => {
      if (i === vars.length - 1 && t % 2 === 1) return;
      grads[v.name] = tf.tensor(values(100 * t + i, v.size), v.shape);
    });
    opt.applyGradients(grads);
    tf.dispose(Object.values(grads));
    const weights = await opt.getWeights();
    seen.push([...vars.map((v) => v.dataSync() as Float32Array), ...weights.map((w) => w.tensor.dataSync() as Float32Array)]);
    tf.dispose(weights.filter((w) => w.name === "iter").map((w) => w.tensor));
  }
  tf.dispose(vars);
  opt.dispose();
  return seen;
}

/** The kernels one step of `opt` runs on a fresh variable (tf.profile's record). */
async function kernelsOfOneStep(opt: tf.Optimizer, name: string): Promise<string[]> {
  const v = tf.variable(tf.tensor(values(1, 8)), true, name);
  const g = tf.tensor(values(2, 8));
  const info = await tf.profile(() => opt.applyGradients({ [name]: g }));
  tf.dispose([v, g]);
  opt.dispose();
  return info.kernelNames;
}

const bits = (a: Float32Array[][]): number[][][] => a.map((step) => step.map((x) => Array.from(new Uint32Array(x.buffer, x.byteOffset, x.length))));

const savedKernel = process.env.ATTNC_LSTM_KERNEL;
afterAll(() => {
  if (savedKernel === undefined) delete process.env.ATTNC_LSTM_KERNEL;
  else process.env.ATTNC_LSTM_KERNEL = savedKernel;
});

// "module": the step in the wasm module's SIMD code; "js": its JavaScript loop (ATTNC_LSTM_KERNEL=js).
describe.each([
  ["wasm", "module"],
  ["cpu", "module"],
  ["wasm", "js"],
  ["cpu", "js"],
] as const)("fused Adam on %s, %s", (backend, kernel) => {
  beforeEach(() => {
    if (kernel === "js") process.env.ATTNC_LSTM_KERNEL = "js";
    else delete process.env.ATTNC_LSTM_KERNEL;
  });
  it("is the fused optimizer that makeOptimizer makes, and the kernels run on this backend", async () => {
    await selectBackend(backend);
    const opt = makeOptimizer({ kind: "adam", lr: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 });
    expect(opt).toBeInstanceOf(FusedAdam);
    expect(lstmModule() === null).toBe(kernel === "js");
    // On wasm without the module tfjs' own SIMD ops are faster than a JavaScript loop, and FusedAdam takes them.
    const fused = !(backend === "wasm" && kernel === "js");
    expect((await kernelsOfOneStep(opt, `made_${backend}`)).includes("AttncAdamStep")).toBe(fused);
  });

  it("leaves no tensors behind", async () => {
    await selectBackend(backend);
    let before = tf.memory().numTensors;
    await trajectory(() => new FusedAdam(1e-3, 0.9, 0.999, 1e-7), "leak", 3);
    const fused = tf.memory().numTensors - before;
    before = tf.memory().numTensors;
    await trajectory(() => tf.train.adam(1e-3, 0.9, 0.999, 1e-7), "leak2", 3);
    expect({ fused, stock: tf.memory().numTensors - before }).toEqual({ fused: 0, stock: 0 });
  });

  it.each([
    [1e-3, 0.9, 0.999, 1e-7],
    [0.05, 0.8, 0.95, 1e-3],
    [3e-4, 0.5, 0.9999, 1e-8],
  ])("equals tf.train.adam bit for bit over 6 steps (lr %s, beta1 %s, beta2 %s, epsilon %s)", async (lr, b1, b2, eps) => {
    await selectBackend(backend);
    const fused = await trajectory(() => new FusedAdam(lr, b1, b2, eps), "fused", 6);
    const stock = await trajectory(() => tf.train.adam(lr, b1, b2, eps), "stock", 6);
    expect(bits(fused)).toEqual(bits(stock));
    // The trajectory moved: a step that did nothing would also be equal.
    expect(Array.from(fused[5]![0]!)).not.toEqual(Array.from(values(10, 15)));
  });

  it("restored from its saved weights in the middle, continues as tf.train.adam does without the restart", async () => {
    await selectBackend(backend);
    const restarted = await trajectory(() => new FusedAdam(0.01, 0.9, 0.999, 1e-7), "restart", 5, 3);
    const stock = await trajectory(() => tf.train.adam(0.01, 0.9, 0.999, 1e-7), "stock2", 5);
    // tfjs' setWeights recomputes the running powers from the iteration count (in float32 pow), which may
    // differ from the running products in the last bit; the values agree to float32 rounding.
    for (let t = 0; t < 5; t++)
      for (let k = 0; k < SHAPES.length; k++)
        for (let j = 0; j < restarted[t]![k]!.length; j++) expect(restarted[t]![k]![j]!).toBeCloseTo(stock[t]![k]![j]!, 6);
    expect(bits(restarted.slice(0, 3))).toEqual(bits(stock.slice(0, 3)));
  });
});

describe("fused Adam without the kernels", () => {
  const saved = process.env.ATTNC_NO_FUSED_KERNELS;
  afterAll(() => {
    if (saved === undefined) delete process.env.ATTNC_NO_FUSED_KERNELS;
    else process.env.ATTNC_NO_FUSED_KERNELS = saved;
  });
  it("takes tfjs' own step with ATTNC_NO_FUSED_KERNELS=1", async () => {
    await selectBackend("wasm");
    process.env.ATTNC_NO_FUSED_KERNELS = "1";
    const kernels = await kernelsOfOneStep(new FusedAdam(1e-3, 0.9, 0.999, 1e-7), "off");
    expect(kernels).not.toContain("AttncAdamStep");
    expect(kernels).toContain("Sqrt");
  });
});
