// npm run bench [-- --json] [-- --backend wasm|cpu] [-- --steps N]
// Training speed of the text classifier (embedding -> bilstm -> attention_pool -> dense, B=32, V=5000, E=64,
// H=64, A=64) at T=50 and T=200: the attnc model against the same network built from stock tfjs-layers layers
// (its embedding made trainable), on the same backend in the same run. Prints samples/s and the ratio.
import * as tf from "@tensorflow/tfjs";
import { selectBackend } from "../dist/runtime/backend.js";
import { registerKernels } from "../dist/runtime/kernels.js";
import { AttentionPool, BiLstm, Dense, Embedding, registerLayers } from "../dist/runtime/layers.js";

const args = process.argv.slice(2);
const flag = (name, d) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : d;
};
const json = args.includes("--json");
const backendChoice = flag("--backend", "wasm");
const lengths = (flag("--lengths", "50,200")).split(",").map(Number);
const B = 32, V = 5000, E = 64, H = 64, A = 64;

registerLayers();
registerKernels();
const backend = await selectBackend(backendChoice);

if (backend === "wasm") {
  // Stock tf.layers.embedding's gradient needs UnsortedSegmentSum, which the wasm backend lacks;
  // this plain JavaScript kernel makes the stock network trainable for the comparison.
  tf.registerKernel({
    kernelName: "UnsortedSegmentSum",
    backendName: "wasm",
    kernelFunc: ({ inputs, attrs, backend: be }) => {
      const { x, segmentIds } = inputs;
      const xv = be.readSync(x.dataId);
      const ids = be.readSync(segmentIds.dataId);
      const inner = x.shape.slice(1).reduce((a, b) => a * b, 1);
      const out = be.makeOutput([attrs.numSegments, ...x.shape.slice(1)], "float32");
      const o = be.typedArrayFromHeap(out);
      o.fill(0);
      for (let i = 0; i < ids.length; i++) for (let j = 0; j < inner; j++) o[ids[i] * inner + j] += xv[i * inner + j];
      return out;
    },
  });
}

function attncModel(T) {
  const x = tf.input({ shape: [T], dtype: "int32" });
  let y = new Embedding({ vocab: V, dim: E, maskZero: true, seed: 1 }).apply(x);
  y = new BiLstm({ units: H, seed: 2 }).apply(y);
  y = new AttentionPool({ units: A, seed: 3 }).apply(y)[0];
  y = new Dense({ units: 2, activation: "softmax", seed: 4 }).apply(y);
  return tf.model({ inputs: x, outputs: y });
}

function stockModel(T) {
  const x = tf.input({ shape: [T], dtype: "int32" });
  let y = tf.layers.embedding({ inputDim: V, outputDim: E, maskZero: true }).apply(x);
  y = tf.layers.bidirectional({ layer: tf.layers.lstm({ units: H, returnSequences: true, recurrentActivation: "sigmoid" }), mergeMode: "concat" }).apply(y);
  // tfjs-layers has no attention pooling; both networks use the same one, so the comparison is of the rest.
  y = new AttentionPool({ units: A, seed: 3 }).apply(y)[0];
  y = tf.layers.dense({ units: 2, activation: "softmax" }).apply(y);
  return tf.model({ inputs: x, outputs: y });
}

function batch(T) {
  return tf.tidy(() => {
    const len = tf.randomUniform([B], Math.floor(T / 4), T + 1, "int32", 7);
    const ids = tf.randomUniform([B, T], 1, V, "int32", 8);
    const x = tf.mul(ids, tf.less(tf.range(0, T).reshape([1, T]), len.reshape([B, 1])).toInt());
    const y = tf.oneHot(tf.randomUniform([B], 0, 2, "int32", 9), 2).toFloat();
    return { x, y };
  });
}

/** Samples per second of full training steps (forward, backward, Adam), after warm-up steps. */
function measure(model, T, seconds) {
  const { x, y } = batch(T);
  const opt = tf.train.adam(1e-3);
  const vars = model.trainableWeights.map((w) => w.read());
  const step = () =>
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true })), vars);
      opt.applyGradients(grads);
      return value.dataSync()[0];
    });
  step();
  step();
  let n = 0;
  const t0 = performance.now();
  while (n < 3 || (performance.now() - t0) / 1000 < seconds) {
    step();
    n++;
  }
  const dt = (performance.now() - t0) / 1000;
  tf.dispose([x, y]);
  return (n * B) / dt;
}

const rows = [];
for (const T of lengths) {
  const ours = measure(attncModel(T), T, 8);
  const stock = measure(stockModel(T), T, 8);
  const row = { model: "text-classifier", T, B, V, E, H, A, backend, samples_per_s: Math.round(ours * 10) / 10, stock_samples_per_s: Math.round(stock * 10) / 10, ratio_vs_stock: Math.round((ours / stock) * 100) / 100 };
  rows.push(row);
  if (json) console.log(JSON.stringify(row));
}
if (!json) {
  console.log(`text classifier, B=${B} V=${V} E=${E} H=${H} A=${A}, backend ${backend}, training samples/s`);
  console.log("T     attnc     stock tfjs-layers   attnc/stock");
  for (const r of rows) console.log(`${String(r.T).padEnd(5)} ${String(r.samples_per_s).padStart(7)}   ${String(r.stock_samples_per_s).padStart(17)}   ${r.ratio_vs_stock.toFixed(2).padStart(10)}`);
}
