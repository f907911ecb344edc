// npm run bench:kernels [-- --model text|forecaster] [-- --length T] [-- --steps N] [-- --backend wasm|cpu]
// Where one training step's time goes, kernel by kernel: the bench's text classifier (B=32, V=5000, E=64, H=64,
// A=64, T=50 by default) or its temporal-attention forecaster (B=64, T=24, F=4, H=64, A=32), trained on one thread
// as `attnc train --threads 1` trains (gradients, then Adam), every engine kernel timed by its own time (less the
// kernels it runs inside). Prints milliseconds per step and calls per step, largest first, and the step's wall time.
// ATTNC_LSTM_KERNEL=js or ATTNC_NO_FUSED_KERNELS=1 in the environment profile the other tiers.
import * as tf from "@tensorflow/tfjs";
import { selectBackend } from "../dist/runtime/backend.js";
import { registerKernels } from "../dist/runtime/kernels.js";
import { AttentionPool, BiLstm, Dense, Embedding, Lstm, Reduce, registerLayers } from "../dist/runtime/layers.js";
import { localGradients, makeOptimizer } from "../dist/runtime/train.js";

const args = process.argv.slice(2);
const flag = (name, d) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : d;
};
const kind = flag("--model", "text");
if (kind !== "text" && kind !== "forecaster") {
  console.error(`bench:kernels: --model takes text or forecaster, not "${kind}"`);
  process.exit(2);
}
const T = Number(flag("--length", kind === "text" ? "50" : "24"));
const steps = Number(flag("--steps", "40"));
if (!Number.isInteger(T) || T < 1 || !Number.isInteger(steps) || steps < 1) {
  console.error("bench:kernels: --length and --steps take positive whole numbers");
  process.exit(2);
}
registerLayers();
registerKernels();
const backend = await selectBackend(flag("--backend", "wasm"));

function model() {
  if (kind === "forecaster") {
    const x = tf.input({ shape: [T, 4], dtype: "float32" });
    let y = new Lstm({ units: 64, inputAttention: { kind: "temporal", units: 32 }, seed: 1 }).apply(x)[0];
    y = new Reduce({ mode: "last" }).apply(y);
    return tf.model({ inputs: x, outputs: new Dense({ units: 1, seed: 2 }).apply(y) });
  }
  const x = tf.input({ shape: [T], dtype: "int32" });
  let y = new Embedding({ vocab: 5000, dim: 64, maskZero: true, seed: 1 }).apply(x);
  y = new BiLstm({ units: 64, seed: 2 }).apply(y);
  y = new AttentionPool({ units: 64, seed: 3 }).apply(y)[0];
  return tf.model({ inputs: x, outputs: new Dense({ units: 2, activation: "softmax", seed: 4 }).apply(y) });
}

const B = kind === "text" ? 32 : 64;
const { x, y } = tf.tidy(() => {
  if (kind === "forecaster") return { x: tf.randomNormal([B, T, 4], 0, 1, "float32", 7), y: tf.randomNormal([B], 0, 1, "float32", 8) };
  const len = tf.randomUniform([B], Math.floor(T / 4), T + 1, "int32", 7);
  const ids = tf.randomUniform([B, T], 1, 5000, "int32", 8);
  return { x: tf.mul(ids, tf.less(tf.range(0, T).reshape([1, T]), len.reshape([B, 1])).toInt()), y: tf.randomUniform([B], 0, 2, "int32", 9) };
});
const m = model();
const vars = m.trainableWeights.map((w) => w.read());
const source = localGradients(m, vars, kind === "text" ? "cross_entropy" : "mse", kind === "text" ? "text" : "series");
const opt = makeOptimizer({ kind: "adam", lr: 1e-3 });
const step = async () => {
  const r = await source.compute(x, y);
  tf.tidy(() => opt.applyGradients(r.grads));
  tf.dispose(Object.values(r.grads));
};

// Every kernel's own time: a stack of the time its children took, subtracted from its total.
const engine = tf.engine();
const run = engine.runKernel.bind(engine);
const stats = new Map();
const stack = [];
let on = false;
engine.runKernel = (name, inputs, attrs) => {
  if (!on) return run(name, inputs, attrs);
  const t0 = performance.now();
  stack.push(0);
  try {
    return run(name, inputs, attrs);
  } finally {
    const dt = performance.now() - t0;
    const inner = stack.pop();
    if (stack.length > 0) stack[stack.length - 1] += dt;
    const s = stats.get(name) ?? { own: 0, calls: 0 };
    s.own += dt - inner;
    s.calls++;
    stats.set(name, s);
  }
};

for (let i = 0; i < 5; i++) await step();
on = true;
const t0 = performance.now();
for (let i = 0; i < steps; i++) await step();
const wall = (performance.now() - t0) / steps;
on = false;
const rows = [...stats].sort((a, b) => b[1].own - a[1].own);
const inKernels = rows.reduce((a, [, s]) => a + s.own, 0) / steps;
console.log(
  `${kind} T=${T} B=${B}, backend ${backend}, one thread: ${wall.toFixed(2)} ms a step (${((B * 1000) / wall).toFixed(0)} samples/s), ${inKernels.toFixed(2)} ms in kernels`,
);
console.log(`${"kernel".padEnd(28)} ${"ms/step".padStart(8)} ${"share".padStart(6)} ${"calls/step".padStart(10)}`);
for (const [name, s] of rows.filter(([, s]) => s.own / steps >= 0.01))
  console.log(
    `${name.padEnd(28)} ${(s.own / steps).toFixed(3).padStart(8)} ${`${((100 * s.own) / steps / wall).toFixed(1)}%`.padStart(6)} ${(s.calls / steps).toFixed(1).padStart(10)}`,
  );
