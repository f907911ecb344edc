// npm run bench [-- --json] [-- --backend wasm|cpu] [-- --lengths 50,200] [-- --no-torch]
// Training speed, side by side in one run:
// - the text classifier (embedding -> bilstm -> attention_pool -> dense, B=32, V=5000, E=64, H=64, A=64) at
//   T=50 and T=200: the attnc model on 1 and on 2 threads (attnc train's default here: each batch split
//   with a worker thread), the same network from stock tfjs-layers layers (its embedding made trainable) on
//   the same backend, and PyTorch with 1 and 2 threads;
// - the temporal-input-attention forecaster (T=24, F=4, H=64, A=32, B=64): attnc and PyTorch.
// PyTorch runs where the interpreter named by ATTNC_BENCH_PYTHON (else .venv/bin/python, else python3) imports torch: the hand-written
// networks of bench/torch_bench.py, and the same networks as `attnc build --target pytorch` writes them, trained as
// the generated programs train (bench/torch_generated_bench.py).
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { emitPytorchProgram } from "../dist/codegen/pytorch.js";
import { compile } from "../dist/compile.js";
import * as tf from "@tensorflow/tfjs";
import { selectBackend } from "../dist/runtime/backend.js";
import { registerKernels } from "../dist/runtime/kernels.js";
import { AttentionPool, BiLstm, Dense, Embedding, Lstm, Reduce, registerLayers } from "../dist/runtime/layers.js";
import { DataParallel } from "../dist/runtime/parallel.js";
import { localGradients, makeOptimizer } from "../dist/runtime/train.js";

const args = process.argv.slice(2);
const flag = (name, d) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : d;
};
const json = args.includes("--json");
const backendChoice = flag("--backend", "wasm");
const lengths = flag("--lengths", "50,200").split(",").map(Number);
const B = 32,
  V = 5000,
  E = 64,
  H = 64,
  A = 64;

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

function forecaster() {
  const x = tf.input({ shape: [24, 4], dtype: "float32" });
  let y = new Lstm({ units: 64, inputAttention: { kind: "temporal", units: 32 }, seed: 1 }).apply(x)[0];
  y = new Reduce({ mode: "last" }).apply(y);
  y = new Dense({ units: 1, seed: 2 }).apply(y);
  return tf.model({ inputs: x, outputs: y });
}

/** PyTorch's samples/s by (model, T, threads), with its version and BLAS, or null where torch is missing. */
function torchRuns() {
  if (args.includes("--no-torch")) return null;
  const python = process.env.ATTNC_BENCH_PYTHON ?? (existsSync(".venv/bin/python") ? ".venv/bin/python" : "python3");
  const r = spawnSync(
    python,
    [new URL("torch_bench.py", import.meta.url).pathname, "--lengths", lengths.join(","), "--threads", "1,2", "--seconds", "8", "--forecaster"],
    { encoding: "utf8" },
  );
  if (r.status !== 0) {
    console.error(`(PyTorch not measured: ${python} could not run bench/torch_bench.py${r.stderr ? `: ${r.stderr.trim().split("\n").pop()}` : ""})`);
    return null;
  }
  const lines = r.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  const info = lines[0];
  const blas = /BLAS_INFO=(\S+)|LAPACK_INFO=(\S+)/.exec(info.config);
  return { version: info.torch, blas: blas ? (blas[1] ?? blas[2]).replace(/,$/, "") : "unknown", python, runs: lines.slice(1) };
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

/**
 * Samples per second of attnc's training step as `attnc train` runs it (gradients of the batch, from this
 * thread alone or split with a worker thread; Adam), after warm-up steps.
 */
async function measureAttnc(model, T, seconds, threads, data = batch(T), loss = "cross_entropy", kind = "text") {
  const { x, y } = data;
  const labels = kind === "text" ? tf.argMax(y, 1) : y.reshape([-1]);
  const opt = makeOptimizer({ kind: "adam", lr: 1e-3 });
  const vars = model.trainableWeights.map((w) => w.read());
  const source = threads === 2 ? DataParallel.start(model, vars, { backend, loss, kind }) : localGradients(model, vars, loss, kind);
  const step = async () => {
    const r = await source.compute(x, labels);
    tf.tidy(() => opt.applyGradients(r.grads));
    tf.dispose(Object.values(r.grads));
  };
  await step();
  await step();
  let n = 0;
  const t0 = performance.now();
  while (n < 3 || (performance.now() - t0) / 1000 < seconds) {
    await step();
    n++;
  }
  const dt = (performance.now() - t0) / 1000;
  await source.close?.();
  tf.dispose([x, y, labels]);
  return (n * x.shape[0]) / dt;
}

/** Samples per second of full training steps (forward, backward, Adam) of a stock model, after warm-up steps. */
function measure(model, T, seconds, data = batch(T), loss = tf.losses.softmaxCrossEntropy) {
  const { x, y } = data;
  const opt = tf.train.adam(1e-3);
  const vars = model.trainableWeights.map((w) => w.read());
  const step = () =>
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => loss(y, model.apply(x, { training: true })), vars);
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
  return (n * x.shape[0]) / dt;
}

/** The generated PyTorch programs' samples/s by (model, T, threads), or null where torch is missing. */
async function generatedRuns() {
  if (args.includes("--no-torch")) return null;
  const python = process.env.ATTNC_BENCH_PYTHON ?? (existsSync(".venv/bin/python") ? ".venv/bin/python" : "python3");
  const dir = mkdtempSync(join(tmpdir(), "attnc-bench-py-"));
  try {
    const specs = [
      ...lengths.map(
        (T) =>
          `model BenchText${T} {\n  input tokens: int[T = ${T}]\n  tokens -> embedding(${V}, ${E}, mask_zero: true) -> bilstm(${H}) -> attention_pool(${A}) -> dense(2, activation: softmax)\n}\n`,
      ),
      "model BenchForecast {\n  input w: float[T = 24, F = 4]\n  w -> lstm(64, input_attention: temporal(32, feed: replace, position: none)) -> last -> dense(1)\n}\n",
    ];
    for (const text of specs) {
      const r = await compile({ name: "bench.attn", text });
      if (!r.ok) throw new Error(`bench spec does not compile: ${r.diagnostics.map((d) => d.message).join("; ")}`);
      const ir = r.models[0];
      writeFileSync(join(dir, `${ir.model}.py`), emitPytorchProgram(ir, { specPath: "bench.attn", specHash: "-", dataPath: "-" }));
    }
    copyFileSync(new URL("../dist/attnc_runtime.py", import.meta.url), join(dir, "attnc_runtime.py"));
    const r = spawnSync(
      python,
      [
        new URL("torch_generated_bench.py", import.meta.url).pathname,
        "--programs",
        dir,
        "--lengths",
        lengths.join(","),
        "--threads",
        "1,2",
        "--seconds",
        "8",
        "--forecaster",
      ],
      { encoding: "utf8" },
    );
    if (r.status !== 0) {
      console.error(`(generated PyTorch programs not measured${r.stderr ? `: ${r.stderr.trim().split("\n").pop()}` : ""})`);
      return null;
    }
    return r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const torch = torchRuns();
const generated = await generatedRuns();
const generatedBest = (model, T) => {
  const rs = (generated ?? []).filter((r) => r.model === model && r.T === T);
  return rs.length === 0 ? null : rs.reduce((a, b) => (b.samples_per_s > a.samples_per_s ? b : a));
};
const best = (model, T) => {
  const rs = (torch?.runs ?? []).filter((r) => r.model === model && r.T === T);
  if (rs.length === 0) return null;
  return rs.reduce((a, b) => (b.samples_per_s > a.samples_per_s ? b : a));
};
const of = (model, T, threads) => torch?.runs.find((r) => r.model === model && r.T === T && r.threads === threads)?.samples_per_s ?? null;
const round = (v, d = 1) => (v === null ? null : Math.round(v * 10 ** d) / 10 ** d);
const torchFields = (model, T, ours) => {
  const b = best(model, T);
  return torch
    ? {
        torch_1_thread: of(model, T, 1),
        torch_2_threads: of(model, T, 2),
        torch_best_threads: b?.threads ?? null,
        ratio_vs_torch: b ? round(ours / b.samples_per_s, 3) : null,
        torch_version: torch.version,
        torch_blas: torch.blas,
      }
    : { ratio_vs_torch: null };
};
/** The hand-written text classifier with its padding masked by packed sequences, as the generated programs mask it. */
const packedFields = (T, g) => {
  const p = best("text-classifier-packed", T);
  return { torch_packed_samples_per_s: p?.samples_per_s ?? null, generated_vs_torch_packed: g && p ? round(g.samples_per_s / p.samples_per_s, 3) : null };
};
const generatedFields = (model, T) => {
  const g = generatedBest(model, T);
  const b = best(model, T);
  return {
    generated_torch_samples_per_s: g?.samples_per_s ?? null,
    generated_torch_threads: g?.threads ?? null,
    generated_vs_torch: g && b ? round(g.samples_per_s / b.samples_per_s, 3) : null,
    ...(model === "text-classifier" ? packedFields(T, g) : {}),
  };
};

const rows = [];
for (const T of lengths) {
  const one = await measureAttnc(attncModel(T), T, 8, 1);
  const ours = await measureAttnc(attncModel(T), T, 8, 2);
  const stock = measure(stockModel(T), T, 8);
  rows.push({
    model: "text-classifier",
    T,
    B,
    V,
    E,
    H,
    A,
    backend,
    threads: 2,
    samples_per_s: round(ours),
    samples_per_s_1_thread: round(one),
    stock_samples_per_s: round(stock),
    ratio_vs_stock: round(ours / stock, 2),
    ...torchFields("text-classifier", T, ours),
    ...generatedFields("text-classifier", T),
  });
}
{
  const data = () => tf.tidy(() => ({ x: tf.randomNormal([64, 24, 4], 0, 1, "float32", 3), y: tf.randomNormal([64, 1], 0, 1, "float32", 4) }));
  const one = await measureAttnc(forecaster(), 24, 8, 1, data(), "mse", "series");
  const ours = await measureAttnc(forecaster(), 24, 8, 2, data(), "mse", "series");
  rows.push({
    model: "temporal-forecaster",
    T: 24,
    B: 64,
    F: 4,
    H: 64,
    A: 32,
    backend,
    threads: 2,
    samples_per_s: round(ours),
    samples_per_s_1_thread: round(one),
    stock_samples_per_s: null,
    ratio_vs_stock: null,
    ...torchFields("temporal-forecaster", 24, ours),
    ...generatedFields("temporal-forecaster", 24),
  });
}
if (json) for (const r of rows) console.log(JSON.stringify(r));
else {
  console.log(`training samples/s, backend ${backend}; ${torch ? `PyTorch ${torch.version} (${torch.blas}) via ${torch.python}` : "PyTorch not measured"}`);
  console.log(
    "model                T    attnc 1 thr  attnc 2 thr  stock tfjs  attnc/stock  torch 1 thr  torch 2 thr  attnc/torch best  generated torch  generated/torch  torch packed  generated/packed",
  );
  const f = (v, w) => String(v ?? "-").padStart(w);
  for (const r of rows)
    console.log(
      `${r.model.padEnd(20)} ${String(r.T).padEnd(4)} ${f(r.samples_per_s_1_thread, 11)}  ${f(r.samples_per_s, 11)}  ${f(r.stock_samples_per_s, 10)}  ${f(r.ratio_vs_stock, 11)}  ${f(r.torch_1_thread, 11)}  ${f(r.torch_2_threads, 11)}  ${f(r.ratio_vs_torch, 16)}  ${f(r.generated_torch_samples_per_s, 15)}  ${f(r.generated_vs_torch, 15)}  ${f(r.torch_packed_samples_per_s ?? null, 12)}  ${f(r.generated_vs_torch_packed ?? null, 16)}`,
    );
  console.log(
    "attnc/stock and attnc/torch take attnc on 2 threads (as attnc train runs here), stock tfjs-layers on 1 (it has no other way), PyTorch at its best thread count; generated torch: the same networks from attnc build --target pytorch, at their best thread count; torch packed: the hand-written classifier with its padding masked by packed sequences (the torch column's runs both directions over the padding).",
  );
}
